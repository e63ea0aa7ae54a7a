"""The guarded path: one cache-mutating uv command line, from its config to the action.

The shim calls `run` only for lines `invocation.parse` classifies as prune,
prune --ci, clean or clean PACKAGE...; everything else never imports this
module, so a broken policy can never block `uv sync`. `evaluate` is the whole
pipeline without acting, shared with `uvguard check`:

    effective uv config → (no cache: nothing to guard) → policy → roots → live
    set → what the operation would remove (only when something is live) →
    decide() → unless allowed, ask the real uv whether it refuses the line
    (`uvrefusal`): then that refusal, unchanged, is the outcome

`run` then logs the decision (a `--no-cache` line, decided before the
policy is read, only in the user's log) and acts: allow and warn exec the real uv (warn
first names every environment that will break), limit runs the limited
operation under uv's cache lock, refuse exits 3 with the cache untouched.

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
from typing import TYPE_CHECKING, Mapping, NamedTuple

from uvguard import decisionlog, messages
from uvguard.cachelock import takes_lock_itself
from uvguard.decision import Decision, Situation, decide
from uvguard.errors import (EXIT_INTERRUPTED, EXIT_REFUSED, FileSystemFailure, PolicyError, UvguardError,
                            UvRefused, os_failure)
from uvguard.invocation import Invocation, Version
from uvguard.live_set import LiveSet, scan_live_set
from uvguard.policy import Policy, load_policy
from uvguard.progress import phase
from uvguard.realuv import exec_uv, uv_version
from uvguard.registry import state_dir
from uvguard.roots import find_roots
from uvguard.uvconfig import EffectiveConfig, discovery_start, effective_config

if TYPE_CHECKING:
    from uvguard.prune_plan import Plan


class Evaluation(NamedTuple):
    """Everything the pipeline found for one command line, and the decision."""

    invocation: Invocation
    config: EffectiveConfig
    decision: Decision
    policy: Policy | None = None
    live_set: LiveSet | None = None
    plan: Plan | None = None  # the `prune_plan.Plan` decided on, when one was needed: the action reuses it


def evaluate(invocation: Invocation, real_uv: str, env: Mapping[str, str], cwd: str,
             version: Version | None = None, ask_uv: bool = False) -> Evaluation:
    """Decide for `invocation` without acting. Raises ConfigError or PolicyError (exit 2), or
    UvRefused where the real uv itself refuses the line before touching the cache.

    uv is asked (`uvrefusal`) before anything uvguard would do itself (warn,
    limit, refuse) and whenever uvguard cannot decide (a config or policy it
    cannot read, a skeleton uv fails on), so a line uv rejects is rejected
    unchanged, whatever the policy says. An allowed line usually goes to uv
    anyway, so only `ask_uv` (for `uvguard check`) asks it then, and `run`
    when it carries out an allowed line itself. `version` is the
    real uv's release when the caller has already asked it: one `uv
    --version` run fewer (~6 ms) on every guarded command.
    """
    try:
        evaluation = _evaluate(invocation, real_uv, env, cwd, version)
    except UvguardError as error:  # a config or policy it cannot read, a skeleton uv failed on
        if error.blocks_uv:
            raise  # a FIFO config: uv would hang reading it, as bare uv does; uvguard says what it is
        raise (_uv_refusal(invocation, real_uv, env, cwd) or error) from None
    if ask_uv or evaluation.decision.action != "allow":
        refused = _uv_refusal(invocation, real_uv, env, cwd)
        if refused is not None:
            raise refused
    return evaluation


def _uv_refusal(invocation: Invocation, real_uv: str, env: Mapping[str, str], cwd: str) -> UvRefused | None:
    from uvguard.uvrefusal import refusal  # tempfile and subprocess: not on the allowed path

    return refusal(invocation, real_uv, env, cwd)


def _evaluate(invocation: Invocation, real_uv: str, env: Mapping[str, str], cwd: str,
              version: Version | None) -> Evaluation:
    config = effective_config(invocation, env, cwd, version or uv_version(real_uv, env))
    if config.no_cache:
        reason = f"no cache ({config.no_cache_source or '--no-cache'}): uv uses a temporary cache and touches nothing"
        return Evaluation(invocation, config, Decision(invocation.operation, "allow", reason))
    policy, live = survey(invocation, config, env, cwd)
    situation, plan = _situation(invocation, config, live, real_uv, env)
    return Evaluation(invocation, config, decide(situation, policy), policy, live, plan)


def survey(invocation: Invocation, config: EffectiveConfig, env: Mapping[str, str], cwd: str) -> tuple[Policy, LiveSet]:
    """The policy and the live set of `config`'s cache: what guarded operations and `uvguard gc` decide from."""
    policy = _load_policy(env, cwd, config)
    with phase("Scanning environments"):
        live = scan_live_set(config.cache_dir, find_roots(invocation, config, env, cwd, policy.root_paths),
                             state_dir(env))
    return policy, live


def _load_policy(env: Mapping[str, str], cwd: str, config: EffectiveConfig) -> Policy:
    try:
        return load_policy(env, cwd, discovery_start(config.project_dir, config.cache_dir))
    except PolicyError as error:
        raise PolicyError(error.message, hint=error.hint or "fix the policy; the cache is untouched "
                          "(`uvguard policy validate FILE` checks a file)") from None


def _situation(invocation: Invocation, config: EffectiveConfig, live: LiveSet, real_uv: str,
               env: Mapping[str, str]) -> tuple[Situation, Plan | None]:
    """What the decision weighs, and the removal plan when something is live (else none is needed)."""
    entries = live.entries
    protected: tuple[str, ...] = ()
    plan = None
    if entries:
        from uvguard.prune_plan import protected_entries, removal_plan  # ~7 ms of imports, needed only here

        with phase("Planning what to remove"):
            plan = removal_plan(invocation, config, real_uv, env)
        protected = protected_entries(plan, entries)
    breaking = sorted({path for entry in protected for path in entries[entry]})
    linked = [e.path for e in live.environments if e.live_entries or e.dangling]
    return Situation(
        operation=invocation.operation,
        packages=invocation.packages,
        cache_exists=config.cache_dir.is_dir(),
        symlink_active=config.symlink_active,
        symlink_source=_symlink_source(config),
        linked_environments=tuple(linked),
        breaking_environments=tuple(breaking),
        protected_entries=protected,
        uncertain=live.reasons if live.uncertain else (),
    ), plan


def _symlink_source(config: EffectiveConfig) -> str:
    sources = []
    if config.link_mode == "symlink":
        sources.append(f"link-mode = symlink, from {config.link_mode_source}")
    if config.pip_link_mode == "symlink" and config.pip_link_mode_source != config.link_mode_source:
        sources.append(f"pip link-mode = symlink, from {config.pip_link_mode_source}")
    return "; ".join(sources)


def live_entries_again(evaluation: Evaluation, env: Mapping[str, str], cwd: str):
    """A rescan for `run_limited` to call under uv's lock: an install that finished
    while we waited for the lock is kept too. Entries live before stay kept (an
    environment deleted meanwhile costs only a kept entry; keeping more is safe)."""
    config = evaluation.config
    before = evaluation.live_set.entries if evaluation.live_set else {}
    policy_roots = evaluation.policy.root_paths if evaluation.policy else ()

    def rescan() -> dict[str, tuple[str, ...]]:
        roots = find_roots(evaluation.invocation, config, env, cwd, policy_roots)
        now = scan_live_set(config.cache_dir, roots, state_dir(env)).entries
        return {entry: tuple(sorted({*before.get(entry, ()), *now.get(entry, ())})) for entry in {*before, *now}}

    return rescan


def voice_for(invocation: Invocation, env: Mapping[str, str]) -> messages.Voice:
    """uv's own rules for this line: `--color`/`--no-color`, NO_COLOR, `-q`, `--no-progress`."""
    color = "never" if invocation.option("no-color") else invocation.option("color")
    return messages.Voice.detect(color_flag=color, quiet=invocation.quiet, env=env,
                                 no_progress=bool(invocation.option("no-progress")))


def run(invocation: Invocation, real_uv: str, env: Mapping[str, str], cwd: str,
        version: Version | None = None) -> int:
    """Guard one intercepted command line; returns the exit code, or execs the real uv."""
    voice = voice_for(invocation, env)
    messages.use_voice(voice)  # progress of the scan and the plan speaks as this line says
    try:
        version = version or uv_version(real_uv, env)
        try:
            evaluation = evaluate(invocation, real_uv, env, cwd, version)
        except OSError as error:  # e.g. a state directory that is a file: fail closed, say where
            raise FileSystemFailure(os_failure(f"cannot decide on `{shlex.join(['uv', *invocation.args])}`", error),
                                    hint="the cache is untouched") from None
        decision = evaluation.decision
        by_uvguard, escape_warning = _removal_by_uvguard(evaluation, version)
        if by_uvguard and decision.action == "allow":  # `evaluate` asked uv already for every other action
            refused = _uv_refusal(invocation, real_uv, env, cwd)
            if refused is not None:
                raise refused
        for text in evaluation.policy.warnings if evaluation.policy else ():
            messages.warning(text, voice=voice)
        _log(evaluation, env, cwd, voice)
        if decision.action == "refuse":
            messages.error(*refusal(evaluation), voice=voice)
            return EXIT_REFUSED
        if decision.action == "warn":
            messages.warning(warning_text(evaluation), voice=voice)
        if decision.action == "limit":
            from uvguard.limited import run_limited

            for text in evaluation.config.warnings:
                messages.warning(text, voice=voice)
            live_entries = evaluation.live_set.entries if evaluation.live_set else {}
            return run_limited(invocation, evaluation.config, real_uv, env, live_entries, voice,
                               rescan=live_entries_again(evaluation, env, cwd), previous=evaluation.plan).exit_code
        if by_uvguard:
            from uvguard.limited import run_limited

            if escape_warning is not None:
                messages.warning(escape_warning, voice=voice)

            # What uv would remove: the live entries the decision lets go included.
            keep = not decision.protected_entries and evaluation.live_set is not None
            return run_limited(invocation, evaluation.config, real_uv, env,
                               evaluation.live_set.entries if keep else {}, voice,
                               rescan=live_entries_again(evaluation, env, cwd) if keep else None,
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
    return 0  # not reached: exec_uv replaces this process


def _removal_by_uvguard(evaluation: Evaluation, version: Version | None) -> tuple[bool, str | None]:
    """Whether uvguard, not uv, must carry out an allowed or warned line (see the module docstring),
    and the warning that says why when the reason is a link leading out of the cache."""
    config = evaluation.config
    if evaluation.decision.action not in ("allow", "warn") or config.no_cache or not config.cache_dir.is_dir():
        return False, None
    from uvguard.escapes import find_escape, follows_links

    escape = find_escape(config.cache_dir) if follows_links(version, evaluation.invocation.operation) else None
    if escape is not None:
        release = "This uv" if version is None else f"uv {'.'.join(map(str, version))}"
        return True, (f"{release} follows symlinks while removing, and `{config.cache_dir / escape.path}` leads "
                      f"out of the cache (to `{escape.target}`): uvguard removes what uv would remove itself, "
                      "following no link")
    return not takes_lock_itself(version), None


def _log(evaluation: Evaluation, env: Mapping[str, str], cwd: str, voice: messages.Voice) -> None:
    record = decisionlog.entry(evaluation.decision, evaluation.invocation.args, cwd, evaluation.config.cache_dir)
    team_log = evaluation.policy.log if evaluation.policy is not None else None
    for path, why in decisionlog.append(record, decisionlog.user_log_path(env), team_log):
        messages.warning(f"could not write the decisions log `{path}`: {why}", voice=voice)


# What the user reads.

def _details(evaluation: Evaluation) -> list[str]:
    """The environments behind the decision, one indented line each."""
    decision = evaluation.decision
    key = decision.decided_by.key
    if key == "uncertain":
        return [f"  {reason}" for reason in decision.uncertain]
    if key == "unknown":
        return ["  environments uvguard does not know of may break; register them with "
                "`uvguard roots discover DIR`, `uvguard roots add PATH` or the policy key `roots`"]
    origins = {e.path: e.origins for e in evaluation.live_set.environments}
    return [f"  {path} ({', '.join(origins.get(path, ()))})" for path in decision.breaking_environments]


_CONSEQUENCE = {"uncertain": ", and environments there may break:", "unknown": ":"}


def warning_text(evaluation: Evaluation) -> str:
    decision = evaluation.decision
    consequence = _CONSEQUENCE.get(decision.decided_by.key, ", and these environments will break:")
    return "\n".join([f"{decision.reason}; running it anyway{consequence}", *_details(evaluation),
                      f"  decided by {decision.decided_by.describe(decision.action)}"])


def refusal(evaluation: Evaluation) -> tuple[str, str]:
    """(message, hint) of a refusal: why, which environments, which policy, the ways forward."""
    decision = evaluation.decision
    message = "\n".join([f"refused: {decision.reason}:", *_details(evaluation),
                         f"  decided by {decision.decided_by.describe(decision.action)}",
                         f"  the cache at `{evaluation.config.cache_dir}` is untouched"])
    return message, "\n".join(_ways_forward(evaluation))


def _ways_forward(evaluation: Evaluation) -> list[str]:
    decided_by = evaluation.decision.decided_by
    key = decided_by.key
    ways = ["ways forward:"]
    if key == "uncertain":
        ways.append("  make those environments readable to this user, or drop a stale one with "
                    "`uvguard roots remove PATH`")
    elif key == "unknown":
        ways.append("  register the environments that use this cache with `uvguard roots discover DIR` "
                    "(every one under DIR), `uvguard roots add PATH` or the policy key `roots`, then retry")
    else:
        ways.append("  `uvguard materialize ENV` copies an environment's files out of the cache, so it no "
                    "longer depends on it (`uvguard repair` reinstalls one a cache operation already broke)")
    ways.append("  `uvguard roots` lists the environments uvguard knows of, and where each came from")
    if decided_by.locked_by is None:
        command = shlex.join(["uv", *evaluation.invocation.args])
        ways.append(f"  a weaker policy for `{key}`: `UVGUARD_POLICY=ci {command}` (the `ci` preset limits "
                    f"every operation), or set `{key} = \"limit\"` in a policy file (`uvguard policy show`)")
    else:
        ways.append(f"  `{key}` is locked by {decided_by.locked_by.describe()}; only whoever manages that "
                    "file can change it")
    return ways
