"""`uvguard prune [--ci]` and `uvguard clean [PKG...]`: the limited operations, or with
`--dry-run` what they would remove and keep (uv itself has no dry run, astral-sh/uv#21374).

They accept uv's global options (`--cache-dir`, `--no-config`, `-q`...) and
read them as uv would, through the same pipeline as the shim: effective
config, policy roots, live set. Without `--dry-run` the live entries are kept
whatever the policy says; an uncertain live set refuses, since we cannot say
what to keep.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import typer

from uvguard import globalopts
from uvguard.errors import Refused, UsageError
from uvguard.invocation import CLEAN, CLEAN_PACKAGES, PRUNE, PRUNE_CI, parse
from uvguard.jsonout import emit_json
from uvguard.limited import run_limited
from uvguard.messages import human_readable_bytes, plural
from uvguard.progress import phase
from uvguard.prune_plan import Plan, protected_entries
from uvguard.sizes import counts_blocks, measure

_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
_UV_ARGS_HELP = "uv's global options (`--cache-dir DIR`, `--no-config`, `-q`...)"


def register(app: typer.Typer) -> None:
    @app.command(context_settings=_SETTINGS)
    def prune(
        ci: bool = typer.Option(False, "--ci", help="Also remove unzipped wheels, as `uv cache prune --ci`."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed and kept."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
        uv_args: list[str] = typer.Argument(None, metavar="[UV-OPTIONS]", help=_UV_ARGS_HELP),
    ) -> None:
        """Prune the cache like `uv cache prune`, keeping every entry a known environment links into."""
        _run(["cache", "prune", *(["--ci"] if ci else []), *globalopts.current().uv_args, *(uv_args or [])],
             dry_run, as_json)

    @app.command(context_settings=_SETTINGS)
    def clean(
        dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed and kept."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
        uv_args: list[str] = typer.Argument(None, metavar="[PKG|UV-OPTIONS]", help="Packages, and " + _UV_ARGS_HELP),
    ) -> None:
        """Clean the cache (or the given packages) like `uv cache clean`, keeping live entries."""
        _run(["cache", "clean", *globalopts.current().uv_args, *(uv_args or [])], dry_run, as_json)


def _run(uv_args: list[str], dry_run: bool, as_json: bool) -> None:
    result = limited_command(uv_args, dry_run, dict(os.environ), os.getcwd())
    if as_json:
        emit_json("cache-operation", result)
    elif dry_run:
        typer.echo(render_dry_run(result))
    raise typer.Exit(result["exit_code"])


def limited_command(uv_args: list[str], dry_run: bool, env: Mapping[str, str], cwd: str) -> dict:
    """Run (or with `dry_run` only describe) the limited `uv UV_ARGS...`; a JSON-ready result."""
    from uvguard.guard import evaluate
    from uvguard.pipeline import Pipeline
    from uvguard.realuv import find_real_uv, uv_version

    real_uv = find_real_uv(env, shim=None)
    version = uv_version(real_uv, env)
    invocation = parse(uv_args, version)
    if invocation.operation not in (PRUNE, PRUNE_CI, CLEAN, CLEAN_PACKAGES) or invocation.help:
        raise UsageError(f"`uv {' '.join(uv_args)}` is not a command line uv would accept",
                         hint="run `uv " + " ".join(uv_args[:2]) + " --help` for uv's options")
    pipeline = Pipeline(invocation, env, cwd, real_uv, version)
    evaluation = evaluate(pipeline, ask_uv=True)  # acts whatever the decision
    config, live = evaluation.config, evaluation.live_set
    entries = live.entries if live is not None else {}
    if dry_run:
        plan = pipeline.plan  # the decision's own plan when something is live: uv runs on a skeleton once
        physical = plan.remove != () and counts_blocks(plan.cache_dir, invocation, real_uv, env)
        with phase("Measuring"):
            return dry_run_report(plan, entries, physical)
    if live is not None and live.uncertain:
        raise Refused("the live set is uncertain, so uvguard cannot tell what to keep: " + "; ".join(live.reasons),
                      hint="fix or unregister the roots above (`uvguard roots`), or run uv itself")
    result = run_limited(invocation, config, real_uv, env, entries, pipeline.voice,
                         rescan=pipeline.rescan_live_entries, previous=evaluation.plan)
    return operation_report(
        result.operation, result.cache_dir, False, result.physical, list(zip(result.removed, result.removed_bytes)),
        [(entry, size, list(entries.get(entry, ()))) for entry, size in zip(result.kept, result.kept_bytes)],
        result.num_files, result.num_dirs, result.exit_code)


def operation_report(operation: str, cache_dir: str | os.PathLike[str], dry_run: bool, physical: bool,
                     removed: Sequence[tuple[str, int]], kept: Sequence[tuple[str, int, list[str]]],
                     files: int, directories: int, exit_code: int) -> dict:
    """The one JSON shape of a limited operation, run or dry run (`cache-operation.schema.json`)."""
    return {
        "operation": operation,
        "cache_dir": str(cache_dir),
        "dry_run": dry_run,
        "size_accounting": "physical" if physical else "logical",
        "removed": [{"path": path, "bytes": size} for path, size in removed],
        "kept": [{"path": path, "bytes": size, "environments": users} for path, size, users in kept],
        "environments": sorted({user for _, _, users in kept for user in users}),
        "removed_bytes": sum(size for _, size in removed),
        "kept_bytes": sum(size for _, size, _ in kept),
        "files": files,
        "directories": directories,
        "exit_code": exit_code,
    }


def dry_run_report(plan: Plan, entries: Mapping[str, tuple[str, ...]], physical: bool) -> dict:
    """What would be removed and which live entries would be kept (and for whom), sized as the run counts.

    A removed path holding live entries (a whole bucket) is sized without them.
    """
    kept = protected_entries(plan, entries)
    kept_sizes = {entry: measure(plan.cache_dir / entry, physical) for entry in kept}
    removed, files, directories = [], 0, 0
    for path in plan.remove:
        if path in kept:
            continue
        size = measure(plan.cache_dir / path, physical)
        inside = [kept_sizes[entry] for entry in kept if entry.startswith(path + "/")]
        removed.append((path, size.bytes - sum(k.bytes for k in inside)))
        files += size.files - sum(k.files for k in inside)
        directories += size.directories - sum(k.directories for k in inside)
    return operation_report(plan.operation, plan.cache_dir, True, physical, removed,
                            [(entry, kept_sizes[entry].bytes, list(entries[entry])) for entry in kept],
                            files, directories, 0)


def render_dry_run(report_: dict) -> str:
    lines = [f"Cache: {report_['cache_dir']} (`{report_['operation']}`, dry run: nothing is removed)"]
    kept = [item["path"] for item in report_["kept"]]
    if report_["removed"]:
        lines.append("Would remove:")
        for item in report_["removed"]:
            inside = sum(entry.startswith(item["path"] + "/") for entry in kept)
            note = f" (all but {plural(inside, 'live entry', 'live entries')}, below)" if inside else ""
            lines.append(f"  {item['path']}  {human_readable_bytes(item['bytes'])}{note}")
    else:
        lines.append("Would remove nothing")
    if report_["kept"]:
        lines.append("Would keep (live):")
        for item in report_["kept"]:
            lines.append(f"  {item['path']}  {human_readable_bytes(item['bytes'])}  used by "
                         + ", ".join(item["environments"]))
    freed = f"{human_readable_bytes(report_['removed_bytes'])} would be freed"
    if report_["kept"]:
        freed += (f"; kept {plural(len(report_['kept']), 'entry', 'entries')} "
                  f"({human_readable_bytes(report_['kept_bytes'])}) used by "
                  f"{plural(len(report_['environments']), 'environment', 'environments')}")
    lines.append(freed)
    return "\n".join(lines)
