"""The live set: which top-level cache entries the environments on disk link into.

uv cannot know what a symlink-mode environment uses, so we look: every symlink
under a root whose target lies in the cache marks the top-level entry it lands
in (`archive-v0/<id>`, `environments-v2/<x>`) as live. The walk never enters a
symlinked directory, reads link targets instead of following them, and lists
only directories inside the cache, so loops and links leading out of the cache
cost nothing. uv builds its links from the cache root made absolute but not
resolved, so both sides are compared after `realpath`. A path that reaches its
target through links inside the cache (a `.venv` linking to
`environments-v2/<x>/<y>`, itself a link to `archive-v0/<id>`) needs every entry
holding one of those links as much as the one it ends in: all are live.

A root that exists but cannot be read never counts as "no links": its
environment is `unreadable` and the whole LiveSet `uncertain`.

Given uvguard's state directory, a scan reuses what the last one found in
an environment when a cheap check proves it unchanged (`uvguard.scanmemory`),
and remembers what it found for the next.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable

from uvguard import scanmemory
from uvguard.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from uvguard.roots import Root

OK = "ok"
GONE = "gone"
UNREADABLE = "unreadable"
UNLINKED = "unlinked"


class Environment(NamedTuple):
    """One root after the scan; `live_entries` are cache-relative POSIX paths."""

    path: str
    origins: tuple[str, ...]
    state: str
    live_entries: frozenset[str] = frozenset()
    dangling: tuple[str, ...] = ()
    reason: str = ""


class LiveSet(NamedTuple):
    cache_dir: str
    environments: tuple[Environment, ...] = ()
    uncertain: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def entries(self) -> dict[str, tuple[str, ...]]:
        """Live cache entry -> the environments that link into it."""
        users: dict[str, list[str]] = {}
        for environment in self.environments:
            for entry in environment.live_entries:
                users.setdefault(entry, []).append(environment.path)
        return {entry: tuple(users[entry]) for entry in sorted(users)}

    def to_json(self) -> dict:
        environments = [{**environment._asdict(), "origins": list(environment.origins),
                         "live_entries": sorted(environment.live_entries), "dangling": list(environment.dangling)}
                        for environment in self.environments]
        return {"cache_dir": self.cache_dir, "environments": environments, "uncertain": self.uncertain,
                "reasons": list(self.reasons),
                "entries": {entry: list(paths) for entry, paths in self.entries.items()}}


class _Parent:
    """A directory link targets sit in: cache-relative path (None outside), its entry if fixed, its names
    and which of them are links, the cache root as the link spells it (None when a symlink inside the cache
    makes it ambiguous), and the entries holding links its resolution passes through."""

    __slots__ = ("relative", "entry", "names", "links", "prefix", "through")

    def __init__(self, relative: str | None, entry: str | None, names: frozenset | None,
                 links: frozenset = frozenset(), prefix: str | None = None,
                 through: frozenset = frozenset()) -> None:
        self.relative, self.entry, self.names, self.prefix = relative, entry, names, prefix
        self.links, self.through = links, through


class _Cache:
    """The cache root's real path, and memos shared by every root of one scan."""

    __slots__ = ("real", "parents", "entries", "present", "chains")

    def __init__(self, real: str) -> None:
        self.real = real
        self.parents: dict[str, _Parent] = {}  # link parent dir -> _Parent
        self.chains: dict[str, frozenset[str]] = {}  # link target that is itself a link -> entries it needs
        self.entries: dict[str, bool] = {}  # entry -> exists
        self.present: set[str] = set()  # the entries found to exist

    def locate(self, target: str) -> tuple[str | None, bool, _Parent]:
        """(top-level entry, target exists, its parent) for an absolute normalised link target; entry None
        outside the cache."""
        parent, _, name = target.rpartition("/")
        known = self.parents.get(parent)
        if known is None:
            known = self.parents[parent] = self._parent_info(parent or "/")
        exists = known.names is not None and name in known.names
        if known.entry is not None:
            return known.entry, exists, known
        if known.relative is None:
            return None, False, known
        # The parent is the cache root or a bucket: the entry depends on the name.
        return (f"{known.relative}/{name}" if known.relative else name), exists, known

    def through(self, target: str, parent: _Parent) -> frozenset[str]:
        """The entries holding links that resolving `target` passes through, and where a target that is
        itself a link ends; empty for the common target, a file in a real directory."""
        name = target.rpartition("/")[2]
        if parent.names is not None and name not in parent.links:
            return parent.through
        # Outside the cache (or unlisted) nothing says whether it is a link: ask once per target.
        if target not in self.chains:
            hops, real = _resolve(target, self.real)
            end = _entry_of(real, self.real) if real is not None and real != target else None
            self.chains[target] = frozenset(hops | {end} if end and self.entry_exists(end) else hops)
        return parent.through | self.chains[target]

    def _parent_info(self, parent: str) -> _Parent:
        real_parent = os.path.realpath(parent)
        through = frozenset(_resolve(parent, self.real)[0]) if real_parent != parent else frozenset()
        if real_parent == self.real:
            relative = ""
        elif real_parent.startswith(self.real + os.sep):
            relative = real_parent[len(self.real) + 1:].replace(os.sep, "/")
        else:
            return _Parent(None, None, None, through=through)
        parts = relative.split("/", 2)
        entry = "/".join(parts[:2]) if len(parts) >= 2 else None
        spelled = parent if not relative else parent[:-len(relative) - 1] if parent.endswith("/" + relative) else None
        try:
            with os.scandir(real_parent) as listing:
                found = [(item.name, item.is_symlink()) for item in listing]
        except OSError:
            return _Parent(relative, entry, None, prefix=spelled, through=through)
        return _Parent(relative, entry, frozenset(name for name, _ in found),
                       frozenset(name for name, link in found if link), spelled, through)

    def all_exist(self, entries: frozenset[str]) -> bool:
        """Whether every one of `entries` is in the cache; set arithmetic first: environments share most."""
        return all(self.entry_exists(entry) for entry in entries - self.present)

    def entry_exists(self, entry: str) -> bool:
        if entry not in self.entries:
            self.entries[entry] = os.path.lexists(os.path.join(self.real, *entry.split("/")))
            if self.entries[entry]:
                self.present.add(entry)
        return self.entries[entry]


class _Walk:
    """What the walk of one root found."""

    __slots__ = ("live", "dangling", "failures", "directories", "stats", "prefixes", "outside")

    def __init__(self) -> None:
        self.live: set[str] = set()
        self.dangling: list[str] = []
        self.failures: list[str] = []
        self.directories: list[str] = []  # walked, relative to the root
        self.stats: list[tuple[int, int]] = []  # (inode, ctime) of each, read before listing it
        self.prefixes: set[str | None] = set()  # the cache roots the links spell
        self.outside: set[str] = set()  # the directories holding targets outside the cache


class _Memory:
    """Scans remembered in uvguard's state directory, for one scan of one cache."""

    __slots__ = ("path", "known", "started_ns", "changed", "reals")

    def __init__(self, path: str, known: dict, started_ns: int) -> None:
        self.path, self.known, self.started_ns = path, known, started_ns
        self.changed = False
        self.reals: dict[str, str] = {}  # remembered directory -> its real path now

    def real_of(self, path: str) -> str:
        if path not in self.reals:
            self.reals[path] = os.path.realpath(path)
        return self.reals[path]


def scan_live_set(cache_dir: str | os.PathLike, roots: Iterable, state_dir: str | None = None) -> LiveSet:
    """Scan each root (a `roots.Root`: path, origins, error) for links into `cache_dir`.

    With `state_dir`, environments a cheap check proves unchanged since the
    last scan are not read again, and what this scan found is remembered.
    """
    cache_root = os.path.abspath(os.fspath(cache_dir))
    cache = _Cache(real=os.path.realpath(cache_root))
    memory = None
    if state_dir is not None:
        path = scanmemory.memory_path(state_dir)
        memory = _Memory(path, scanmemory.load(path), time.time_ns())
    environments = tuple(_scan_root(root, cache, memory) for root in roots)
    if memory is not None and memory.changed:
        # Environments deleted since they were remembered go; the rest stay for the scans that name them.
        scanmemory.save(memory.path, [item for item in memory.known.values() if os.path.lexists(item.path)])
    reasons = tuple(f"{env.path}: {env.reason}" for env in environments if env.state == UNREADABLE)
    return LiveSet(cache_dir=cache_root, environments=environments, uncertain=bool(reasons), reasons=reasons)


def _scan_root(root: Root, cache: _Cache, memory: _Memory | None = None) -> Environment:
    path = os.path.abspath(root.path)
    origins = root.origins
    if root.error:
        return Environment(path, origins, UNREADABLE, reason=root.error)
    if memory is not None:
        known = memory.known.get((path, cache.real))
        if known is not None and scanmemory.unchanged(known, memory.real_of) and cache.all_exist(known.entries):
            return Environment(path, origins, OK if known.entries else UNLINKED, known.entries)
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return _forget(memory, path, cache, Environment(path, origins, GONE))
    except OSError as error:
        return _forget(memory, path, cache, Environment(path, origins, UNREADABLE, reason=_describe(error)))
    walk = _Walk()
    _record_through(_resolve(path, cache.real)[0], walk)
    start = path
    if stat.S_ISLNK(info.st_mode):
        # A `.venv` that is itself a link (e.g. into `environments-v2/<x>`):
        # that entry is live, and so is whatever the linked environment uses.
        _record_link(path, os.path.dirname(path), cache, walk)
        start = os.path.realpath(path)
    if os.path.isdir(start):
        _walk(start, cache, walk)
    elif not os.path.exists(start) and not stat.S_ISLNK(info.st_mode):
        return _forget(memory, path, cache, Environment(path, origins, GONE))
    environment = _environment(path, origins, walk)
    if memory is not None:
        _remember(memory, cache, environment, info, walk)
    return environment


def _forget(memory: _Memory | None, path: str, cache: _Cache, environment: Environment) -> Environment:
    if memory is not None and memory.known.pop((path, cache.real), None) is not None:
        memory.changed = True
    return environment


def _remember(memory: _Memory, cache: _Cache, environment: Environment, info: os.stat_result, walk: _Walk) -> None:
    """Keep what a full scan found, unless the check could not prove it unchanged next time."""
    key = (environment.path, cache.real)
    racy = memory.started_ns - int(scanmemory.RACY_SECONDS * 1e9)
    if (environment.state not in (OK, UNLINKED) or environment.dangling or stat.S_ISLNK(info.st_mode)
            or None in walk.prefixes or any(ctime >= racy for _, ctime in walk.stats)):
        _forget(memory, environment.path, cache, environment)
        return
    directories, digest = scanmemory.grouped(walk.directories, walk.stats)
    memory.known[key] = scanmemory.Remembered(
        environment.path, cache.real, info.st_ino, digest, environment.live_entries,
        frozenset(walk.prefixes), frozenset(walk.outside), directories)  # type: ignore[arg-type]  # no None: see above
    memory.changed = True


def _environment(path: str, origins: tuple[str, ...], walk: _Walk) -> Environment:
    live = frozenset(walk.live)
    dangling = tuple(walk.dangling)
    if walk.failures:
        return Environment(path, origins, UNREADABLE, live, dangling, reason="; ".join(walk.failures[:3]))
    return Environment(path, origins, OK if live or dangling else UNLINKED, live, dangling)


def _walk(top: str, cache: _Cache, walk: _Walk) -> None:
    """Iterative scandir walk of real directories; symlinks are read, never entered.

    Each directory is stat'ed before it is listed: a change while it is
    listed then shows as a newer ctime at the next check."""
    start = os.path.realpath(top)
    pending = [start]
    while pending:
        directory = pending.pop()
        try:
            info = os.lstat(directory)
            walk.directories.append(directory[len(start) + 1:])
            walk.stats.append((info.st_ino, info.st_ctime_ns))
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        _record_link(entry.path, directory, cache, walk)
                    elif entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except OSError as error:
            walk.failures.append(f"cannot read {directory}: {_describe(error)}")


def _record_link(link: str, directory: str, cache: _Cache, walk: _Walk) -> None:
    try:
        target = os.readlink(link)
    except OSError as error:
        walk.failures.append(f"cannot read link {link}: {_describe(error)}")
        return
    # The hot path, hence string operations: uv writes clean absolute targets.
    if target[:1] != "/":
        target = f"{directory}/{target}"
    if "/.." in target:
        # `..` after a symlinked component is not lexical: resolve the parent, noting the links it passes.
        _record_through(_resolve(target, cache.real)[0], walk)
        parent, _, name = target.rpartition("/")
        target = os.path.realpath(target) if name in (".", "..") else f"{os.path.realpath(parent or '/')}/{name}"
    elif "/." in target or "//" in target or target.endswith("/"):
        target = os.path.normpath(target)
    entry, exists, parent = cache.locate(target)
    _record_through(cache.through(target, parent), walk)
    if entry is None:
        walk.outside.add(target.rpartition("/")[0] or "/")
        return
    walk.prefixes.add(parent.prefix)
    if exists:
        walk.live.add(entry)
    else:
        walk.dangling.append(link)
        if cache.entry_exists(entry):
            walk.live.add(entry)


def _record_through(entries: Iterable[str], walk: _Walk) -> None:
    """Entries a link's resolution passes through are live; the links in them can change without the
    environment's directories changing, so such a scan is not remembered (a None prefix)."""
    if entries:
        walk.live.update(entries)
        walk.prefixes.add(None)


# The kernel's limit on links followed in one lookup: a longer chain is a loop.
_MAX_HOPS = 40


def _resolve(path: str, cache_real: str) -> tuple[set[str], str | None]:
    """(the entries holding a link that resolving absolute `path` passes through, its real path; None for
    a loop). Like `realpath`, one component at a time, noting where each link it follows sits."""
    hops: set[str] = set()
    resolved, pending, followed = "", path.split("/")[::-1], 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            resolved = resolved.rpartition("/")[0]
            continue
        candidate = f"{resolved}/{name}"
        try:
            target = os.readlink(candidate)
        except OSError:  # not a link, or missing: as `realpath`, keep the name
            resolved = candidate
            continue
        followed += 1
        if followed > _MAX_HOPS:
            return hops, None
        entry = _entry_of(candidate, cache_real)
        if entry is not None:
            hops.add(entry)
        if target.startswith("/"):
            resolved = ""
        pending.extend(target.split("/")[::-1])
    return hops, resolved or "/"


def _entry_of(real: str, cache_real: str) -> str | None:
    """The top-level cache entry a real path lies in; None outside the cache or above its entries."""
    if not real.startswith(cache_real + "/"):
        return None
    parts = real[len(cache_real) + 1:].split("/", 2)
    return "/".join(parts[:2]) if len(parts) >= 2 else None


def _describe(error: OSError) -> str:
    return error.strerror or str(error)
