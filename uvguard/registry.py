"""The registry of environments: raw facts appended at install-type commands.

Recording must cost almost nothing on the passthrough path, so a record is
just the facts a later reader needs to work out which environment a command
wrote to; resolving them to a path happens at read time (`uvguard.roots`).

One file, `$XDG_STATE_HOME/uvguard/registry` (default
`~/.local/state/uvguard/registry`), outside every cache dir because uv's prune
deletes unknown entries there. A record is one line, fields separated by the
unit separator 0x1f:

    u1 CWD VIRTUAL_ENV CONDA_PREFIX UV_PROJECT_ENVIRONMENT UV_PROJECT
       UV_WORKING_DIR UV_WORKING_DIRECTORY UV_TOOL_DIR UV_PYTHON
       UV_SYSTEM_PYTHON UV_CACHE_DIR XDG_DATA_HOME HOME ARG...

An unset variable is an empty field. Each record is written with a single
O_APPEND write, so concurrent writers do not interleave. The sh front
(`shim.sh`) writes the same format; keep the two in step.

Decisions read the index of environments instead of that growing log. The
shim appends one record per install-type command to `registry` and never
reads anything; a decision folds what was appended since the last one into
`index` (one entry per resolved environment: the newest record naming it,
the targets it resolved to, and since when they have been gone) and reads
only that, so its cost grows with environments, not with commands recorded.

Folding, under an exclusive flock on `registry.lock`:
- every registry file is read from the byte offset the index says was folded
  (complete lines only); a file is known by its inode and the bytes just
  before that offset, so a file replaced under the same name is read whole;
- `registry` is renamed to `registry.rotated.<ns>` once it is large, so the
  log stays small; a shim that opened it just before the rename appends to
  the rotated file, whose new tail the next fold reads; a rotated file is
  deleted once folded and `ROTATED_KEEP_SECONDS` old;
- the new index is written to a temporary file and renamed over the old one
  before any registry file is deleted: a crash at any point leaves either
  the old index with every file it has not folded, or the new one;
- a record that is not one (binary garbage, a truncated line) cannot say
  which environment it named, so the file holding it is kept as
  `registry.unreadable.<ns>` and, while it exists, the live set is
  uncertain; an index that cannot be read is kept as `index.unreadable.<ns>`
  the same way, and a new one is built from the registry files still there.

Nothing heavier than the standard library's basics at import: the shim's
Python side records through this module (json is imported when an index is).
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import time
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence

from uvguard.paths import state_dir

SEPARATOR = "\x1f"
TAG = "u1"
ENV_FIELDS = (
    "VIRTUAL_ENV", "CONDA_PREFIX", "UV_PROJECT_ENVIRONMENT", "UV_PROJECT",
    "UV_WORKING_DIR", "UV_WORKING_DIRECTORY", "UV_TOOL_DIR", "UV_PYTHON",
    "UV_SYSTEM_PYTHON", "UV_CACHE_DIR", "XDG_DATA_HOME", "HOME",
)


class Record:
    """One install-type command line as the shim saw it.

    A plain class: the shim's Python side imports this module, and neither
    `dataclasses` nor `typing` belongs on that path.
    """

    __slots__ = ("cwd", "env", "args")

    def __init__(self, cwd: str, env: dict, args: tuple[str, ...]) -> None:
        self.cwd, self.env, self.args = cwd, env, args

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and (self.cwd, self.env, self.args) == (other.cwd, other.env, other.args)

    def __repr__(self) -> str:
        return f"Record(cwd={self.cwd!r}, env={self.env!r}, args={self.args!r})"


def registry_path(env: Mapping[str, str]) -> str:
    return os.path.join(state_dir(env), "registry")


def format_record(cwd: str, env: Mapping[str, str], args: Sequence[str]) -> str | None:
    """The registry line for one command, or None when a field cannot be stored."""
    fields = [TAG, cwd, *(env.get(name, "") for name in ENV_FIELDS), *args]
    if any(SEPARATOR in field or "\n" in field for field in fields[1:]):
        return None
    return SEPARATOR.join(fields) + "\n"


def parse_record(line: str) -> Record | None:
    """A Record from one registry line; None for a line that is not one (skipped by readers)."""
    fields = line.rstrip("\n").split(SEPARATOR)
    if len(fields) < 2 + len(ENV_FIELDS) or fields[0] != TAG:
        return None
    env = {name: value for name, value in zip(ENV_FIELDS, fields[2:]) if value}
    return Record(cwd=fields[1], env=env, args=tuple(fields[2 + len(ENV_FIELDS):]))


def append(cwd: str, env: Mapping[str, str], args: Sequence[str]) -> None:
    """Record one command; any failure is ignored, as recording must never block uv."""
    line = format_record(cwd, env, args)
    if line is None:
        return
    try:
        append_line(registry_path(env), line.encode("utf-8", "surrogateescape"))
    except OSError:
        pass


def read_regular(path: str | os.PathLike) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at `path` and its facts, read without ever blocking: a FIFO,
    device or socket in its place is an OSError ("not a regular file"), never opened for reading."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        with os.fdopen(os.dup(fd), "rb") as stream:
            return stream.read(), info
    finally:
        os.close(fd)


def append_line(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Append `data` with one O_APPEND write (whole lines never interleave with
    other writers'), creating the file and its directory when missing. Never blocks: a FIFO
    in its place with no reader fails at once (ENXIO) instead of hanging the command."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
        fd = os.open(path, flags, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# --- the index: reading, rotating, compacting the registry under its lock ---------------------------

INDEX_VERSION = 1
# A record whose environment is gone is dropped only once it has been seen
# gone for this long: the shim appends before uv creates the environment.
GONE_GRACE_SECONDS = 3600
# `registry` is rotated once this many bytes of it are folded.
ROTATE_BYTES = 1 << 16
# How long a rotated registry file is kept for writers that opened it before the rotation.
ROTATED_KEEP_SECONDS = 60
# A file not written to for this long has no write in flight: an unterminated last line is not one.
SETTLED_SECONDS = 10
INDEX = "index"
ROTATED = "registry.rotated."
UNREADABLE = ".unreadable."
_MARK_BYTES = 32
TOOLS_PREFIX = "tools:"  # a target that stands for every tool environment in a directory (roots.TOOLS_PREFIX)

Resolve = Callable[[Record, dict], tuple]  # a record (and a memo) -> what it wrote to (roots.record_targets)
Expand = Callable[[tuple], list]  # those targets -> environment paths (tool dirs stand for their tools)


class Mark(namedtuple("Mark", "inode offset before unreadable")):
    """How far one registry file is folded: its inode (int), the offset (int), the bytes before it (str),
    unreadable lines (int). A collections.namedtuple: typing stays off the shim's path."""

    __slots__ = ()


class Entry(namedtuple("Entry", "line gone_since")):
    """One resolved environment: the newest record naming it (str), and since when it has been gone
    (float, or None)."""

    __slots__ = ()


class IndexView(namedtuple("IndexView", "paths unknown")):
    """What a decision needs: the environments the registry names that are present (tuple of str), and
    what is unknown: (file, why) for every record or index that could not be read."""

    __slots__ = ()


def read_index(env: Mapping[str, str], resolve: Resolve, expand: Expand, now: float | None = None) -> IndexView:
    """Fold new records into the index and return the present environments. Raises OSError when
    the state directory exists but cannot be read."""
    now = time.time() if now is None else now
    with _Lock(env) as lock:
        return _Fold(env, resolve, expand, now, writable=lock.held).run()


class _Fold:
    def __init__(self, env: Mapping[str, str], resolve: Resolve, expand: Expand, now: float, writable: bool) -> None:
        self.directory = state_dir(env)
        self.resolve, self.expand, self.now, self.writable = resolve, expand, now, writable
        self.changed = False
        self.files: dict[str, Mark] = {}
        self.entries: dict[tuple, Entry] = {}
        self.unknown: list[tuple[str, str]] = []

    def run(self) -> IndexView:
        names = self._names()
        self._load(names)
        new_lines = []
        for name in _fold_order(names):
            new_lines += self._read_tail(name)
        memo: dict = {}
        for line, record in new_lines:
            targets = tuple(self.resolve(record, memo))
            if targets:
                self.entries.pop(targets, None)
                self.entries[targets] = Entry(line, None)  # the newest record per environment wins
                self.changed = True
        paths = self._present_paths()
        if self.writable:
            try:
                removals = self._rotate()
                if self.changed:
                    self._write()
            except OSError:
                removals = []  # e.g. a full disk: decide from what was read; files stay until a fold is written
            for action in removals:
                try:
                    action()
                except OSError:
                    pass  # tried again at the next fold
        for name in sorted(self.files):
            mark = self.files[name]
            if mark.unreadable:
                path = os.path.join(self.directory, name)
                self.unknown.append((path, f"{mark.unreadable} unreadable "
                                     f"record{'s' if mark.unreadable != 1 else ''} in the uvguard registry"))
        return IndexView(tuple(dict.fromkeys(paths)), tuple(self.unknown))

    def _names(self) -> list[str]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        for name in names:
            if name.startswith(INDEX + UNREADABLE):
                self.unknown.append((os.path.join(self.directory, name), "an unreadable uvguard index"))
        return [n for n in names if n == "registry" or n.startswith((ROTATED, "registry" + UNREADABLE))]

    def _load(self, names: list[str]) -> None:
        path = os.path.join(self.directory, INDEX)
        try:
            data, _ = read_regular(path)  # a FIFO in its place never blocks: the fold fails, uncertain
        except FileNotFoundError:
            return
        try:
            files, entries = _parse_index(data)
        except (ValueError, TypeError, KeyError):
            self._set_aside_unreadable_index(path)
            return
        self.files = {name: mark for name, mark in files.items() if name in names}
        self.entries = entries
        self.changed = len(self.files) != len(files)

    def _set_aside_unreadable_index(self, path: str) -> None:
        self.changed = True
        aside = os.path.join(self.directory, f"{INDEX}{UNREADABLE}{int(self.now * 1e9):020d}")
        try:
            if not self.writable:
                raise PermissionError
            os.replace(path, aside)
        except OSError:
            aside = path  # stays where it is, and uncertain at every decision until dealt with
        self.unknown.append((aside, "an unreadable uvguard index"))

    def _read_tail(self, name: str) -> list[tuple[str, Record]]:
        """The records in the complete lines appended to `name` since the last fold; counts the unreadable lines."""
        path = os.path.join(self.directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return []
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # a FIFO reads as empty: its records would be missed silently
                raise OSError(errno.EINVAL, "not a regular file", path)
            mark = self.files.get(name)
            if mark is None or not _same_file(fd, info, mark):
                mark = Mark(info.st_ino, 0, "", 0)
                self.changed = True
            if info.st_size <= mark.offset:
                self.files[name] = mark
                return []
            data = os.pread(fd, info.st_size - mark.offset, mark.offset)
        finally:
            os.close(fd)
        end = data.rfind(b"\n") + 1
        if end < len(data) and self.now - info.st_mtime >= SETTLED_SECONDS:
            end = len(data)  # no write in flight: an unterminated last line is garbage, read (and counted) too
        if end == 0:
            self.files[name] = mark
            return []
        chunk = data[:end]
        before = (mark.before.encode("latin-1") + chunk)[-_MARK_BYTES:]
        # Records end at "\n" only: splitlines() would also cut at \r, \x1c-\x1e, \x85, \u2028 inside a path or arg.
        lines = [line for line in chunk.decode("utf-8", "surrogateescape").split("\n") if line]
        good = [(line, record) for line in lines if (record := parse_record(line)) is not None]
        self.files[name] = Mark(info.st_ino, mark.offset + end, before.decode("latin-1"),
                                mark.unreadable + len(lines) - len(good))
        self.changed = True
        return good

    def _expired(self, name: str) -> bool:
        return name.startswith(ROTATED) and self.now - _rotation_time(name) >= ROTATED_KEEP_SECONDS

    def _present_paths(self) -> list[str]:
        """Present environments; entries gone longer than the grace period are dropped."""
        paths: list[str] = []
        for targets, entry in list(self.entries.items()):
            present = [p for p in self.expand(targets) if _present(p)]
            paths.extend(present)
            gone = not present and not any(_present(t.removeprefix(TOOLS_PREFIX)) for t in targets)
            if not gone:
                if entry.gone_since is not None:
                    self.entries[targets] = Entry(entry.line, None)
                    self.changed = True
            elif entry.gone_since is None:
                self.entries[targets] = Entry(entry.line, self.now)
                self.changed = True
            elif self.now - entry.gone_since >= GONE_GRACE_SECONDS:
                del self.entries[targets]
                self.changed = True
        return paths

    def _rotate(self) -> list[Callable[[], None]]:
        """Rename a large or corrupt `registry` now; returns the removals to do once the index is written."""
        stamp = f"{int(self.now * 1e9):020d}"
        mark = self.files.get("registry")
        if mark is not None and (mark.offset >= ROTATE_BYTES or mark.unreadable):
            name = (f"registry{UNREADABLE}{stamp}" if mark.unreadable else ROTATED + stamp)
            os.replace(os.path.join(self.directory, "registry"), os.path.join(self.directory, name))
            self.files[name] = self.files.pop("registry")
            self.changed = True
        removals: list[Callable[[], None]] = []
        for name in [n for n in self.files if n.startswith(ROTATED) and self._expired(n)]:
            mark = self.files.pop(name)
            path = os.path.join(self.directory, name)
            if mark.unreadable:
                kept = f"registry{UNREADABLE}{name[len(ROTATED):]}"
                self.files[kept] = mark
                removals.append(functools.partial(os.replace, path, os.path.join(self.directory, kept)))
            else:
                removals.append(functools.partial(_unlink, path))
            self.changed = True
        return removals

    def _write(self) -> None:
        """Write-then-rename: readers see the old index or the new one, never a part."""
        import json

        data = json.dumps({
            "version": INDEX_VERSION,
            "files": {name: list(mark) for name, mark in sorted(self.files.items())},
            "entries": [[entry.line, list(targets), entry.gone_since] for targets, entry in self.entries.items()],
        }, ensure_ascii=False).encode("utf-8", "surrogateescape")
        path = os.path.join(self.directory, INDEX)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)


def _parse_index(data: bytes) -> tuple[dict[str, Mark], dict[tuple, Entry]]:
    """The index's files and entries; ValueError, TypeError or KeyError for anything else."""
    import json

    index = json.loads(data.decode("utf-8", "surrogateescape"))
    if index["version"] != INDEX_VERSION:
        raise ValueError(f"version {index['version']!r}, expected {INDEX_VERSION}")
    files = {}
    for name, (inode, offset, before, unreadable) in index["files"].items():
        if not (isinstance(name, str) and all(isinstance(n, int) for n in (inode, offset, unreadable))
                and isinstance(before, str)):
            raise ValueError(f"a bad mark for {name!r}")
        files[name] = Mark(inode, offset, before, unreadable)
    entries = {}
    for line, targets, gone_since in index["entries"]:
        if not (isinstance(line, str) and isinstance(targets, list) and targets
                and all(isinstance(t, str) for t in targets)
                and (gone_since is None or isinstance(gone_since, (int, float)))):
            raise ValueError("a bad entry")
        entries[tuple(targets)] = Entry(line, gone_since)
    return files, entries


def _same_file(fd: int, info: os.stat_result, mark: Mark) -> bool:
    """The file the mark was taken on: same inode, at least as long, the same bytes before the offset."""
    if info.st_ino != mark.inode or info.st_size < mark.offset:
        return False
    before = mark.before.encode("latin-1")
    return os.pread(fd, len(before), mark.offset - len(before)) == before


def _fold_order(names: Iterable[str]) -> list[str]:
    """Oldest first: set-aside and rotated files by their stamp, then `registry`."""
    return sorted(names, key=lambda name: (name == "registry", name.rsplit(".", 1)[-1]))


def _rotation_time(name: str) -> float:
    try:
        return int(name.rsplit(".", 1)[1]) / 1e9
    except ValueError:
        return 0.0


def _present(path: str) -> bool:
    """Whether a path exists, or may exist but cannot be checked (then it is kept, never dropped)."""
    try:
        os.lstat(path)
        return True
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _Lock:
    """flock on `registry.lock`; without a writable state dir the fold goes on unlocked and writes nothing."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.path = registry_path(env) + ".lock"
        self.fd: int | None = None
        self.held = False

    def __enter__(self) -> _Lock:
        import fcntl

        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return self  # read-only, or not a directory: reading says which
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            self.fd = None
            raise
        self.held = os.access(os.path.dirname(self.path), os.W_OK)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
