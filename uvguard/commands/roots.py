"""`uvguard roots`: where the live set looks, who named each place, what the scan found there;
`roots discover` registers environments made before uvguard was installed."""

from __future__ import annotations

import os
from collections.abc import Mapping

import typer

from uvguard import globalopts, messages
from uvguard.discover import MAX_DEPTH, discover
from uvguard.errors import UsageError
from uvguard.jsonout import emit_json
from uvguard.live_set import LiveSet
from uvguard.messages import plural
from uvguard.pipeline import location_pipeline
from uvguard.roots import Root, merge_roots, read_manual_roots, write_manual_roots


def roots_report(live: LiveSet, everything: bool = False) -> dict:
    """The roots that matter (all but those with no links into this cache), or with `everything` all."""
    shown = [env for env in live.environments if everything or env.state != "unlinked"]
    return {
        "cache_dir": live.cache_dir,
        "uncertain": live.uncertain,
        "uncertain_reasons": list(live.reasons),
        "roots": [{"path": env.path, "origins": list(env.origins), "state": env.state,
                   "live_entries": len(env.live_entries), "dangling_into_cache": len(env.dangling),
                   "reason": env.reason}
                  for env in shown],
        "not_shown": len(live.environments) - len(shown),
    }


_STATES = {"ok": "ok", "gone": "gone", "unreadable": "unreadable", "unlinked": "no links into this cache"}


def add_root(env: Mapping[str, str], path: str) -> str:
    """Add `path` (made absolute) to the manual roots; adding one twice keeps one."""
    path = os.path.abspath(path)
    paths = [root.path for root in merge_roots(Root(p, "manual") for p in [*read_manual_roots(env), path])]
    write_manual_roots(env, paths)
    return path


def remove_root(env: Mapping[str, str], path: str) -> str:
    path = os.path.abspath(path)
    paths = read_manual_roots(env)
    if path not in paths:
        raise UsageError(f"`{path}` is not a manual root", hint="`uvguard roots` lists them (origin: manual)")
    write_manual_roots(env, [p for p in paths if p != path])
    return path


def discover_roots(directories: list[str], dry_run: bool, env: Mapping[str, str], cwd: str) -> dict:
    """Find environments linking into a uv cache under `directories` and (unless `dry_run`)
    register each as a manual root, as `uvguard roots add` does."""
    found = discover(directories, cwd)
    known = set(read_manual_roots(env))
    environments = []
    for environment in found.found:
        already = environment.path in known
        if not dry_run and not already:
            add_root(env, environment.path)
        environments.append({"path": environment.path, "cache_dir": environment.cache_dir,
                             "registered": already or not dry_run, "already_registered": already})
    return {"dry_run": dry_run, "max_depth": MAX_DEPTH, "environments": environments,
            "skipped": [{"path": s.path, "reason": s.reason} for s in found.skipped]}


def _report_discovery(report: dict) -> None:
    for skipped in report["skipped"]:
        messages.warning(f"skipped `{skipped['path']}`: {skipped['reason']}")
    for environment in report["environments"]:
        if environment["already_registered"]:
            state = "already registered"
        else:
            state = "would register" if report["dry_run"] else "registered"
        typer.echo(f"{environment['path']}  {state}  (links into {environment['cache_dir']})")
    if not report["environments"]:
        typer.echo(f"no environments linking into a uv cache found (looked {report['max_depth']} directories deep)")


def register(app: typer.Typer) -> None:
    roots_app = typer.Typer(help="The environments the live set scans, and where each came from.",
                            invoke_without_command=True, no_args_is_help=False)

    @roots_app.callback()
    def roots(ctx: typer.Context,
              as_json: bool = typer.Option(False, "--json", help="Print the roots as JSON."),
              everything: bool = typer.Option(False, "--all", help="Also list the roots with no links into "
                                                                   "this cache.")) -> None:
        """List each root that links into the cache (or cannot be read), where it came from and its state.

        States: ok, gone, unreadable; with `--all` also the roots with no links into this cache.
        """
        if ctx.invoked_subcommand is not None:
            return
        pipeline = location_pipeline(globalopts.current().uv_args, dict(os.environ), os.getcwd())
        report = roots_report(pipeline.live_set, everything)
        if as_json:
            emit_json("roots", report)
            return
        typer.echo(f"cache: {report['cache_dir']}")
        for root in report["roots"]:
            detail = f", {root['live_entries']} live entries" if root["state"] == "ok" else ""
            typer.echo(f"{root['path']}  ({', '.join(root['origins'])})  {_STATES[root['state']]}{detail}")
        if report["not_shown"]:
            typer.echo(f"{plural(report['not_shown'], 'root', 'roots')} with no links into this cache not shown "
                       "(`uvguard roots --all` lists them)")
        for root in report["roots"]:
            if root["state"] == "unreadable":
                messages.warning(f"the live set is uncertain: {root['path']}: {root['reason']}")

    @roots_app.command("add")
    def add(path: str = typer.Argument(..., help="An environment to protect.")) -> None:
        """Add an environment uvguard cannot find by itself (a manual root)."""
        typer.echo(f"added {add_root(dict(os.environ), path)}")

    @roots_app.command("remove")
    def remove(path: str = typer.Argument(..., help="A manual root to forget.")) -> None:
        """Forget a manual root."""
        typer.echo(f"removed {remove_root(dict(os.environ), path)}")

    @roots_app.command("discover")
    def discover_command(
        directories: list[str] = typer.Argument(..., metavar="DIR", help="Directories to search."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List what would be registered; register nothing."),
        as_json: bool = typer.Option(False, "--json", help="Print what was found as JSON."),
    ) -> None:
        """Find environments under DIR... that link into a uv cache and register them as manual roots.

        For environments made before uvguard was installed, or with a bare uv. Looks at most
        4 directories deep, never follows a symlinked directory, notes directories it cannot read.
        """
        report = discover_roots(directories, dry_run, dict(os.environ), os.getcwd())
        if as_json:
            emit_json("roots-discover", report)
        else:
            _report_discovery(report)

    app.add_typer(roots_app, name="roots")
