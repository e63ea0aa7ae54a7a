"""`uvguard check`: what the shim would decide for a uv command line, without acting.

The same pipeline as the shim's guarded path (`pipeline.Pipeline`, read by
`guard.evaluate`): the effective config, the layered policy, the live set and
what the operation would remove. Exit 0 whatever the decision; 2 for a bad config or policy,
exactly where the shim would stop too; where the real uv itself refuses the
line, uv's own error and exit code (the shim relays the same), never a
decision about a configuration uv would not use.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING

import typer

from uvguard import globalopts
from uvguard.decision import Decision
from uvguard.errors import UsageError
from uvguard.invocation import CACHE_OPERATIONS, Invocation, parse
from uvguard.jsonout import emit_json
from uvguard.realuv import find_real_uv, uv_version

if TYPE_CHECKING:
    from uvguard.uvconfig import EffectiveConfig

UV_LINE_HELP = "A uv command line, without `uv` (after uvguard's options, or after `--`)."


def register(app: typer.Typer) -> None:
    @app.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
    def check(
        json_output: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
        uv_args: list[str] = typer.Argument(None, metavar="UV-ARGS", help=UV_LINE_HELP),
    ) -> None:
        """Show the decision for a uv command line, without running it.

        uvguard's options come first; the uv command line starts at the first
        argument that is not one of them (a uv global option such as
        `--no-cache`, or a subcommand such as `cache`), or after `--`.
        uvguard's global options (`--cache-dir`...) apply to the uv command line too.
        """
        uv_line = [*globalopts.current().uv_args, *(uv_args or [])]
        decision, config = check_command_line(uv_line, dict(os.environ), os.getcwd())
        cache_dir = str(config.cache_dir) if config else None
        if json_output:
            emit_json("check", {**decision.to_json(), "cache_dir": cache_dir,
                                "config_sources": config.sources_json() if config else None})
        else:
            typer.echo(render(decision, cache_dir))


def check_command_line(uv_args: list[str], env: Mapping[str, str],
                       cwd: str) -> tuple[Decision, EffectiveConfig | None]:
    """The decision for `uv UV_ARGS...`, and the uv config it is about (None for passthrough).

    Raises UvRefused where the real uv refuses a line naming a cache operation.
    """
    invocation = parse(uv_args)
    if invocation.names_cache_operation:
        from uvguard.guard import evaluate
        from uvguard.pipeline import Pipeline
        from uvguard.uvrefusal import refusal

        real_uv = find_real_uv(env, shim=None)
        version = uv_version(real_uv, env)
        invocation = parse(uv_args, version)
        if invocation.intercepted:
            evaluation = evaluate(Pipeline(invocation, env, cwd, real_uv, version), ask_uv=True)
            return evaluation.decision, evaluation.config
        refused = refusal(invocation, real_uv, env, cwd)  # a line the parser rejects: uv's own words
        if refused is not None:
            raise refused
        _accepted(invocation)  # uv accepts what uvguard's parser rejects: no verdict rather than a wrong one
    if invocation.help or invocation.option("show-settings"):
        reason = "only prints help" if invocation.help else "only prints uv's settings"
    else:
        reason = "not a cache-mutating command"
    return Decision(invocation.operation, "allow", f"{reason}: uv runs it untouched"), None


def _accepted(invocation: Invocation) -> Invocation:
    """`invocation`, unless it is a cache command uv (this release) would reject: no verdict for those,
    since a misplaced or mistyped option (`cache prune --jsn`) must never read as "allow"."""
    if invocation.rejected and invocation.command[:2] in CACHE_OPERATIONS:
        raise UsageError(f"uv would reject `{shlex.join(['uv', *invocation.args])}`, so it would run nothing; "
                         "no decision to show",
                         hint="uvguard's own options go before the uv command line "
                              f"(`uvguard check --json {shlex.join(invocation.command)}`)")
    return invocation


def render(decision: Decision, cache_dir: str | None) -> str:
    lines = [f"operation: {decision.operation}", f"action: {decision.action}", f"reason: {decision.reason}"]
    if decision.decided_by:
        lines.append(f"decided by: {decision.decided_by.describe(decision.action)}")
    if cache_dir:
        lines.append(f"cache: {cache_dir}")
    for title, items in (("environments linking into the cache", decision.live_environments),
                         ("environments that would break", decision.breaking_environments),
                         ("live entries it would remove", decision.protected_entries),
                         ("uncertain", decision.uncertain)):
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items)
    return "\n".join(lines)
