"""`uvguard prune [--ci]` and `uvguard clean [PKG...]`: the limited operations, or with
`--dry-run` what they would remove and keep (uv itself has no dry run, astral-sh/uv#21374).

They accept uv's global options (`--cache-dir`, `--no-config`, `-q`...) and
read them as uv would, through the same pipeline as the shim: effective
config, policy roots, live set. Without `--dry-run` the live entries are kept
whatever the policy says; an uncertain live set refuses, since we cannot say
what to keep.
"""

from __future__ import annotations

import json
import os
from typing import List, Mapping

import typer

from uvguard.errors import Refused, UsageError, UvguardError, report
from uvguard.invocation import CLEAN, CLEAN_PACKAGES, PRUNE, PRUNE_CI, parse
from uvguard.limited import run_limited
from uvguard.messages import human_readable_bytes, plural
from uvguard.prune_plan import Plan, measure, protected_entries, removal_plan

_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
_UV_ARGS_HELP = "uv's global options (`--cache-dir DIR`, `--no-config`, `-q`...)"


def register(app: typer.Typer) -> None:
    @app.command(context_settings=_SETTINGS)
    def prune(
        ci: bool = typer.Option(False, "--ci", help="Also remove unzipped wheels, as `uv cache prune --ci`."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed and kept."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
        uv_args: List[str] = typer.Argument(None, metavar="[UV-OPTIONS]...", help=_UV_ARGS_HELP),
    ) -> None:
        """Prune the cache like `uv cache prune`, keeping every entry a known environment links into."""
        _run(["cache", "prune", *(["--ci"] if ci else []), *(uv_args or [])], dry_run, as_json)

    @app.command(context_settings=_SETTINGS)
    def clean(
        dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed and kept."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
        uv_args: List[str] = typer.Argument(None, metavar="[PKG|UV-OPTIONS]...", help="Packages, and " + _UV_ARGS_HELP),
    ) -> None:
        """Clean the cache (or the given packages) like `uv cache clean`, keeping live entries."""
        _run(["cache", "clean", *(uv_args or [])], dry_run, as_json)


def _run(uv_args: list[str], dry_run: bool, as_json: bool) -> None:
    try:
        result = limited_command(uv_args, dry_run, dict(os.environ), os.getcwd())
    except UvguardError as error:
        raise typer.Exit(report(error)) from None
    if dry_run:
        typer.echo(json.dumps(result, indent=2) if as_json else render_dry_run(result))
    elif as_json:
        typer.echo(json.dumps(result, indent=2))
    raise typer.Exit(result.get("exit_code", 0))


def limited_command(uv_args: list[str], dry_run: bool, env: Mapping[str, str], cwd: str) -> dict:
    """Run (or with `dry_run` only describe) the limited `uv UV_ARGS...`; a JSON-ready result."""
    from uvguard.guard import evaluate, live_entries_again, voice_for
    from uvguard.realuv import find_real_uv, uv_version

    real_uv = find_real_uv(env, shim=None)
    version = uv_version(real_uv, env)
    invocation = parse(uv_args, version)
    if invocation.operation not in (PRUNE, PRUNE_CI, CLEAN, CLEAN_PACKAGES) or invocation.help:
        raise UsageError(f"`uv {' '.join(uv_args)}` is not a command line uv would accept",
                         hint="run `uv " + " ".join(uv_args[:2]) + " --help` for uv's options")
    evaluation = evaluate(invocation, real_uv, env, cwd, version, ask_uv=True)  # acts whatever the decision
    config, live = evaluation.config, evaluation.live_set
    entries = live.entries if live is not None else {}
    if dry_run:
        return dry_run_report(measure(removal_plan(invocation, config, real_uv, env)), entries)
    if live is not None and live.uncertain:
        raise Refused("the live set is uncertain, so uvguard cannot tell what to keep: " + "; ".join(live.reasons),
                      hint="fix or unregister the roots above (`uvguard roots`), or run uv itself")
    result = run_limited(invocation, config, real_uv, env, entries, voice_for(invocation, env),
                         rescan=live_entries_again(evaluation, env, cwd))
    return {"operation": result.operation, "cache_dir": str(result.cache_dir), "removed": list(result.removed),
            "kept": list(result.kept), "environments": list(result.environments), "files": result.num_files,
            "directories": result.num_dirs, "bytes": result.bytes, "exit_code": result.exit_code}


def dry_run_report(plan: Plan, entries: Mapping[str, tuple[str, ...]]) -> dict:
    """What would be removed (with sizes) and which live entries would be kept (and for whom)."""
    kept = protected_entries(plan, entries)
    kept_sizes = measure(Plan(plan.operation, plan.cache_dir, kept)).sizes
    return {
        "operation": plan.operation,
        "cache_dir": str(plan.cache_dir),
        "remove": [{"path": path, "bytes": plan.sizes[path], "keeps_live_entries": any(
            k.startswith(path + "/") for k in kept)} for path in plan.remove if path not in kept],
        "keep": [{"path": entry, "bytes": kept_sizes[entry], "environments": list(entries[entry])}
                 for entry in kept],
        "bytes_removed": sum(plan.sizes.values()) - sum(kept_sizes.values()),
        "bytes_kept": sum(kept_sizes.values()),
    }


def render_dry_run(report_: dict) -> str:
    lines = [f"Cache: {report_['cache_dir']} (`{report_['operation']}`, dry run: nothing is removed)"]
    if report_["remove"]:
        lines.append("Would remove:")
        for item in report_["remove"]:
            note = " (except the live entries below)" if item["keeps_live_entries"] else ""
            lines.append(f"  {item['path']}  {human_readable_bytes(item['bytes'])}{note}")
    else:
        lines.append("Would remove nothing")
    if report_["keep"]:
        lines.append("Would keep (live):")
        for item in report_["keep"]:
            lines.append(f"  {item['path']}  {human_readable_bytes(item['bytes'])}  used by "
                         + ", ".join(item["environments"]))
    environments = {env for item in report_["keep"] for env in item["environments"]}
    lines.append(f"{human_readable_bytes(report_['bytes_removed'])} would be freed; kept "
                 f"{plural(len(report_['keep']), 'entry', 'entries')} ({human_readable_bytes(report_['bytes_kept'])}) "
                 f"used by {plural(len(environments), 'environment', 'environments')}")
    return "\n".join(lines)

