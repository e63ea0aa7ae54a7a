"""The decision: allow, warn, limit or refuse one cache operation, and why.

`decide` takes plain data (a `Situation`: what the earlier stages found) and
the layered `Policy`, and does nothing else, so the shim (`guard.run`) and
`uvguard check` reach the same answer by the same code.

The policy engages when symlink mode is active for the command line (either
scope), when an environment links into the cache, or when the live set is
uncertain (an unreadable root may link into it: unsure means engaged). Once
engaged, each condition that holds names a key:
- the operation would remove at least one live entry → the operation's key;
- the live set is uncertain → `uncertain`;
- symlink mode is active but no environment links into the cache → `unknown`.
When several hold, the strictest of their actions wins (refuse > limit > warn
> allow; a tie goes to the first named), because each condition is a separate
way for an environment to break. When none holds, or there is no cache at
all, uv runs as it would, silently.
"""

from __future__ import annotations

from uvguard.invocation import CLEAN, CLEAN_PACKAGES, PASSTHROUGH, PRUNE, PRUNE_CI
from uvguard.messages import plural
from uvguard.policy import ACTIONS, Policy, Source
from uvguard.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

STRICTNESS = {action: rank for rank, action in enumerate(ACTIONS)}

COMMAND_LINES = {
    PRUNE: "uv cache prune",
    PRUNE_CI: "uv cache prune --ci",
    CLEAN: "uv cache clean",
    CLEAN_PACKAGES: "uv cache clean",
}


class Situation(NamedTuple):
    """What the pipeline found for one command line: the input of `decide`."""

    operation: str
    packages: tuple[str, ...] = ()  # of `uv cache clean PACKAGE...`
    cache_exists: bool = True
    symlink_active: bool = False
    symlink_source: str = ""  # e.g. "link-mode = symlink, from UV_LINK_MODE"
    linked_environments: tuple[str, ...] = ()  # environments linking into this cache
    breaking_environments: tuple[str, ...] = ()  # those linking to an entry the operation removes
    protected_entries: tuple[str, ...] = ()  # live entries the operation would remove
    uncertain: tuple[str, ...] = ()  # why the live set is incomplete, one line per unreadable root


class DecidedBy(NamedTuple):
    """The policy key that decided, where its value came from, and whether a lock held it."""

    key: str
    source: Source
    locked_by: Source | None = None
    ignored: tuple[tuple[object, Source], ...] = ()

    def describe(self, action: str) -> str:
        text = f'`{self.key} = "{action}"` in {self.source.describe()}'
        if self.locked_by is not None:
            text += f", locked by {self.locked_by.describe()}"
        for value, source in self.ignored:
            text += f'; `{self.key} = "{value}"` in {source.describe()} was ignored because the key is locked'
        return text

    def to_json(self) -> dict:
        return {
            **self.source.to_json(),
            "key": self.key,
            "locked": self.locked_by is not None,
            "locked_by": self.locked_by.to_json() if self.locked_by else None,
            "ignored": [{"value": value, **source.to_json()} for value, source in self.ignored],
        }


class Decision(NamedTuple):
    """allow | warn | limit | refuse, the reason, and what it protects."""

    operation: str
    action: str
    reason: str
    decided_by: DecidedBy | None = None
    live_environments: tuple[str, ...] = ()
    breaking_environments: tuple[str, ...] = ()
    protected_entries: tuple[str, ...] = ()
    uncertain: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "operation": self.operation,
            "action": self.action,
            "reason": self.reason,
            "decided_by": self.decided_by.to_json() if self.decided_by else None,
            "live_environments": list(self.live_environments),
            "breaking_environments": list(self.breaking_environments),
            "protected_entries": list(self.protected_entries),
            "uncertain": bool(self.uncertain),
            "uncertain_reasons": list(self.uncertain),
        }


def decide(situation: Situation, policy: Policy) -> Decision:
    """The action for `situation` under `policy`; see the module docstring for the rules."""
    found: dict[str, Any] = dict(
        operation=situation.operation,
        live_environments=situation.linked_environments,
        breaking_environments=situation.breaking_environments,
        protected_entries=situation.protected_entries,
        uncertain=situation.uncertain,
    )
    if situation.operation == PASSTHROUGH:
        return Decision(action="allow", reason="not a cache-mutating command: uv runs it untouched", **found)
    if not situation.cache_exists:
        return Decision(action="allow", reason="there is no cache: nothing to remove", **found)
    if not (situation.symlink_active or situation.linked_environments or situation.uncertain):
        return Decision(action="allow", reason="symlink mode is not active and no environment links into the cache",
                        **found)
    reasons = {}
    if situation.protected_entries:
        reasons[situation.operation] = _removes_live(situation)
    if situation.uncertain:
        reasons["uncertain"] = _uncertain(situation)
    if situation.symlink_active and not situation.linked_environments:
        reasons["unknown"] = (f"symlink mode is active ({situation.symlink_source}), but no environment "
                              "linking into the cache is known")
    if not reasons:
        return Decision(action="allow", reason="no environment links to anything the operation would remove", **found)
    key = max(reasons, key=lambda name: STRICTNESS[policy.action(name)])
    setting = policy.settings[key]
    decided_by = DecidedBy(key, setting.source, setting.locked_by, setting.ignored)
    return Decision(action=setting.value, reason=reasons[key], decided_by=decided_by, **found)


def _removes_live(situation: Situation) -> str:
    entries = len(situation.protected_entries)
    environments = len(situation.breaking_environments)
    command = " ".join((COMMAND_LINES[situation.operation], *situation.packages))
    return (f"`{command}` would remove {plural(entries, 'cache entry', 'cache entries')} "
            f"that {plural(environments, 'environment links', 'environments link')} to")


def _uncertain(situation: Situation) -> str:
    count = len(situation.uncertain)
    return f"the live set is uncertain: {plural(count, 'environment', 'environments')} could not be read"
