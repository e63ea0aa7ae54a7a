"""`required-version` in uv's config: does a uv release satisfy a PEP 440 specifier?

uv refuses to run at all (exit 2) when the merged config's `required-version`
excludes it, so a guarded command must refuse too. uv releases are plain
`X.Y.Z`; specifiers may still name pre-, post- and dev-releases, so those
order as PEP 440 says. A bare version means `==` (uv's own rule).
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|rc)(\d+))?(?:[-_.]?post(\d+))?(?:[-_.]?dev(\d+))?$")
_CLAUSE = re.compile(r"^(===|~=|==|!=|<=|>=|<|>)\s*(\S+)$")
_PRE = {"a": 0, "b": 1, "rc": 2}


def satisfies(specifier: str, release: tuple[int, ...]) -> bool:
    """Whether uv `release` meets `specifier` (e.g. ">=0.5, <0.9"); ValueError if it is not one."""
    text = specifier.strip()
    if _VERSION.match(text):
        text = "==" + text
    return all(_clause(part.strip(), release) for part in text.split(","))


def _clause(clause: str, release: tuple[int, ...]) -> bool:
    match = _CLAUSE.match(clause)
    if not match:
        raise ValueError(f"invalid version specifier `{clause}`")
    operator, version = match.groups()
    if operator == "===":
        return version == ".".join(map(str, release))
    if version.endswith(".*"):
        if operator not in ("==", "!="):
            raise ValueError(f"a wildcard is only allowed with == and != (`{clause}`)")
        prefix = _release(version[:-2])
        matched = _padded(release, len(prefix))[: len(prefix)] == prefix
        return matched if operator == "==" else not matched
    mine, theirs = _key(".".join(map(str, release))), _key(version)
    if operator == "~=":
        prefix = _release(version)[:-1]
        if not prefix:
            raise ValueError(f"~= needs at least two release segments (`{clause}`)")
        return mine >= theirs and _padded(release, len(prefix))[: len(prefix)] == prefix
    return {"==": mine == theirs, "!=": mine != theirs, "<=": mine <= theirs, ">=": mine >= theirs,
            "<": mine < theirs, ">": mine > theirs}[operator]


def _release(version: str) -> tuple[int, ...]:
    match = _VERSION.match(version)
    if not match:
        raise ValueError(f"invalid version `{version}`")
    return tuple(int(part) for part in match.group(1).split("."))


def _key(version: str) -> tuple:
    """A sort key following PEP 440: dev < pre < final < post, release zero-padded."""
    match = _VERSION.match(version)
    if not match:
        raise ValueError(f"invalid version `{version}`")
    release, pre, pre_number, post, dev = match.groups()
    parts = tuple(int(part) for part in release.split("."))
    if pre:
        pre_key = (_PRE[pre], int(pre_number))
    elif dev and not post:
        pre_key = (-1, 0)
    else:
        pre_key = (3, 0)
    return (_padded(parts, 10), pre_key, int(post) if post else -1, int(dev) if dev else float("inf"))


def _padded(parts: tuple[int, ...], length: int) -> tuple[int, ...]:
    return (tuple(parts) + (0,) * length)[:max(length, len(parts))]
