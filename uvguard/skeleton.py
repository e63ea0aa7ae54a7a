"""A skeleton of a uv cache: a cheap copy that real uv can prune or clean instead of the cache.

`prune_plan` runs real uv on one to learn what it would remove. The skeleton
is cheap because uv removes `archive-v0/<id>` and cached environments whole,
without reading them:

- every directory is recreated; every regular file elsewhere is hard-linked
  (uv reads `revision.http`, `.rev`, `metadata.msgpack`, `.rkyv` contents);
  `.lock` files get fresh empty files (a hard link would share flocks) and the
  root markers are copied (uv may rewrite them);
- each `archive-v0/<id>` becomes a hard link to one empty file (uv only
  canonicalizes an archive entry and removes it whole; a new link costs a
  fraction of a new inode, and the differential tests show every release
  tested treats it like the directory), each cached environment an empty
  directory;
- every symlink is recreated: one that resolves inside the cache points to the
  same place in the skeleton (absolute links from uv ≤ 0.11.16 are rewritten
  to the skeleton root, comparing realpaths), one that resolves outside points
  to an empty stand-in beside the skeleton, so even a uv that follows links
  while deleting (< 0.11.20) can only empty a stand-in.

Where: first in a memory filesystem, because creating and removing thousands
of directories and links there costs a fraction of what it costs on a
journaled disk (0.06 s against 0.2–0.27 s for the 50k-file cache of
`benchmarks/limited_prune.py`, and nothing written to the cache's disk). Only
a place no other user can tamper with while uv runs on it will do (uv deletes
whatever its cache dir leads to): `$XDG_RUNTIME_DIR` when it is a directory
of ours that only we can enter, as the XDG spec has it, else `/dev/shm` when
it has the sticky bit. Files cannot be hard-linked across filesystems, and
copying a cache's source trees and built wheels into memory would take more
than it saves, so there only the files uv parses (`.http`, `.rev`,
`.msgpack`, `.rkyv` pointers and metadata) are copied; every other file
becomes a sparse file of the same size. A memory skeleton holds an flock
for its lifetime, and each run sweeps those whose lock is free (a crash).
Each usable one is tried in turn (a tiny `$XDG_RUNTIME_DIR` that fills up
is followed by a roomy `/dev/shm`). When none is usable, or building or
running uv fails in each (they filled up), the skeleton is built in
`<cache>/.uvguard-skeleton-*` instead: same filesystem (hard links work),
and an unknown top-level entry that any uv's own prune or clean deletes if
we crash.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from uvguard.escapes import plain_climbs

MARKERS = frozenset({"CACHEDIR.TAG", ".gitignore", ".git", ".lock"})
SKELETON_PREFIX = ".uvguard-skeleton-"
MEMORY_SKELETON_PREFIX = "uvguard-skeleton-"
# The files uv reads while pruning or cleaning; a memory skeleton copies only these.
PARSED_SUFFIXES = (".http", ".rev", ".msgpack", ".rkyv")
_SWEEP_GRACE = 60.0  # seconds
# Directories uv removes whole without looking inside: the skeleton keeps them empty.
_OPAQUE = re.compile(r"^(archive-v\d+|environments-v\d+)/[^/]+$")
_ARCHIVE_ENTRY = re.compile(r"^archive-v\d+/[^/]+$")
# A parsed file changed this recently (ns) may change again with the same timestamps; more than a
# kernel clock tick (1-10 ms), and 2 s on a filesystem with whole-second timestamps (ext3, FAT).
_RACY_NS = 100_000_000
_RACY_COARSE_NS = 2_000_000_000


@dataclass(frozen=True)
class Skeleton:
    """A skeleton's cache-relative paths, and the basis of a plan read off it (None: not provable)."""

    paths: set[str]
    listings: dict[str, tuple[tuple[str, int], ...]]
    parsed: dict[str, tuple[int, int, int]]
    provable: bool  # nothing vanished during the walk, no link resolved outside, no parsed file racy


def file_signature(info: os.stat_result) -> tuple[int, int, int]:
    """What a plan's basis remembers of a parsed file (see `prune_plan.PlanBasis`)."""
    return info.st_ino, info.st_size, info.st_mtime_ns


def memory_dirs(env: Mapping[str, str]) -> list[Path]:
    """Memory filesystems where a skeleton is safe from other users, best first.

    `$XDG_RUNTIME_DIR` only when it is a real directory owned by us and closed
    to everyone else (the XDG spec's promise, not always kept: `su` without
    `-` keeps the other user's); `/dev/shm` only with the sticky bit, so no one
    else can rename our directory in it.
    """
    places = []
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime) and _is_dir(runtime, lambda info: info.st_uid == os.geteuid()
                                          and not info.st_mode & 0o077):
        places.append(Path(runtime))
    shm = os.path.realpath("/dev/shm")  # a link there (old Debian: /run/shm) is root's
    if _is_dir(shm, lambda info: info.st_mode & stat.S_ISVTX and info.st_uid in (0, os.geteuid())):
        places.append(Path(shm))
    return places


def _is_dir(path: str, condition: Callable[[os.stat_result], object]) -> bool:
    """`path` is a directory itself (not a link to one) and `condition(its lstat)` holds."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and bool(condition(info))


@contextlib.contextmanager
def skeleton_dir(place: Path, cache_dir: Path) -> Iterator[Path]:
    """A fresh private directory in `place`, removed after; outside the cache, one holding a lock."""
    if place == cache_dir:
        with tempfile.TemporaryDirectory(prefix=SKELETON_PREFIX, dir=cache_dir) as work:
            yield Path(work)
        return
    work = tempfile.mkdtemp(prefix=MEMORY_SKELETON_PREFIX, dir=place)
    try:
        lock = os.open(os.path.join(work, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        os.rmdir(work)
        raise
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield Path(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # still locked: no sweeper races us
        os.close(lock)


def sweep_crashed_skeletons(place: Path) -> None:
    """Remove this user's skeletons in `place` that no running uvguard holds.

    A running one holds the flock on its `lock` file (which also works across
    containers sharing `/dev/shm`, where pids would not). One younger than
    `_SWEEP_GRACE` seconds is left alone whatever its lock says: it may be
    between creating its directory and locking it.
    """
    try:
        names = [name for name in os.listdir(place) if name.startswith(MEMORY_SKELETON_PREFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(place, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or time.time() - info.st_mtime < _SWEEP_GRACE:
            continue
        try:
            lock = os.open(os.path.join(path, "lock"), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            shutil.rmtree(path, ignore_errors=True)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # held: a running uvguard's
        else:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(lock)


def build_skeleton(cache_dir: Path, skeleton: Path, outside: Path) -> Skeleton:
    """Mirror `cache_dir` at `skeleton` (see the module docstring); its relative paths, and what they came from."""
    skeleton.mkdir()
    outside.mkdir()
    builder = _SkeletonBuilder(os.path.realpath(cache_dir), str(cache_dir), str(skeleton), str(outside))
    touch(builder.empty)
    started = time.time_ns()
    builder.copy_dir(str(cache_dir), str(skeleton), "")
    racy = any(started - mtime < (_RACY_COARSE_NS if mtime % 1_000_000_000 == 0 else _RACY_NS)
               for _, _, mtime in builder.parsed.values())
    return Skeleton(builder.paths, builder.listings, builder.parsed, builder.provable and not racy)


class _SkeletonBuilder:
    """Walks the cache once; plain strings rather than Path objects, since this is the hot part."""

    def __init__(self, real_root: str, walked_root: str, skeleton: str, outside: str) -> None:
        self.real_root = real_root
        self.real_root_walked = walked_root
        self.skeleton = skeleton
        self.own_work_dir = os.path.dirname(skeleton)
        self.outside = outside
        self.paths: set[str] = set()
        self.listings: dict[str, tuple[tuple[str, int], ...]] = {}
        self.parsed: dict[str, tuple[int, int, int]] = {}
        self.provable = True  # see `Skeleton.provable`
        self.stand_ins = 0
        self.empty = os.path.join(outside, "empty")
        self.hard_links = os.stat(walked_root).st_dev == os.stat(skeleton).st_dev  # else files are copied

    def copy_dir(self, source: str, dest: str, rel: str) -> None:
        listing = []
        with os.scandir(source) as entries:
            for entry in entries:
                if not rel and entry.name.startswith(SKELETON_PREFIX) and entry.path == self.own_work_dir:
                    continue
                listing.append((entry.name, entry.inode()))
                child_rel = f"{rel}/{entry.name}" if rel else entry.name
                target = f"{dest}/{entry.name}"
                self.paths.add(child_rel)
                try:
                    self.copy_entry(entry, target, rel, child_rel)
                except FileNotFoundError:  # gone while we walk (an install's temp dir): no longer in the cache
                    self.paths.discard(child_rel)
                    self.provable = False
        self.listings[rel] = tuple(listing)

    def copy_entry(self, entry: os.DirEntry, target: str, rel: str, child_rel: str) -> None:
        if entry.is_symlink():
            self.copy_link(entry.path, target)
        elif not entry.is_dir(follow_symlinks=False):
            self.copy_file(entry, target, rel)
        elif _ARCHIVE_ENTRY.match(child_rel):
            self.placeholder(target)
        else:
            os.mkdir(target)
            if not (_OPAQUE.match(child_rel) or child_rel.startswith(SKELETON_PREFIX)):
                self.copy_dir(entry.path, target, child_rel)

    def placeholder(self, target: str) -> None:
        """An archive entry's stand-in: a hard link to one empty file, far cheaper than a new inode."""
        try:
            os.link(self.empty, target)
        except OSError as error:
            if error.errno != errno.EMLINK:
                raise
            self.empty = os.path.join(self.outside, f"empty-{len(self.paths)}")
            touch(self.empty)
            os.link(self.empty, target)

    def copy_file(self, entry: os.DirEntry, target: str, parent_rel: str) -> None:
        name = entry.name
        if name.endswith(PARSED_SUFFIXES) and entry.is_file(follow_symlinks=False):
            info = entry.stat(follow_symlinks=False)
            self.parsed[f"{parent_rel}/{name}" if parent_rel else name] = file_signature(info)
        if name.endswith(".lock"):
            touch(target)  # a hard link would share uv's flocks on it
        elif not entry.is_file(follow_symlinks=False):
            touch(target)  # a fifo or socket (even at CACHEDIR.TAG): uv never reads it, never open it
        elif not parent_rel and name in MARKERS:
            shutil.copyfile(entry.path, target)  # uv may rewrite these
        elif self.hard_links:
            try:
                os.link(entry.path, target)
            except OSError:
                shutil.copyfile(entry.path, target)  # protected_hardlinks
        elif name.endswith(PARSED_SUFFIXES):
            shutil.copyfile(entry.path, target)
        else:
            with open(target, "xb") as stand_in:  # sources, wheels: uv only lists and removes them
                stand_in.truncate(entry.stat(follow_symlinks=False).st_size)

    def copy_link(self, source: str, target: str) -> None:
        text = os.readlink(source)
        if self.copy_link_as_is(text, source, target):
            return
        self.provable = False  # where it leads depends on links outside the cache too
        resolved = os.path.realpath(source)
        if resolved != self.real_root and not resolved.startswith(self.real_root + os.sep):
            os.symlink(self.stand_in(resolved), target)
            return
        mirrored = self.skeleton + resolved[len(self.real_root):]
        if os.path.isabs(text):
            os.symlink(mirrored, target)
        else:
            os.symlink(os.path.relpath(mirrored, os.path.dirname(target)), target)

    def copy_link_as_is(self, text: str, source: str, target: str) -> bool:
        """The links uv writes, without a `realpath` each (the skeleton's hot spot).

        A relative link whose `..`s all lead (`../../archive-v0/<id>/...`)
        climbs through real directories only: we reach `source` through real
        directories, never through links. If it stays inside the cache when
        read as text, it means the same inside the skeleton, where any link
        on the rest of its way is mirrored too. An absolute link that names
        a path under the cache root (real, or as uv was given it, as uv
        <= 0.11.16 wrote them) likewise maps onto the skeleton.
        Anything else takes the `realpath` way.
        """
        if os.path.isabs(text):
            if "/.." in text or "/./" in text or "//" in text or text.endswith(("/", "/.")):
                return False  # not a plain path: `<archive>/` must not name the skeleton's file stand-in
            for root in (self.real_root, self.real_root_walked):
                if text.startswith(root + os.sep):
                    os.symlink(self.skeleton + text[len(root):], target)
                    return True
            return False
        climbs = plain_climbs(text)
        if climbs is None:
            return False
        depth = source[len(self.real_root_walked):].count(os.sep) - 1
        if climbs > depth:
            return False  # climbs out of the cache root
        os.symlink(text, target)
        return True

    def stand_in(self, resolved: str) -> str:
        """An empty file or directory of the target's kind, outside the skeleton."""
        self.stand_ins += 1
        stand_in = os.path.join(self.outside, str(self.stand_ins))
        if os.path.isdir(resolved):
            os.mkdir(stand_in)
        elif os.path.exists(resolved):
            touch(stand_in)
        return stand_in  # a missing target stays missing: the link dangles


def touch(path: str | Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))


def walk_paths(root: Path) -> Iterable[str]:
    for directory, dirs, files in os.walk(root):
        rel = os.path.relpath(directory, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in dirs + files:
            yield prefix + name
