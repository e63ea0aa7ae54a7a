"""Removing paths below a cache root as uv removes them, never following a link, never leaving the cache.

Every step opens the next directory relative to its parent's descriptor with
O_NOFOLLOW, and links are unlinked, not entered. Files and bytes are counted
as uv counts them in its `Removed N files (SIZE)` line. Shared by the limited
operations (`limited`) and `gc`.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from uvguard import messages
from uvguard.errors import FileSystemFailure, os_failure
from uvguard.messages import human_readable_bytes
from uvguard.progress import Progress
from uvguard.skeleton import MARKERS

_ARCHIVE_BUCKET = re.compile(r"^archive-v\d+(/|$)")
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Two threads remove: an unlink mostly waits on the filesystem's journal, and two waits overlap. Measured on
# a 2-core ext4 VM: gc 2-3x faster, a limited prune 0.90-0.94x real uv's time against 1.07-1.15x with one
# (benchmarks/README.md, lines 5 and 9); on tmpfs, where an unlink waits on nothing, no slower.
REMOVAL_THREADS = 2


def removed_line(files: int, dirs: int, reported_bytes: int, logical_bytes: int, empty: str) -> str:
    """uv's summary wording: `Removed 3 files (1.2MiB)`, `Removed 1 directory`, or `empty`."""
    if files == 0:
        line = {0: empty, 1: "Removed 1 directory"}.get(dirs, f"Removed {dirs} directories")
    else:
        line = "Removed 1 file" if files == 1 else f"Removed {files} files"
    if logical_bytes > 0 or reported_bytes > 0:
        line += f" ({human_readable_bytes(reported_bytes)})"
    return line


class Remover:
    """Removes cache-relative paths below one root, keeping live entries, counting like uv.

    With `threads` > 1 the paths of one removal group (see `_removal_order`)
    are shared among that many threads: an unlink mostly waits on the
    filesystem's journal, and two waits overlap.
    """

    def __init__(self, cache_dir: Path, live: set[str], voice: messages.Voice, stream: TextIO | None,
                 verbose: int, physical: bool, threads: int = REMOVAL_THREADS) -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self.live = {entry for entry in live if entry.split("/")[0] not in MARKERS}
        self.live_ancestors = {"/".join(e.split("/")[:i]) for e in self.live for i in range(1, e.count("/") + 1)}
        self.voice = voice
        self.verbose = verbose
        self.stream = sys.stderr if stream is None else stream
        self.removed: list[str] = []
        self.removed_bytes: list[int] = []
        self.kept: set[str] = set()
        self.physical = physical
        self.files = self.dirs = self.logical_bytes = self.physical_bytes = 0
        self.progress = Progress("Removing cache entries", voice, self.stream)

    def run(self, paths: Iterable[str]) -> None:
        paths = sorted((p for p in paths if p and p != ".lock" and not _escapes(p)), key=_removal_order)
        root = os.open(self.cache_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            with self.progress:
                if self.threads > 1:
                    self._run_threaded(root, paths)
                    return
                for done, path in enumerate(paths):
                    self.progress.update(done, len(paths))
                    try:
                        self.remove_keeping(root, path)
                    except OSError as error:
                        raise FileSystemFailure(self._failure(error, paths[done:], len(paths))) from None
        finally:
            os.close(root)

    def _run_threaded(self, root: int, paths: list[str]) -> None:
        """Each group in `self.threads` threads, the next group only once the last is all gone: no archive
        is touched before every pointer is removed, as in a serial run. A failure stops every thread."""
        finished: set[str] = set()
        for _, grouped in itertools.groupby(paths, key=lambda path: _removal_order(path)[0]):
            self._run_group(root, list(grouped), finished, paths)

    def _run_group(self, root: int, group: list[str], finished: set[str], paths: list[str]) -> None:
        queue, lock = iter(group), threading.Lock()
        failures: list[tuple[str, BaseException]] = []
        helpers = [Remover(self.cache_dir, self.live, self.voice, self.stream, self.verbose, self.physical, threads=1)
                   for _ in range(self.threads)]

        def work(helper: Remover) -> None:
            while True:
                with lock:
                    path = None if failures else next(queue, None)
                if path is None:
                    return
                try:
                    helper.remove_keeping(root, path)
                except BaseException as error:  # re-raised below, in the calling thread
                    with lock:
                        failures.append((path, error))
                    return
                with lock:
                    finished.add(path)
                    self.progress.update(len(finished), len(paths))

        threads = [threading.Thread(target=work, args=(helper,), name="uvguard-remove") for helper in helpers]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException as error:  # Ctrl-C: each thread stops after the path it is on
            with lock:
                failures.append(("", error))
            for thread in threads:
                thread.join()
            raise
        self._absorb(helpers, paths)
        if failures:
            path, error = failures[0]
            if not isinstance(error, OSError):
                raise error
            rest = [path] + [p for p in paths if p not in finished and p != path]
            raise FileSystemFailure(self._failure(error, rest, len(paths))) from None

    def _absorb(self, helpers: list[Remover], paths: list[str]) -> None:
        """The helpers' counts, and their removed paths in the order of `paths`."""
        position = {path: index for index, path in enumerate(paths)}

        def serial_order(pair: tuple[str, int]) -> tuple[int, list[str]]:
            """A path below a live entry's ancestor goes with that ancestor, depth first, as a serial run removes it."""
            ancestor = pair[0]
            while ancestor not in position and "/" in ancestor:
                ancestor = ancestor.rsplit("/", 1)[0]
            return position.get(ancestor, -1), pair[0].split("/")

        removed = sorted([*zip(self.removed, self.removed_bytes),
                          *((path, size) for h in helpers for path, size in zip(h.removed, h.removed_bytes))],
                         key=serial_order)
        self.removed, self.removed_bytes = [path for path, _ in removed], [size for _, size in removed]
        for helper in helpers:
            self.kept |= helper.kept
            self.files += helper.files
            self.dirs += helper.dirs
            self.logical_bytes += helper.logical_bytes
            self.physical_bytes += helper.physical_bytes

    def remove_root(self, count_lock: bool) -> None:
        """After a full clean that kept nothing: `.lock`, then the emptied cache dir, as uv < 0.13 does.
        Anything another process created meanwhile keeps the directory (rmdir only removes it empty)."""
        self._debug(f"Removing {self.cache_dir}")
        try:
            with contextlib.suppress(FileNotFoundError):
                info = os.lstat(self.cache_dir / ".lock")
                os.unlink(self.cache_dir / ".lock")
                if count_lock:
                    self._count_file(info)
            os.rmdir(self.cache_dir)
            self.dirs += 1
        except OSError as error:
            if error.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                raise FileSystemFailure(
                    os_failure("removed every cache entry, but not the cache directory", error)) from None

    def remove_keeping(self, root: int, path: str) -> None:
        if path in self.live:
            self.kept.add(path)
            self._debug(f"Keeping live cache entry: {self.cache_dir / path}")
            return
        if path not in self.live_ancestors:
            self._remove(root, path)
            return
        parent, name = _open_parent(root, path)
        if parent is None:
            return
        try:
            children = _child_names(parent, name)
        finally:
            os.close(parent)
        if children is None:  # not a real directory after all: nothing live can be below it
            self._remove(root, path)
            return
        for child in sorted(children):
            self.remove_keeping(root, f"{path}/{child}")

    def _remove(self, root: int, path: str) -> None:
        parent, name = _open_parent(root, path)
        if parent is None:
            return
        before = self.reported_bytes
        try:
            self._debug(f"Removing {self.cache_dir / path}")
            if self._remove_entry(parent, name):
                self.removed.append(path)
                self.removed_bytes.append(self.reported_bytes - before)
        finally:
            os.close(parent)

    def _remove_entry(self, parent: int, name: str) -> bool:
        """Remove `name` in directory `parent` and all below it; False if it was already gone."""
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(info.st_mode):
            self._remove_dir(parent, name)
        elif _ignore_missing(_unlink, parent, name):
            self._count_file(info)
        return True

    def _remove_dir(self, parent: int, name: str) -> None:
        """The hot loop: one lstat and one unlink per file, relative to the directory's descriptor."""
        try:
            fd = os.open(name, _OPEN_DIR, dir_fd=parent)
        except FileNotFoundError:
            return
        try:
            with os.scandir(fd) as entries:
                children = list(entries)
            for entry in children:
                if entry.is_dir(follow_symlinks=False):
                    self._remove_dir(fd, entry.name)
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                    os.unlink(entry.name, dir_fd=fd)
                except FileNotFoundError:
                    continue
                except PermissionError:
                    if not _ignore_missing(_unlink, fd, entry.name):
                        continue
                self.files += 1  # _count_file, inlined: this line runs once per file
                self.logical_bytes += info.st_size
                if not (info.st_nlink > 1 and stat.S_ISREG(info.st_mode)):
                    self.physical_bytes += info.st_blocks * 512
        finally:
            os.close(fd)
        if _ignore_missing(_rmdir, parent, name):
            self.dirs += 1

    def _count_file(self, info: os.stat_result) -> None:
        """Count a removed file or link as uv does: logical size, and blocks no hard link still holds."""
        self.files += 1
        self.logical_bytes += info.st_size
        if not (stat.S_ISREG(info.st_mode) and info.st_nlink > 1):
            self.physical_bytes += info.st_blocks * 512

    @property
    def reported_bytes(self) -> int:
        return self.physical_bytes if self.physical else self.logical_bytes

    def _debug(self, text: str) -> None:
        """uv's `-v` shows one `DEBUG Removing ...` line per removed path; so do we."""
        if self.verbose and self.voice.quiet == 0:
            self.stream.write(f"DEBUG {text}\n")

    def _failure(self, error: OSError, rest: list[str], total: int) -> str:
        """Where it stopped: what was removed, what was not (the failed path first)."""
        where = f" `{error.filename}`" if error.filename else ""
        shown = ", ".join(rest[:5]) + (f" and {len(rest) - 5} more" if len(rest) > 5 else "")
        return (f"failed to remove `{self.cache_dir / rest[0]}` ({error.strerror or error}{where}); "
                f"stopped after removing {len(self.removed)} of {total} entries ({self.files} files); "
                f"not removed (or only in part): {shown}; kept {len(self.kept)} live entries")


def _removal_order(path: str) -> tuple[bool, str]:
    """Archive entries last, after every pointer that names them, as uv orders its own prune: a run
    killed half-way leaves orphaned archives (the next prune takes them), never a pointer naming a
    removed archive (real uv then fails every install of that wheel)."""
    return (bool(_ARCHIVE_BUCKET.match(path)), path)


def _escapes(path: str) -> bool:
    """A plan path that is absolute or climbs out of the cache: never acted on."""
    return path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/"))


def _open_parent(root: int, path: str) -> tuple[int | None, str]:
    """A descriptor of `path`'s directory, opened without following links; None if it is gone."""
    *parents, name = path.split("/")
    fd = os.dup(root)
    for part in parents:
        try:
            child = os.open(part, _OPEN_DIR, dir_fd=fd)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return None, name  # gone, or a link: what is below is not in this cache
            raise
        os.close(fd)
        fd = child
    return fd, name


def _child_names(parent: int, name: str) -> list[str] | None:
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ENOTDIR, errno.ELOOP):
            return None
        if error.errno == errno.ENOENT:
            return []
        raise
    try:
        with os.scandir(fd) as entries:
            return [entry.name for entry in entries]
    finally:
        os.close(fd)


def _unlink(parent: int, name: str) -> None:
    os.unlink(name, dir_fd=parent)


def _rmdir(parent: int, name: str) -> None:
    os.rmdir(name, dir_fd=parent)


def _ignore_missing(action: Callable[[int, str], None], parent: int, name: str) -> bool:
    """Run `action(parent, name)`; retry once after making `parent` writable, as uv does; False if gone."""
    try:
        action(parent, name)
    except FileNotFoundError:
        return False
    except PermissionError:
        mode = os.fstat(parent).st_mode
        if mode & 0o300 == 0o300:
            raise
        os.fchmod(parent, stat.S_IMODE(mode) | 0o300)
        action(parent, name)
    return True
