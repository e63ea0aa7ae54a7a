"""What the user reads about a guarded command line: the warning before a warned line runs, the
refusal and its ways forward, the hint after a policy error, why uvguard removes what uv would.

Plain text from plain data (an `Evaluation`, a uv release, a cache path);
`guard` decides what happens and prints these through `messages`.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from uvguard.records import TYPE_CHECKING

if TYPE_CHECKING:
    from uvguard.escapes import Escape
    from uvguard.invocation import Version
    from uvguard.pipeline import Evaluation

POLICY_HINT = "fix the policy; the cache is untouched (`uvguard policy validate FILE` checks a file)"


def escape_warning(version: Version | None, cache_dir: Path, escape: Escape) -> str:
    """Why uvguard, not this uv, removes what uv would: a link in the cache leads out of it."""
    release = "This uv" if version is None else f"uv {'.'.join(map(str, version))}"
    return (f"{release} follows symlinks while removing, and `{cache_dir / escape.path}` leads "
            f"out of the cache (to `{escape.target}`): uvguard removes what uv would remove itself, "
            "following no link")


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
