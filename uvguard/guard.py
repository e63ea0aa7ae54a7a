"""The guarded path: one cache-mutating uv command line, from its config to the action.

The shim calls `run` only for lines `invocation.parse` classifies as prune,
prune --ci, clean or clean PACKAGE...; everything else never imports this
module, so a broken policy can never block `uv sync`. `evaluate` reads the
decision off the line's `pipeline.Pipeline` without acting, shared with
`uvguard check` and `uvguard prune`:

    effective uv config → (no cache: nothing to guard) → policy → roots → live
    set → what the operation would remove (only when something is live) →
    decide() → unless allowed, ask the real uv whether it refuses the line
    (`uvrefusal`): then that refusal, unchanged, is the outcome

`run` then logs the decision (a `--no-cache` line, decided before the
policy is read, only in the user's log) and acts: allow and warn exec the real uv (warn
first names every environment that will break), limit runs the limited
operation under uv's cache lock, refuse exits 3 with the cache untouched.
What the user reads about the decision is worded in `decision_text`.

Allow and warn hand the cache to uv only when that is safe: a uv that takes
no cache lock (< 0.8.19) could remove what an install is writing, and a uv
that follows links while removing (< 0.11.20) would delete outside the cache
when a link there leads out. Then uvguard removes what uv would remove itself,
with the limited operation's mechanics (`_removal_by_uvguard`), after asking
uv whether it refuses the line, as for any other action uvguard takes itself.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence

from uvguard import decision_text, decisionlog, messages
from uvguard.cachelock import takes_lock_itself
from uvguard.errors import (
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    FileSystemFailure,
    PolicyError,
    UvguardError,
    UvRefused,
    os_failure,
)
from uvguard.invocation import Invocation, Version
from uvguard.pipeline import Evaluation, Pipeline, voice_for
from uvguard.realuv import exec_uv, uv_version

__all__ = ["Evaluation", "evaluate", "log_decision", "run", "voice_for", "with_policy_hint"]


def evaluate(pipeline: Pipeline, ask_uv: bool = False) -> Evaluation:
    """Decide for the pipeline's command line without acting. Raises ConfigError or PolicyError
    (exit 2), or UvRefused where the real uv itself refuses the line before touching the cache.

    uv is asked (`uvrefusal`) before anything uvguard would do itself (warn,
    limit, refuse) and whenever uvguard cannot decide (a config or policy it
    cannot read, a skeleton uv fails on), so a line uv rejects is rejected
    unchanged, whatever the policy says. An allowed line usually goes to uv
    anyway, so only `ask_uv` (for `uvguard check`) asks it then, and `run`
    when it carries out an allowed line itself.
    """
    try:
        evaluation = pipeline.evaluation
    except UvguardError as error:  # a config or policy it cannot read, a skeleton uv failed on
        if error.blocks_uv:
            raise  # a FIFO config: uv would hang reading it, as bare uv does; uvguard says what it is
        raise (_uv_refusal(pipeline) or with_policy_hint(error)) from None
    if ask_uv or evaluation.decision.action != "allow":
        refused = _uv_refusal(pipeline)
        if refused is not None:
            raise refused
    return evaluation


def with_policy_hint(error: UvguardError) -> UvguardError:
    """`error`; a policy that stops a cache operation also says how to go on (the cache is untouched)."""
    if not isinstance(error, PolicyError) or error.hint:
        return error
    return PolicyError(error.message, hint=decision_text.POLICY_HINT)


def _uv_refusal(pipeline: Pipeline) -> UvRefused | None:
    from uvguard.uvrefusal import refusal  # tempfile and subprocess: not on the allowed path

    return refusal(pipeline.invocation, pipeline.uv, pipeline.env, pipeline.cwd)


def run(invocation: Invocation, real_uv: str, env: Mapping[str, str], cwd: str,
        version: Version | None = None) -> int:
    """Guard one intercepted command line; returns the exit code, or execs the real uv. `version`:
    the real uv's release when the caller has asked it already (one `uv --version` fewer, ~6 ms)."""
    voice = voice_for(invocation, env)
    messages.use_voice(voice)  # progress of the scan and the plan speaks as this line says
    try:
        version = version or uv_version(real_uv, env)
        pipeline = Pipeline(invocation, env, cwd, real_uv, version, voice)
        try:
            evaluation = evaluate(pipeline)
        except OSError as error:  # e.g. a state directory that is a file: fail closed, say where
            raise FileSystemFailure(os_failure(f"cannot decide on `{shlex.join(['uv', *invocation.args])}`", error),
                                    hint="the cache is untouched") from None
        decision = evaluation.decision
        by_uvguard, escape_warning = _removal_by_uvguard(evaluation, version)
        if by_uvguard and decision.action == "allow":  # `evaluate` asked uv already for every other action
            refused = _uv_refusal(pipeline)
            if refused is not None:
                raise refused
        for text in evaluation.policy.warnings if evaluation.policy else ():
            messages.warning(text, voice=voice)
        log_decision(evaluation, invocation.args, env, cwd, voice)
        if decision.action == "refuse":
            messages.error(*decision_text.refusal(evaluation), voice=voice)
            return EXIT_REFUSED
        if decision.action == "warn":
            messages.warning(decision_text.warning_text(evaluation), voice=voice)
        if decision.action == "limit":
            from uvguard.limited import run_limited

            for text in evaluation.config.warnings:
                messages.warning(text, voice=voice)
            live_entries = evaluation.live_set.entries if evaluation.live_set else {}
            return run_limited(invocation, evaluation.config, real_uv, env, live_entries, voice,
                               rescan=pipeline.rescan_live_entries, previous=evaluation.plan).exit_code
        if by_uvguard:
            from uvguard.limited import run_limited

            if escape_warning is not None:
                messages.warning(escape_warning, voice=voice)

            # What uv would remove: the live entries the decision lets go included.
            keep = not decision.protected_entries and evaluation.live_set is not None
            return run_limited(invocation, evaluation.config, real_uv, env,
                               evaluation.live_set.entries if keep else {}, voice,
                               rescan=pipeline.rescan_live_entries if keep else None,
                               previous=evaluation.plan).exit_code
    except UvRefused as refused:
        from uvguard.uvrefusal import relay

        return relay(refused)
    except OSError as error:  # every OS error on this path ends in one `error:` line, never a traceback
        error = FileSystemFailure(os_failure(f"`{shlex.join(['uv', *invocation.args])}` failed", error))
        messages.error(error.message, voice=voice)
        return error.exit_code
    except UvguardError as error:
        messages.error(error.message, hint=error.hint, voice=voice)
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return EXIT_INTERRUPTED
    exec_uv(real_uv, invocation.args, env)


def _removal_by_uvguard(evaluation: Evaluation, version: Version | None) -> tuple[bool, str | None]:
    """Whether uvguard, not uv, must carry out an allowed or warned line (see the module docstring),
    and the warning that says why when the reason is a link leading out of the cache."""
    config = evaluation.config
    if evaluation.decision.action not in ("allow", "warn") or config.no_cache or not config.cache_dir.is_dir():
        return False, None
    from uvguard.escapes import find_escape, follows_links

    escape = find_escape(config.cache_dir) if follows_links(version, evaluation.invocation.operation) else None
    if escape is not None:
        return True, decision_text.escape_warning(version, config.cache_dir, escape)
    return not takes_lock_itself(version), None


def log_decision(evaluation: Evaluation, argv: Sequence[str], env: Mapping[str, str], cwd: str, voice: messages.Voice,
                 program: str = "uv") -> None:
    """One line in the user's decisions log and the policy's team log: `PROGRAM ARGV` and the decision."""
    record = decisionlog.entry(evaluation.decision, argv, cwd, evaluation.config.cache_dir, program=program)
    team_log = evaluation.policy.log if evaluation.policy is not None else None
    for path, why in decisionlog.append(record, decisionlog.user_log_path(env), team_log):
        messages.warning(f"could not write the decisions log `{path}`: {why}", voice=voice)
