"""`uvguard check`: what the shim would decide for a uv command line, without acting.

The same functions as the shim's guarded path (`guard.evaluate`): the
effective config, the layered policy, the live set and what the operation
would remove. Exit 0 whatever the decision; 2 for a bad config or policy,
exactly where the shim would stop too; where the real uv itself refuses the
line, uv's own error and exit code (the shim relays the same), never a
decision about a configuration uv would not use.
"""

from __future__ import annotations

import json
import os
from typing import List, Mapping

import typer

from uvguard.decision import Decision
from uvguard.errors import UvguardError, report
from uvguard.invocation import parse
from uvguard.realuv import find_real_uv, uv_version


def register(app: typer.Typer) -> None:
    @app.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
    def check(
        json_output: bool = typer.Option(False, "--json", help="Print the decision as JSON (put it before the uv args)."),
        uv_args: List[str] = typer.Argument(None, metavar="UV-ARGS...", help="A uv command line, without `uv`."),
    ) -> None:
        """Show the decision for a uv command line, without running it."""
        try:
            decision, cache_dir = check_command_line(uv_args or [], dict(os.environ), os.getcwd())
        except UvguardError as error:
            raise typer.Exit(report(error)) from None
        typer.echo(as_json(decision, cache_dir) if json_output else render(decision, cache_dir))


def check_command_line(uv_args: list[str], env: Mapping[str, str], cwd: str) -> tuple[Decision, str | None]:
    """The decision for `uv UV_ARGS...`, and the cache it is about (None for passthrough).

    Raises UvRefused where the real uv refuses a line naming a cache operation.
    """
    invocation = parse(uv_args)
    if invocation.names_cache_operation:
        from uvguard.guard import evaluate
        from uvguard.uvrefusal import refusal

        real_uv = find_real_uv(env, shim=None)
        version = uv_version(real_uv, env)
        invocation = parse(uv_args, version)
        if invocation.intercepted:
            evaluation = evaluate(invocation, real_uv, env, cwd, version, ask_uv=True)
            return evaluation.decision, str(evaluation.config.cache_dir)
        refused = refusal(invocation, real_uv, env, cwd)  # a line the parser rejects: uv's own words
        if refused is not None:
            raise refused
    if invocation.help or invocation.option("show-settings"):
        reason = "only prints help" if invocation.help else "only prints uv's settings"
    else:
        reason = "not a cache-mutating command"
    return Decision(invocation.operation, "allow", f"{reason}: uv runs it untouched"), None


def as_json(decision: Decision, cache_dir: str | None) -> str:
    return json.dumps({**decision.to_json(), "cache_dir": cache_dir}, indent=2)


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
