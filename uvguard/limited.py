"""The limited operation: remove what real uv would remove, except the live entries.

`removal_plan` (in `prune_plan`) says what real uv would remove; this module
removes exactly that under uv's exclusive cache lock, except live entries: a
removal path that contains live entries (a stale bucket written by an older
uv) is descended and only its other parts go. Removal never leaves the cache
and never follows a symlink: every step opens the next directory relative to
its parent's descriptor with O_NOFOLLOW, and links are unlinked, not entered.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, TextIO

from uvguard import messages
from uvguard.cachelock import exclusive_lock
from uvguard.errors import FileSystemFailure, os_failure
from uvguard.invocation import CLEAN, CLEAN_PACKAGES, Invocation
from uvguard.messages import human_readable_bytes, plural, user_display
from uvguard.progress import Progress, phase
from uvguard.prune_plan import MARKERS, removal_plan, size_accounting
from uvguard.sizes import measure

_ARCHIVE_BUCKET = re.compile(r"^archive-v\d+(/|$)")
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class LimitedResult:
    """What a limited operation removed and kept; counts as uv counts them."""

    operation: str
    cache_dir: Path
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    environments: tuple[str, ...]
    num_files: int = 0
    num_dirs: int = 0
    bytes: int = 0  # as uv reports them: physical or logical, see `prune_plan.size_accounting`
    logical_bytes: int = 0
    exit_code: int = 0
    removed_bytes: tuple[int, ...] = ()  # per removed path, counted as `bytes`
    kept_bytes: tuple[int, ...] = ()  # per kept entry, counted the same way (`sizes.measure`)
    physical: bool = False  # how `bytes` counts: blocks freed (uv 0.12+) or file sizes


def run_limited(invocation: Invocation, config, real_uv: str, env: Mapping[str, str],
                live_entries: Mapping[str, Iterable[str]], voice: messages.Voice,
                stream: TextIO | None = None,
                rescan: Callable[[], Mapping[str, Iterable[str]]] | None = None) -> LimitedResult:
    """Run `invocation` (prune, prune --ci, clean, clean PKG) keeping `live_entries`.

    `live_entries` maps a cache-relative entry (`archive-v0/<id>`) to the
    environments using it (`LiveSet.entries`). The plan is computed under
    the lock, so it matches the cache as it is removed; `rescan`, if given,
    recomputes the live entries under the lock too, for an install that
    finished while we waited for it.
    """
    cache_dir = Path(config.cache_dir)
    if invocation.quiet > voice.quiet:
        voice = messages.Voice(color=voice.color, quiet=invocation.quiet)
    noun = "Clearing" if invocation.operation in (CLEAN, CLEAN_PACKAGES) else "Pruning"
    if config.no_cache or not cache_dir.is_dir():
        messages.info(f"No cache found at: {user_display(cache_dir)}", voice, stream)
        return LimitedResult(invocation.operation, cache_dir, (), (), ())
    lock_was_there = os.path.lexists(cache_dir / ".lock")  # uv counts it as a removed file only then
    with exclusive_lock(cache_dir, env, force=invocation.force, voice=voice, stream=stream):
        if invocation.operation != CLEAN_PACKAGES:
            messages.info(f"{noun} cache at: {user_display(cache_dir)}", voice, stream)
        try:
            if rescan is not None:
                live_entries = rescan()
            with phase("Planning what to remove", voice, stream):
                plan = removal_plan(invocation, config, real_uv, env)
            physical = size_accounting(cache_dir, invocation, real_uv, env) == "physical"
        except OSError as error:  # nowhere to build a skeleton, an unreadable directory, ...
            raise FileSystemFailure(os_failure("cannot work out what uv would remove", error),
                                    hint="nothing was removed; the cache is untouched") from None
        remover = _Remover(cache_dir, set(live_entries), voice, stream, invocation.verbose, physical)
        remover.run(plan.remove)
        if plan.remove_root and not remover.kept:
            remover.remove_root(count_lock=lock_was_there)
    kept = tuple(sorted(remover.kept))
    environments = tuple(sorted({str(e) for entry in kept for e in live_entries.get(entry, ())}))
    result = LimitedResult(invocation.operation, cache_dir, tuple(remover.removed), kept, environments,
                           remover.files, remover.dirs, remover.reported_bytes, remover.logical_bytes,
                           removed_bytes=tuple(remover.removed_bytes),
                           kept_bytes=tuple(measure(cache_dir / entry, physical).bytes for entry in kept),
                           physical=physical)
    messages.info(summary_line(result), voice, stream)
    return result


def summary_line(result: LimitedResult) -> str:
    """uv's own summary (`Removed 3 files (1.2MiB)`), plus what was kept (its size) and for how many environments.

    With nothing removed but live entries kept, uv's "No unused entries found"
    would be untrue (uv would have removed them): it says so instead.
    """
    kept = ""
    if result.kept:
        kept = (f"kept {plural(len(result.kept), 'entry', 'entries')} ({human_readable_bytes(sum(result.kept_bytes))}) "
                f"used by {plural(len(result.environments), 'environment', 'environments')}")
    if result.num_files == 0 and result.num_dirs == 0 and kept:
        return f"Removed nothing: {kept}"
    empty = "No cache entries found" if result.operation in (CLEAN, CLEAN_PACKAGES) else "No unused entries found"
    if result.num_files == 0:
        line = {0: empty, 1: "Removed 1 directory"}.get(result.num_dirs, f"Removed {result.num_dirs} directories")
    else:
        line = "Removed 1 file" if result.num_files == 1 else f"Removed {result.num_files} files"
    if result.logical_bytes > 0 or result.bytes > 0:
        line += f" ({human_readable_bytes(result.bytes)})"
    return f"{line}, {kept}" if kept else line


class _Remover:
    """Removes cache-relative paths below one root, keeping live entries, counting like uv."""

    def __init__(self, cache_dir: Path, live: set[str], voice: messages.Voice, stream: TextIO | None,
                 verbose: int, physical: bool) -> None:
        self.cache_dir = cache_dir
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
                for done, path in enumerate(paths):
                    self.progress.update(done, len(paths))
                    try:
                        self.remove_keeping(root, path)
                    except OSError as error:
                        raise FileSystemFailure(self._failure(error, paths[done:], len(paths))) from None
        finally:
            os.close(root)

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
        """The hot loop: one lstat and one unlink per file, relative to the directory's descriptor.

        Serial on purpose: unlink/rmdir are bound by the filesystem's journal,
        and threads measured no faster (benchmarks/limited_prune.py).
        """
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


def _ignore_missing(action, parent: int, name: str) -> bool:
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
