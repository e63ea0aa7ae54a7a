"""What each environment linked to at its last scan, and the check that proves it unchanged.

A full scan reads every symlink of every environment (about 400k a second):
200 environments of 10,000 files cost seconds per decision. Yet what an
environment links to can only change when an entry of one of its
directories is added, removed or renamed (a symlink cannot be edited in
place: uv, `ln -sf` and editors all replace it), and each of those changes
the directory's ctime, which no one can set back (`touch` sets mtime, not
ctime). So a scan remembers, per environment, the cache entries its links
land in and every directory it walked with its inode and ctime; the next
decision stats those directories instead of reading the links, and rescans
the environment whenever anything differs or cannot be checked:

- a directory missing, replaced (other inode) or changed (other ctime);
- a directory changed within `RACY_SECONDS` of the scan (its ctime could
  then stay the same across a second change in the same clock tick);
- a remembered cache entry no longer in the cache (the rescan reports the
  links that now dangle);
- the cache root the links were written against no longer resolving to this
  cache, or a directory holding targets outside the cache now resolving into
  it (a moved cache with a symlink left at its old place);
- an environment whose scan found dangling links, unreadable parts, or a
  root that is itself a symlink: never remembered.

The memory is a file in uvguard's state directory, one line per environment
and cache, each with a CRC. It is a hint, never a source of truth: a line
whose CRC does not match, that cannot be parsed, or a file not owned by
this user or writable by others, means a full scan, and a stale line can
only make the check fail.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable
from operator import attrgetter

from uvguard.records import NamedTuple

# A directory whose ctime is this close to the scan is not trusted: see above.
RACY_SECONDS = 2.0
_FIELD = "\x1f"
_ITEM = "\x1e"
_VERSION = "s2"
# A parent with this many remembered subdirectories is opened once and they are stat'ed by name from it:
# a path lookup of one component instead of several (about a quarter of an lstat's cost here).
_OPEN_PARENT_AT = 4
_IDENTITY = attrgetter("st_ino", "st_ctime_ns")  # what `digest` is taken over, per directory


class Remembered(NamedTuple):
    """One environment as its last full scan found it."""

    path: str
    cache_real: str
    root_inode: int
    digest: int  # over (inode, ctime) of every directory below, in the order of `directories`
    entries: frozenset[str]
    prefixes: frozenset[str]  # the cache roots its links were written against
    outside: frozenset[str]  # the directories holding its link targets outside the cache
    directories: tuple[tuple[str, tuple[str, ...]], ...]  # (parent relative to `path`, names); "." is the root


def memory_path(state_dir: str) -> str:
    return os.path.join(state_dir, "scans")


def digest(stats: Iterable[tuple[int, int]]) -> int:
    """One number for (inode, ctime) pairs: the same in every process (ints hash without a seed);
    two lists that differ give the same number with odds of about 2**-61."""
    return hash(tuple(stats))


def grouped(directories: Iterable[str], stats: Iterable[tuple[int, int]]) -> tuple[tuple, int]:
    """Walked directories (relative, "" for the root) and their (inode, ctime), grouped by parent as
    `Remembered.directories` holds them, and the digest over the stats in that order."""
    groups: dict[str, tuple[list[str], list[tuple[int, int]]]] = {}
    for relative, info in zip(directories, stats):
        parent, _, name = relative.rpartition("/")
        names, found = groups.setdefault(parent, ([], []))
        names.append(name or ".")
        found.append(info)
    return (tuple((parent, tuple(names)) for parent, (names, _) in groups.items()),
            digest(info for _, found in groups.values() for info in found))


def load(path: str) -> dict[tuple[str, str], Remembered]:
    """(environment, cache real path) -> what its last scan found; empty for a file not to be trusted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return {}
    try:
        info = os.fstat(fd)
        if not _trustworthy(info):
            return {}
        data = b""
        while chunk := os.read(fd, 1 << 20):
            data += chunk
    except OSError:
        return {}
    finally:
        os.close(fd)
    remembered = {}
    for line in data.split(b"\n"):
        item = _parse(line)
        if item is not None:
            remembered[(item.path, item.cache_real)] = item
    return remembered


def _trustworthy(info: os.stat_result) -> bool:
    import stat

    return (stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _parse(line: bytes) -> Remembered | None:
    crc, _, body = line.partition(b"\x1f")  # _FIELD: checked on the bytes, decoded once it matches
    if not body or crc != b"%08x" % zlib.crc32(body):
        return None
    fields = body.decode("utf-8", "surrogateescape").split(_FIELD)
    try:
        version, path, cache_real, inode, number, entries, prefixes, outside, *groups = fields
        if version != _VERSION:
            return None
        directories = []
        for group in groups:
            parent, *names = group.split(_ITEM)
            if not names:
                return None
            directories.append((parent, tuple(names)))
        return Remembered(path, cache_real, int(inode), int(number), _set(entries), _set(prefixes), _set(outside),
                          tuple(directories))
    except ValueError:
        return None


def _set(field: str) -> frozenset[str]:
    return frozenset(field.split(_ITEM)) - {""}


def format_line(item: Remembered) -> str | None:
    """The line for `item`; None when a path holds a byte the format uses (then it is not remembered)."""
    sets = (item.entries, item.prefixes, item.outside)
    if any(_ITEM in text for values in (*sets, *((parent, *names) for parent, names in item.directories))
           for text in values):
        return None
    parts = [_VERSION, item.path, item.cache_real, str(item.root_inode), str(item.digest),
             *(_ITEM.join(sorted(values)) for values in sets),
             *(_ITEM.join((parent, *names)) for parent, names in item.directories)]
    if any(_FIELD in part or "\n" in part for part in parts):
        return None
    body = _FIELD.join(parts)
    return f"{zlib.crc32(body.encode('utf-8', 'surrogateescape')):08x}{_FIELD}{body}\n"


def save(path: str, items: Iterable[Remembered]) -> None:
    """Replace the memory file (write, then rename); a state dir that cannot be written keeps none."""
    lines = [line for line in map(format_line, items) if line is not None]
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, "".join(lines).encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def unchanged(item: Remembered, real_of: Callable[[str], str]) -> bool:
    """Whether the environment provably links to what it did: same root, same directories, same cache.

    `real_of(path)` is the real path of a remembered directory now (memoised by the caller).
    """
    try:
        # The root by descriptor (never through a link), the rest relative to it: shorter lookups.
        root = os.open(item.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if os.fstat(root).st_ino != item.root_inode:
            return False
        if any(real_of(prefix) != item.cache_real for prefix in item.prefixes):
            return False
        inside = item.cache_real + "/"
        if any(real_of(parent) == item.cache_real or real_of(parent).startswith(inside) for parent in item.outside):
            return False
        # One lstat per directory is the floor (~2 µs each); what surrounds it stays in C (map, attrgetter).
        found: list[os.stat_result] = []
        for parent, names in item.directories:
            if len(names) >= _OPEN_PARENT_AT:
                fd = os.open(parent or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root)
                try:
                    found += [os.lstat(name, dir_fd=fd) for name in names]
                finally:
                    os.close(fd)
            else:
                prefix = f"{parent}/" if parent else ""
                found += [os.lstat(prefix + name if name != "." else ".", dir_fd=root) for name in names]
        return digest(map(_IDENTITY, found)) == item.digest
    except OSError:
        return False
    finally:
        os.close(root)
