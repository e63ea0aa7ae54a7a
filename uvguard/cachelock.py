"""uv's cache lock: a `flock` on `<cache>/.lock`, taken as uv takes it.

uv 0.8.19+ holds a shared flock on `<cache>/.lock` for every normal command
and an exclusive one for `uv cache clean/prune` (`crates/uv-cache/src/lib.rs`,
`crates/uv-fs/src/locked_file.rs`). A limited operation takes the same
exclusive lock, so no uv install runs while entries disappear. Older uv takes
none, so the shim takes the shared one for it (`inherited_shared_lock`). Not
`lockf`: uv does not see POSIX record locks.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from uvguard import messages
from uvguard.errors import EXIT_USAGE, FileSystemFailure, UvguardError, os_failure
from uvguard.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

WAITING_MESSAGE = (
    "Cache is currently in-use, waiting for other uv processes to finish (use `--force` to override)"
)
DEFAULT_TIMEOUT = 300.0
LOCKING_SINCE = (0, 8, 19)  # the first uv release that takes the cache lock itself
_POLL_SECONDS = 0.05


class CacheLockTimeout(UvguardError):
    """Another uv held the cache lock longer than UV_LOCK_TIMEOUT; uv exits 2 here too."""

    exit_code = EXIT_USAGE


def lock_timeout(env: Mapping[str, str]) -> float:
    """UV_LOCK_TIMEOUT in seconds; like uv, a value that is not an integer means the default."""
    value = env.get("UV_LOCK_TIMEOUT")
    if value is not None and value.isdigit():
        return float(value)
    return DEFAULT_TIMEOUT


@contextmanager
def exclusive_lock(cache_dir: Path, env: Mapping[str, str], force: bool = False,
                   voice: messages.Voice = messages.Voice(),
                   stream: TextIO | None = None) -> Iterator[bool]:
    """Hold uv's exclusive cache lock; yields whether it is held (False only with `force`).

    Tries once without waiting, as uv does; if another process holds the lock,
    `--force` goes on without it, otherwise uv's waiting message is printed
    and we wait up to UV_LOCK_TIMEOUT seconds.
    """
    path = Path(cache_dir) / ".lock"
    fd = _open_lock_file(path)
    try:
        held = _try_lock(fd)
        if not held and not force:
            messages.info(WAITING_MESSAGE, voice, stream)
            held = _wait_lock(fd, lock_timeout(env), cache_dir, path)
        yield held
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _open_lock_file(path: Path) -> int:
    """The lock file, created as uv creates it; a FileSystemFailure naming it when it cannot be
    opened (a read-only cache, a full disk): uv itself could not prune there either.

    Opened without blocking and refused unless it is a regular file, so a FIFO
    in its place cannot hang us (flock works on one, but nothing else would).
    Created only in the cache itself: a `.lock` that is a link (the cache's
    contents may be hostile) is followed only to a file that exists, which is
    what uv would lock, and never makes us create a file where it points.
    """
    flags = os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as error:
            if error.errno != errno.ELOOP:
                raise
            fd = os.open(path, flags)
    except OSError as error:
        raise FileSystemFailure(os_failure("cannot open uv's cache lock", error),
                                hint="the cache is untouched") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileSystemFailure(f"cannot lock the cache: `{path}` is not a regular file",
                                hint="the cache is untouched; remove it (uv recreates it)")
    return fd


def takes_lock_itself(version: tuple[int, int, int] | None) -> bool:
    """Whether this uv release holds the cache lock on its own (an unknown one: assume not)."""
    return version is not None and tuple(version) >= LOCKING_SINCE


def inherited_shared_lock(cache_dir: Path, env: Mapping[str, str]) -> int:
    """A descriptor holding uv's shared lock, left open across exec.

    For uv releases that take no lock: the shim execs uv with this descriptor,
    so the lock lives exactly as long as uv (and any child that keeps the
    descriptor), with no process of ours left between uv and its caller.
    Waits silently, as uv does, up to UV_LOCK_TIMEOUT while a limited
    operation holds the exclusive lock. Creates the cache dir when missing,
    as uv would a moment later.
    """
    path = Path(cache_dir) / ".lock"
    os.makedirs(cache_dir, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        os.fchmod(fd, 0o666)  # whatever the umask, as uv makes it: every user of the cache can lock it
    except FileExistsError:
        fd = _open_existing(path)
    return _lock_shared(fd, cache_dir, path, env)


def _open_existing(path: Path) -> int:
    """The existing lock file, opened without blocking; OSError unless it is a regular file.

    Read-only when it cannot be written (another user's lock file, a read-only
    cache: a shared flock needs no write access). O_NONBLOCK because a FIFO
    there would otherwise block a read-only open until someone writes to it.
    """
    flags = os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, os.O_RDWR | flags)
    except OSError:
        fd = os.open(path, os.O_RDONLY | flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


def _lock_shared(fd: int, cache_dir: Path, path: Path, env: Mapping[str, str]) -> int:
    try:
        if not _try_lock(fd, fcntl.LOCK_SH):
            _wait_lock(fd, lock_timeout(env), cache_dir, path, fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    os.set_inheritable(fd, True)
    return fd


def _try_lock(fd: int, mode: int = fcntl.LOCK_EX) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_lock(fd: int, timeout: float, cache_dir: Path, path: Path, mode: int = fcntl.LOCK_EX) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if _try_lock(fd, mode):
            return True
        if time.monotonic() >= deadline:
            raise CacheLockTimeout(
                f"Timeout ({int(timeout)}s) when waiting for lock on `{cache_dir}` at `{path}`, "
                "is another uv process running? You can set `UV_LOCK_TIMEOUT` to increase the timeout."
            )
        time.sleep(_POLL_SECONDS)
