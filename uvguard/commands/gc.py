"""`uvguard gc [--dry-run] [--json] [--keep-recent DURATION] [UV-OPTIONS]`: reclaim what no environment uses.

uv's global options (`--cache-dir`, `--no-config`, `-q`, `--force`...) are
read as `uv cache prune` would read them, through the same pipeline as the
shim: effective config, policy, roots, live set. The policy's `gc` key can
refuse it; an uncertain live set is decided by the `uncertain` key. A run's
decision goes to the decisions logs as a guarded operation's does. No uv
command is mapped to gc: only this command runs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from uvguard import globalopts, messages
from uvguard.decision import DecidedBy, Decision
from uvguard.errors import PolicyError, Refused, UsageError
from uvguard.invocation import PRUNE
from uvguard.jsonout import emit_json
from uvguard.live_set import LiveSet
from uvguard.policy import Policy

if TYPE_CHECKING:
    from uvguard.gc import GcResult

_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def register(app: typer.Typer) -> None:
    @app.command(context_settings=_SETTINGS)
    def gc(
        dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed and kept."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
        keep_recent: Optional[str] = typer.Option(
            None, "--keep-recent", metavar="DURATION",
            help="Also keep entries unpacked less than DURATION ago (`12h`, `7d`): copy and clone installs."),
        uv_args: list[str] = typer.Argument(None, metavar="[UV-OPTIONS]...",
                                            help="uv's global options (`--cache-dir DIR`, `--force`, `-q`...)"),
    ) -> None:
        """Remove every unpacked wheel no environment uses, and the cache pointers naming it."""
        result = gc_command([*globalopts.current().uv_args, *(uv_args or [])], dry_run, keep_recent,
                            dict(os.environ), os.getcwd(), sys.argv[1:])
        if result is None:
            return
        if as_json:
            emit_json("gc", result.report())
        elif dry_run:
            from uvguard.gc import render_dry_run

            typer.echo(render_dry_run(result))


def gc_command(uv_args: list[str], dry_run: bool, keep_recent: str | None, env: Mapping[str, str], cwd: str,
               argv: list[str]) -> GcResult | None:
    """Run (or with `dry_run` only plan) gc on the cache `uv UV_ARGS cache prune` would use; None without a cache.

    A run, refused or not, is logged as `uvguard ARGV` (the command line as typed).
    """
    from uvguard.gc import parse_duration, run_gc
    from uvguard.guard import log_decision, with_policy_hint
    from uvguard.pipeline import Evaluation, command_pipeline
    from uvguard.sizes import counts_blocks

    recent = parse_duration(keep_recent) if keep_recent is not None else None
    pipeline = command_pipeline(["cache", "prune", *uv_args], env, cwd, need_uv=True)
    invocation, voice = pipeline.invocation, pipeline.voice
    if invocation.operation != PRUNE or invocation.help:
        raise UsageError(f"`uvguard gc {' '.join(uv_args)}`: expected only uv's global options and `--force`",
                         hint="`uvguard gc --help` lists gc's own options")
    config = pipeline.config
    cache_dir = Path(config.cache_dir)
    if config.no_cache or not cache_dir.is_dir():
        messages.info(f"No cache found at: {messages.user_display(cache_dir)}", voice)
        return None
    try:
        policy, live = pipeline.policy, pipeline.live_set
    except PolicyError as error:
        raise with_policy_hint(error) from None
    for text in policy.warnings:
        messages.warning(text, voice)
    decision = gc_decision(policy, live, config.symlink_active, cache_dir)
    evaluation = Evaluation(invocation, config, decision, policy, live)
    if not dry_run:  # a team sees every gc that ran or was refused
        log_decision(evaluation, argv, env, cwd, voice, program="uvguard")
    if decision.action == "refuse":
        raise Refused(f"refused: {decision.reason}; decided by {decision.decided_by.describe('refuse')}; "
                      f"the cache at `{cache_dir}` is untouched",
                      hint="fix or unregister the roots above (`uvguard roots`)"
                      if decision.decided_by.key == "uncertain" else None)
    for key, why in _conditions(live, config.symlink_active).items():
        if policy.action(key) != "allow":
            messages.warning(f"{why}; collecting anyway (`{key} = \"{policy.action(key)}\"`)", voice)
    for text in config.warnings:
        messages.warning(text, voice)
    live_entries = (lambda: live.entries) if dry_run else pipeline.rescan_live_entries
    physical = counts_blocks(cache_dir, invocation, pipeline.uv, env)
    return run_gc(cache_dir, live_entries, recent, physical, env, voice, dry_run=dry_run,
                  force=invocation.force, verbose=invocation.verbose)


def gc_decision(policy: Policy, live: LiveSet, symlink_active: bool, cache_dir: Path) -> Decision:
    """`gc`, then the keys guarded operations consult when they hold: `uncertain` (a root cannot be read)
    and `unknown` (symlink mode on, no environment linking into the cache known). The first of them at
    `refuse` decides, as the strictest action does in `decision.decide`; else `gc` does (`limit`), and
    `warn` or `limit` on the others only says why before gc goes on."""
    conditions = {"gc": "`uvguard gc`", **_conditions(live, symlink_active)}
    key = next((key for key in conditions if policy.settings[key].value == "refuse"), "gc")
    setting = policy.settings[key]
    reason = conditions[key] if key != "gc" or setting.value == "refuse" else "collect what no environment uses"
    return Decision("gc", setting.value, reason,
                    DecidedBy(key, setting.source, setting.locked_by, setting.ignored),
                    live_environments=tuple(e.path for e in live.environments if e.live_entries or e.dangling),
                    uncertain=live.reasons if live.uncertain else ())


def _conditions(live: LiveSet, symlink_active: bool) -> dict[str, str]:
    """The keys beside `gc` that hold for this live set, each with why."""
    conditions = {}
    if live.uncertain:
        conditions["uncertain"] = ("the live set is uncertain (" + "; ".join(live.reasons)
                                   + "), so uvguard cannot tell what is in use")
    if symlink_active and not any(e.live_entries or e.dangling for e in live.environments):
        conditions["unknown"] = ("symlink mode is active, but no environment linking into the cache is known: "
                                 "environments uvguard does not know of may break; register them with "
                                 "`uvguard roots add PATH` or the policy key `roots`")
    return conditions
