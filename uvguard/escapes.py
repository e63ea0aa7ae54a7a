"""Links in the cache that lead out of it, which uv before 0.11.20 follows while removing.

Pruning or cleaning packages, such a uv deletes the directory a link in the
cache leads to, wherever it is, and leaves the link (seen with 0.6.4, 0.10.12
and 0.11.16: a link at `archive-v0/<x>`, at a cached environment, in the
wheels bucket under `--ci`, at a package's wheel or sdist entry under
`clean PKG`); links nested inside a directory it removes are unlinked, not
followed, and a full `clean` follows none. The guard does not hand such a
cache to such a uv: it removes what uv would remove itself (`uvguard.limited`).

The search walks the cache without following links and without entering
archive entries and cached environments (uv removes those whole, so links
inside them are never followed); only links that resolve to a directory
outside the cache count, since uv unlinks a link to a file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from uvguard.invocation import CLEAN_PACKAGES, PRUNE, PRUNE_CI, Version
from uvguard.records import NamedTuple

FOLLOWS_LINKS_BEFORE = (0, 11, 20)
FOLLOWING_OPERATIONS = (PRUNE, PRUNE_CI, CLEAN_PACKAGES)
_WHOLE = re.compile(r"^(archive-v\d+|environments-v\d+)/[^/]+$")
_ARCHIVE_BUCKET = re.compile(r"^archive-v\d+$")


class Escape(NamedTuple):
    """A link in the cache (`path`, cache-relative) that leads to `target`, a directory outside it."""

    path: str
    target: str


def follows_links(version: Version | None, operation: str) -> bool:
    """Whether this uv follows links while running `operation` (a release it cannot tell: assume so)."""
    return operation in FOLLOWING_OPERATIONS and (version is None or tuple(version) < FOLLOWS_LINKS_BEFORE)


def find_escape(cache_dir: Path) -> Escape | None:
    """The first link in the cache leading to a directory outside it, or None."""
    walked_root = os.path.abspath(cache_dir)
    real_root = os.path.realpath(cache_dir)
    archives = _archive_entries(walked_root)
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(walked_root, rel) if rel else walked_root) as entries:
                children = list(entries)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in children:
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                target = _escaping_target(entry.path, child, walked_root, real_root, archives)
                if target is not None:
                    return Escape(child, target)
            elif entry.is_dir(follow_symlinks=False) and not _WHOLE.match(child):
                stack.append(child)
    return None


def _archive_entries(root: str) -> set[str]:
    """`archive-v0/<id>` for every real directory there: what uv's own links name."""
    found: set[str] = set()
    for bucket in os.listdir(root):
        if not _ARCHIVE_BUCKET.match(bucket):
            continue
        try:
            with os.scandir(os.path.join(root, bucket)) as entries:
                found.update(f"{bucket}/{e.name}" for e in entries if e.is_dir(follow_symlinks=False))
        except NotADirectoryError:
            continue
    return found


def _escaping_target(path: str, rel: str, walked_root: str, real_root: str, archives: set[str]) -> str | None:
    """Where the link at `path` leads when that is a directory outside the cache, else None.

    The links uv writes (to `archive-v0/<id>`, relative or absolute) are told
    from their text alone, which is exact: the walk reached `path` through
    real directories, and the archive entry is one too. Anything else,
    `Y/link/../../X` among it, is resolved.
    """
    try:
        text = os.readlink(path)
    except OSError:
        return None
    if os.path.isabs(text):
        for root in (walked_root, real_root):
            if text.startswith(root + "/") and text[len(root) + 1:] in archives:
                return None
    else:
        parents = rel.split("/")[:-1]
        climbs = plain_climbs(text)
        if climbs is not None and climbs <= len(parents):
            named = parents[:len(parents) - climbs] + text.split("/")[climbs:]
            if "/".join(named) in archives:
                return None
    target = os.path.realpath(path)
    if target == real_root or target.startswith(real_root + os.sep) or not os.path.isdir(target):
        return None
    return target


def plain_climbs(text: str) -> int | None:
    """How many `..` a relative link's text starts with, when only plain names follow them, else None.

    Those `..` climb through the real directories a walk came down; a `..`
    after a name may climb out of wherever that name links to, so such a
    text (or one with `.` or empty parts) means only what `realpath` says.
    """
    parts = text.split("/")
    climbs = 0
    while climbs < len(parts) and parts[climbs] == "..":
        climbs += 1
    rest = parts[climbs:]
    if not rest or any(part in ("..", ".", "") for part in rest):
        return None
    return climbs
