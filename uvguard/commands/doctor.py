"""`uvguard doctor`, `repair` and `materialize`: heal environments an unguarded prune broke."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional

import typer
from typer.core import TyperCommand

from uvguard import globalopts, messages
from uvguard.doctor import Diagnosis, as_json, diagnose, open_environment
from uvguard.errors import EXIT_OK, EXIT_PROBLEM, PolicyError, RealUvNotFound, UsageError
from uvguard.installcheck import check_installation
from uvguard.jsonout import emit_json
from uvguard.materialize import Materialized, materialize_environment
from uvguard.messages import human_readable_bytes, plural
from uvguard.pipeline import Pipeline, location_pipeline
from uvguard.realuv import find_real_uv
from uvguard.repair import Repair, check_link_mode, repair_environment

UV_ARGS = "uvguard.uv_args"


class _SplitAtDoubleDash(TyperCommand):
    """Keeps what follows `--` apart from ENV..., for `repair`'s uv arguments."""

    def parse_args(self, ctx, args):
        if "--" in args:
            at = args.index("--")
            args, ctx.meta[UV_ARGS] = args[:at], args[at + 1:]
        return super().parse_args(ctx, args)


def _environments(paths: list[str] | None, pipeline: Pipeline) -> tuple[list[str], list[str]]:
    """The environments named, or (none named) every root of the live set that holds one.

    Also the roots that are links to an environment that is gone (a `.venv`
    linking into `environments-v2`, which prune empties): broken, beyond repair.
    """
    cwd = pipeline.cwd
    if paths:
        return [open_environment(path, cwd) for path in paths], []
    found, gone = [], []
    for root in pipeline.roots:
        if os.path.islink(root.path) and not os.path.exists(root.path):
            gone.append(f"`{root.path}` ({', '.join(root.origins)}) links to `{os.readlink(root.path)}`, "
                        "which no longer exists")
        elif os.path.isfile(os.path.join(root.path, "pyvenv.cfg")):
            found.append(open_environment(root.path, cwd))
    if not found and not gone:
        messages.warning("no environments known: name one (`uvguard doctor .venv`) or register them "
                         "(`uvguard roots discover DIR`, `uvguard roots add PATH`)")
    for text in gone:
        messages.error(text, hint="recreate the environment (`uv sync`, `uv venv`)")
    return found, gone


def _pipeline(env: Mapping[str, str], cwd: str) -> Pipeline:
    """The shim's pipeline for the `uv cache prune` uvguard's global options describe."""
    return location_pipeline(globalopts.current().uv_args, env, cwd)


def _describe(diagnosis: Diagnosis) -> list[str]:
    distributions = plural(diagnosis.distributions, 'distribution', 'distributions')
    if diagnosis.healthy:
        return [f"{diagnosis.path}: healthy ({distributions})"]
    caches = ", ".join(f"`{cache}`" for cache in diagnosis.caches)
    lines = [f"{diagnosis.path}: {len(diagnosis.broken)} of {distributions} "
             f"broken ({plural(diagnosis.into_cache, 'dangling link', 'dangling links')} into the uv cache"
             + (f" {caches})" if caches else ")")]
    for broken in diagnosis.broken:
        dist = broken.distribution
        editable = " (editable)" if dist.editable else ""
        missing = plural(len(broken.missing), 'missing file', 'missing files')
        lines.append(f"  {dist.name} {dist.version}{editable}: {missing}")
    if diagnosis.unowned:
        lines.append(f"  {plural(len(diagnosis.unowned), 'dangling link', 'dangling links')} no distribution owns "
                     f"(recreate the environment): {', '.join(diagnosis.unowned)}")
    return lines


def run_doctor(paths: list[str] | None, as_json_output: bool, env: Mapping[str, str], cwd: str) -> int:
    """With no ENV named, the guard itself is checked first (uvguard/installcheck.py)."""
    pipeline = _pipeline(env, cwd)
    findings = [] if paths else check_installation(env, lambda: pipeline.policy)
    cache_dir = pipeline.config.cache_dir
    try:
        environments, gone = _environments(paths, pipeline)
    except PolicyError:
        if all(finding.ok for finding in findings):
            raise
        environments, gone = [], []  # the roots come from the policy, whose finding says what is wrong
    diagnoses = [diagnose(path, cache_dir) for path in environments]
    healthy = not gone and all(d.healthy for d in diagnoses) and all(f.ok for f in findings)
    if as_json_output:
        emit_json("doctor", {"healthy": healthy, "installation": [f.to_json() for f in findings],
                             "environments": [as_json(d) for d in diagnoses], "gone": gone})
    else:
        for finding in findings:
            typer.echo(finding.line())
        for diagnosis in diagnoses:
            typer.echo("\n".join(_describe(diagnosis)))
        broken = [d.path for d in diagnoses if d.broken]
        if broken:
            typer.echo(f"hint: reinstall the broken distributions with `uvguard repair {' '.join(broken)}`", err=True)
    return EXIT_OK if healthy else EXIT_PROBLEM


def _report_repair(repair: Repair) -> None:
    if repair.uv_exit:
        messages.error(f"uv exited with status {repair.uv_exit} while reinstalling into {repair.before.path}")
    elif repair.uv_exit == 0:
        names = ", ".join(f"{b.distribution.name} {b.distribution.version}" for b in repair.before.broken)
        typer.echo(f"{repair.before.path}: reinstalled {names}")
    typer.echo("\n".join(_describe(repair.after)))


def _real_uv_for_repair(env: Mapping[str, str]) -> str:
    """The real uv, where a missing one is bad input to `repair` (exit 2, as issue 7 has it);
    only the shim answers a missing uv with 127, like a shell's "command not found"."""
    try:
        return find_real_uv(env, shim=None)
    except RealUvNotFound as error:
        raise UsageError(error.message, hint=error.hint) from None


def run_repair(paths: list[str] | None, link_mode: str | None, uv_args: list[str], env: Mapping[str, str],
               cwd: str) -> int:
    check_link_mode(link_mode)
    pipeline = _pipeline(env, cwd)
    environments, gone = _environments(paths, pipeline)
    real_uv = _real_uv_for_repair(env)
    config = pipeline.config
    if link_mode is None and config.pip_link_mode == "symlink":
        source = config.pip_link_mode_source.describe()
        messages.warning(f"reinstalling with link-mode = symlink (from {source}): the next "
                         "unguarded prune breaks these again; `--link-mode copy` or `uvguard materialize` avoid it")
    repairs = []
    for path in environments:
        repair = repair_environment(path, config.cache_dir, real_uv, link_mode, uv_args, env, cwd)
        _report_repair(repair)
        repairs.append(repair)
    return EXIT_OK if not gone and all(r.after.healthy for r in repairs) else EXIT_PROBLEM


def _report_materialized(result: Materialized) -> None:
    copied = result.files - result.hardlinked
    files = plural(result.files, 'file', 'files')
    typer.echo(f"{result.path}: materialized {files} ({human_readable_bytes(result.bytes)} "
               f"now held by the environment; {plural(result.hardlinked, 'hard link', 'hard links')}, {copied} copied)")
    if result.failed:
        messages.error(f"left {len(result.failed)} links into the cache in place: {', '.join(result.failed)}")
    if result.dangling:
        messages.error(f"{len(result.dangling)} links into the cache already dangle in {result.path} "
                       "and cannot be materialized",
                       hint=f"reinstall them with `uvguard repair {result.path}`, then materialize again")


def run_materialize(paths: list[str] | None, env: Mapping[str, str], cwd: str) -> int:
    if not paths:
        raise UsageError("name at least one environment to materialize", hint="e.g. `uvguard materialize .venv`")
    cache_dir = _pipeline(env, cwd).config.cache_dir
    results = [materialize_environment(open_environment(path, cwd), cache_dir) for path in paths]
    for result in results:
        _report_materialized(result)
    return EXIT_OK if not any(r.dangling or r.failed for r in results) else EXIT_PROBLEM


def register(app: typer.Typer) -> None:
    envs_help = "Environment directories (e.g. `.venv`)."

    @app.command()
    def doctor(
        envs: Optional[list[str]] = typer.Argument(None, metavar="ENV...", help=envs_help),
        as_json_output: bool = typer.Option(False, "--json", help="Print the diagnosis as JSON."),
    ) -> None:
        """Check the guard and the environments. Exit 1 on any problem.

        With no ENV, first checks the installation (`uv` on PATH is the shim, the real uv runs, a takeover
        is intact, the registry and policy are readable), then every environment the live set knows
        (`uvguard roots`). Each ENV named: distributions whose files dangle into the uv cache.
        """
        raise typer.Exit(run_doctor(envs, as_json_output, os.environ, os.getcwd()))

    @app.command(cls=_SplitAtDoubleDash)
    def repair(
        ctx: typer.Context,
        envs: Optional[list[str]] = typer.Argument(None, metavar="[ENV]... [-- UV-PIP-ARGS]", help=envs_help),
        link_mode: Optional[str] = typer.Option(None, "--link-mode", metavar="MODE",
                                                help="Link mode for the reinstall: clone, copy, hardlink or symlink."),
    ) -> None:
        """Reinstall every broken distribution at its installed version, one uv call per environment.

        Arguments after `--` go to `uv pip install` (`--no-index`, `--find-links DIR`, `--offline`, ...).
        """
        uv_args = ctx.meta.get(UV_ARGS, [])
        raise typer.Exit(run_repair(envs, link_mode, uv_args, os.environ, os.getcwd()))

    @app.command()
    def materialize(
        envs: Optional[list[str]] = typer.Argument(None, metavar="ENV...", help=envs_help),
    ) -> None:
        """Replace links into the uv cache by hard links or copies, so the environment outlives the cache."""
        raise typer.Exit(run_materialize(envs, os.environ, os.getcwd()))
