"""What real uv would remove from a cache, as cache-relative paths: the removal plan.

Approach: ask the real uv binary itself, on a skeleton of the cache. Modelling
uv's prune per version would mean carrying bucket names and rules of every
release (`wheels-v5` → `wheels-v8`, hash-named archive references in 0.6,
sdist revision pruning, `python-v0` wrongly deleted 0.8.4–0.11.20, ...) and
still missing the next release. The skeleton is cheap because uv removes
`archive-v0/<id>` and cached environments whole, without reading them:

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

Real uv then runs `cache prune [--ci]` / `cache clean PKG...` on the
skeleton, and whatever vanished is the plan.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uvguard.errors import OperationFailed
from uvguard.escapes import plain_climbs
from uvguard.invocation import CLEAN, CLEAN_PACKAGES, PRUNE, PRUNE_CI, Invocation
from uvguard.realuv import ask_uv

if TYPE_CHECKING:
    from uvguard.uvconfig import EffectiveConfig

MARKERS = frozenset({"CACHEDIR.TAG", ".gitignore", ".git", ".lock"})
SKELETON_PREFIX = ".uvguard-skeleton-"
MEMORY_SKELETON_PREFIX = "uvguard-skeleton-"
# The files uv reads while pruning or cleaning; a memory skeleton copies only these.
PARSED_SUFFIXES = (".http", ".rev", ".msgpack", ".rkyv")
_SWEEP_GRACE = 60.0  # seconds
# Directories uv removes whole without looking inside: the skeleton keeps them empty.
_OPAQUE = re.compile(r"^(archive-v\d+|environments-v\d+)/[^/]+$")
_ARCHIVE_ENTRY = re.compile(r"^archive-v\d+/[^/]+$")
# Environment variables that would point the skeleton run at another cache.
_CACHE_VARIABLES = ("UV_CACHE_DIR", "UV_NO_CACHE", "UV_CONFIG_FILE", "UV_NO_CONFIG")
# A parsed file changed this recently (ns) may change again with the same timestamps; more than a
# kernel clock tick (1-10 ms), and 2 s on a filesystem with whole-second timestamps (ext3, FAT).
_RACY_NS = 100_000_000
_RACY_COARSE_NS = 2_000_000_000


@dataclass(frozen=True)
class PlanBasis:
    """What a plan was worked out from, so a second plan can prove the cache unchanged (`unchanged`)
    instead of building a skeleton and running uv again.

    uv's plan depends on the cache's directories (the archive entries and
    cached environments by name only: uv never looks inside), the contents
    of the files it parses, and the uv run. Every directory the skeleton
    copied is remembered by its entries' names and inodes, as `scandir` lists
    them (a file or link replaced, as uv writes them, is a new inode); every
    parsed file by inode, size and mtime (not ctime: a skeleton of hard links
    changes it; a file rewritten in place with its mtime put back is not seen).
    """

    uv: tuple  # the binary (real path, inode, size, mtime), the arguments and the environment it ran with
    listings: Mapping[str, tuple[tuple[str, int], ...]]  # cache-relative directory -> its (name, inode)s
    parsed: Mapping[str, tuple[int, int, int]]  # cache-relative file -> (inode, size, mtime)


@dataclass(frozen=True)
class Skeleton:
    """A skeleton's cache-relative paths, and the basis of a plan read off it (None: not provable)."""

    paths: set[str]
    listings: dict[str, tuple[tuple[str, int], ...]]
    parsed: dict[str, tuple[int, int, int]]
    provable: bool  # nothing vanished during the walk, no link resolved outside, no parsed file racy


@dataclass(frozen=True)
class Plan:
    """The topmost cache-relative POSIX paths real uv would remove, sorted (sized by `sizes.measure`)."""

    operation: str
    cache_dir: Path
    remove: tuple[str, ...]
    remove_root: bool = False  # a full clean by a uv that then removes `.lock` and the cache dir itself
    basis: PlanBasis | None = field(default=None, compare=False, repr=False)  # None: never reused


def removal_plan(invocation: Invocation, config: EffectiveConfig, real_uv: str, env: Mapping[str, str],
                 previous: Plan | None = None) -> Plan:
    """What real uv (`real_uv`) would remove for `invocation` from `config.cache_dir`.

    The root markers are never in a prune's plan: uv keeps them. A full clean
    removes them too, and `.lock` and the cache dir itself in the releases
    that do (`kept_by_clean` asks this uv); `.lock` is never in `remove`, it
    goes last with the directory, if at all.

    `previous`, a plan of the same line worked out earlier (the decision's,
    before uv's lock was taken), is returned as it is when its basis proves
    the cache, the uv binary and its run unchanged (`unchanged`); otherwise
    the plan is worked out again.
    """
    cache_dir = Path(config.cache_dir)
    operation = invocation.operation
    if config.no_cache or not cache_dir.is_dir():
        return Plan(operation, cache_dir, ())
    if operation not in (PRUNE, PRUNE_CI, CLEAN, CLEAN_PACKAGES):
        raise ValueError(f"not a cache operation: {operation}")
    uv = _uv_basis(invocation, real_uv, env)
    if (previous is not None and previous.operation == operation and previous.cache_dir == cache_dir
            and unchanged(previous, uv)):
        return previous
    if operation == CLEAN:
        kept = kept_by_clean(cache_dir, invocation, real_uv, env)
        listing = _listing(str(cache_dir))
        basis = PlanBasis(uv, {"": listing}, {}) if uv is not None else None
        return Plan(operation, cache_dir, clean_all_paths(cache_dir, kept or frozenset(), listing),
                    remove_root=kept is None, basis=basis)
    memory = memory_dirs(env)
    for place in memory:
        sweep_crashed_skeletons(place)
    found = None
    for place in memory:
        try:
            found = _removed_on_skeleton(place, cache_dir, invocation, real_uv, env)
            break
        except (OSError, OperationFailed):
            continue  # full, most likely: the next place or the cache may have room; a real problem shows there too
    if found is None:
        found = _removed_on_skeleton(cache_dir, cache_dir, invocation, real_uv, env)
    removed, skeleton = found
    basis = PlanBasis(uv, skeleton.listings, skeleton.parsed) if skeleton.provable and uv is not None else None
    return Plan(operation, cache_dir, topmost(path for path in removed if path not in MARKERS), basis=basis)


def unchanged(plan: Plan, uv: tuple | None) -> bool:
    """Whether `plan`'s basis still holds: the same uv run (`uv`), and every directory it was worked
    out from listing the same names and inodes, every parsed file the same inode, size and mtime.

    Costs one `scandir` per remembered directory and one `lstat` per parsed
    file, no writes and no uv run; any doubt (an unreadable directory, a
    basis that could not be taken) answers False, and the plan is worked out again.
    """
    basis = plan.basis
    if basis is None or uv is None or basis.uv != uv:
        return False
    root = str(plan.cache_dir)
    for rel, listing in basis.listings.items():
        try:
            if _listing(f"{root}/{rel}" if rel else root) != listing:
                return False
        except OSError:
            return False
    for rel, signature in basis.parsed.items():
        try:
            if _signature(os.lstat(f"{root}/{rel}")) != signature:
                return False
        except OSError:
            return False
    return True


def _uv_basis(invocation: Invocation, real_uv: str, env: Mapping[str, str]) -> tuple | None:
    """What a plan depends on besides the cache: the binary as it is on disk, and how it is run."""
    from uvguard.realuv import _binary_key

    binary = _binary_key(real_uv)
    if binary is None:
        return None
    arguments = (*preview_args(invocation), *_operation_args(invocation))
    return binary, real_uv, arguments, tuple(sorted(_child_env(env).items()))


def _listing(directory: str) -> tuple[tuple[str, int], ...]:
    with os.scandir(directory) as entries:
        return tuple((entry.name, entry.inode()) for entry in entries)


def _signature(info: os.stat_result) -> tuple[int, int, int]:
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


def _removed_on_skeleton(place: Path, cache_dir: Path, invocation: Invocation, real_uv: str,
                         env: Mapping[str, str]) -> tuple[set[str], Skeleton]:
    """The cache-relative paths real uv removes from a skeleton of the cache built in `place`, and the skeleton."""
    with _skeleton_dir(place, cache_dir) as work:
        skeleton = work / "cache"
        before = build_skeleton(cache_dir, skeleton, work / "outside")
        _run_uv_on(skeleton, invocation, real_uv, env)
        return before.paths - set(_walk_paths(skeleton)), before


@contextlib.contextmanager
def _skeleton_dir(place: Path, cache_dir: Path) -> Iterator[Path]:
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


def clean_all_paths(cache_dir: Path, kept: frozenset[str],
                    listing: tuple[tuple[str, int], ...] | None = None) -> tuple[str, ...]:
    """Every top-level entry of the cache (or of its `listing`) except `.lock` and what a clean keeps."""
    names = os.listdir(cache_dir) if listing is None else [name for name, _ in listing]
    return tuple(sorted(name for name in names if name != ".lock" and name not in kept))


def kept_by_clean(cache_dir: Path, invocation: Invocation, real_uv: str,
                  env: Mapping[str, str]) -> frozenset[str] | None:
    """What this uv's `cache clean` leaves of a cache holding only its markers; None when it
    removes the cache dir itself (0.13.9 keeps `.lock` and the dir; 0.5.31 to 0.12.24 remove both).

    Asked of the running uv on a scratch cache, like `size_accounting`, rather
    than carried per release.
    """
    def clean(probe: Path) -> frozenset[str] | None:
        for name in MARKERS - {".git"}:
            _touch(probe / name)
        (probe / ".git").mkdir()
        result = _run_uv(probe, ["cache", "clean"], invocation, real_uv, env)
        if result.returncode != 0:
            raise OperationFailed(f"could not work out what `uv cache clean` removes: {real_uv} exited "
                                  f"{result.returncode} on a scratch cache; nothing was removed\n"
                                  + result.stderr.strip())
        return frozenset(os.listdir(probe)) if probe.is_dir() else None

    return _in_scratch_cache(cache_dir, env, clean)


def _in_scratch_cache(cache_dir: Path, env: Mapping[str, str], action: Callable[[Path], Any]) -> Any:
    """`action(an empty scratch cache dir)`, beside the cache or, when its disk is full, in memory."""
    failure: OSError | None = None
    for place in (cache_dir, *memory_dirs(env)):
        try:
            with _skeleton_dir(place, cache_dir) as work:
                probe = work / "cache"
                probe.mkdir()
                return action(probe)
        except OSError as error:
            failure = error
    raise failure  # type: ignore[misc]  # set: the loop runs at least once


def protected_entries(plan: Plan, live_entries: Iterable[str]) -> tuple[str, ...]:
    """The live entries the plan would remove, directly or inside a removed parent."""
    removed = set(plan.remove)
    return tuple(sorted(entry for entry in set(live_entries) if _covered(entry, removed)))


def _covered(entry: str, removed: set[str]) -> bool:
    parts = entry.split("/")
    return any("/".join(parts[:i]) in removed for i in range(1, len(parts) + 1))


def topmost(paths: Iterable[str]) -> tuple[str, ...]:
    """The paths whose parent is not in the set itself."""
    paths = set(paths)
    return tuple(sorted(p for p in paths if p.rpartition("/")[0] not in paths))


def build_skeleton(cache_dir: Path, skeleton: Path, outside: Path) -> Skeleton:
    """Mirror `cache_dir` at `skeleton` (see the module docstring); its relative paths, and what they came from."""
    skeleton.mkdir()
    outside.mkdir()
    builder = _SkeletonBuilder(os.path.realpath(cache_dir), str(cache_dir), str(skeleton), str(outside))
    _touch(builder.empty)
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
            _touch(self.empty)
            os.link(self.empty, target)

    def copy_file(self, entry: os.DirEntry, target: str, parent_rel: str) -> None:
        name = entry.name
        if name.endswith(PARSED_SUFFIXES) and entry.is_file(follow_symlinks=False):
            self.parsed[f"{parent_rel}/{name}" if parent_rel else name] = _signature(entry.stat(follow_symlinks=False))
        if name.endswith(".lock"):
            _touch(target)  # a hard link would share uv's flocks on it
        elif not entry.is_file(follow_symlinks=False):
            _touch(target)  # a fifo or socket (even at CACHEDIR.TAG): uv never reads it, never open it
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
            _touch(stand_in)
        return stand_in  # a missing target stays missing: the link dangles


def _touch(path: str | Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))


def _walk_paths(root: Path) -> Iterable[str]:
    for directory, dirs, files in os.walk(root):
        rel = os.path.relpath(directory, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in dirs + files:
            yield prefix + name


def _operation_args(invocation: Invocation) -> list[str]:
    """uv's arguments for the operation itself, run on a skeleton."""
    if invocation.operation == CLEAN_PACKAGES:
        return ["cache", "clean", *invocation.packages]
    if invocation.operation == CLEAN:
        return ["cache", "clean"]
    return ["cache", "prune"] + (["--ci"] if invocation.operation == PRUNE_CI else [])


def _run_uv_on(skeleton: Path, invocation: Invocation, real_uv: str, env: Mapping[str, str]) -> None:
    command = _operation_args(invocation)
    result = _run_uv(skeleton, command, invocation, real_uv, env)
    if result.returncode != 0:
        raise OperationFailed(
            f"could not work out what `uv {' '.join(command)}` would remove: "
            f"{real_uv} exited {result.returncode} on a skeleton of the cache; nothing was removed\n"
            + result.stderr.strip(),
        )


def _run_uv(cache: Path, command: list[str], invocation: Invocation, real_uv: str,
            env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """Real uv on a scratch cache, isolated from config files but with the invocation's preview flags."""
    args = ["--no-config", "--offline", "--no-progress", "--cache-dir", str(cache), *preview_args(invocation)]
    return ask_uv(real_uv, args + command, _child_env(env))


def preview_args(invocation: Invocation) -> list[str]:
    """The invocation's preview flags, as every uv run on a scratch cache gets them."""
    features = [f"--preview-features={feature}" for feature in invocation.option("preview-features", ())]
    return (["--preview"] if invocation.option("preview") else []) + features


def _child_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in _CACHE_VARIABLES}


def size_accounting(cache_dir: Path, invocation: Invocation, real_uv: str,
                    env: Mapping[str, str]) -> tuple[str, bool]:
    """`physical` or `logical`: how this uv counts freed bytes in its summary line; and whether
    uv itself told it on the cache's filesystem (an answer `sizes.counts_blocks` remembers).

    uv up to 0.11 reports logical sizes; 0.12 added physical space (blocks
    not shared with a hard link) as a preview feature and later made it the
    default, falling back to logical on filesystems that cannot tell. Rather
    than tracking which release does what, uv prunes a one-byte file beside
    the cache: `(1B)` means logical. When the cache's disk is full, a memory
    filesystem answers for this uv instead (both tell physical sizes).
    """
    def prune(probe: Path) -> tuple[subprocess.CompletedProcess, bool]:
        (probe / "probe").write_bytes(b"x")
        return _run_uv(probe, ["cache", "prune"], invocation, real_uv, env), probe.parent.parent == cache_dir

    try:
        result, beside_the_cache = _in_scratch_cache(cache_dir, env, prune)
    except OSError:
        return "logical", False  # nowhere to write one byte: the count is still right, only the size may not be
    lines = result.stderr.strip().splitlines()
    if result.returncode != 0 or not lines:
        return "logical", False
    return ("physical" if lines[-1].endswith(")") and not lines[-1].endswith("(1B)") else "logical"), beside_the_cache
