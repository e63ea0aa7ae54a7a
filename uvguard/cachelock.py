"""uv's cache lock: an exclusive `flock` on `<cache>/.lock`, taken as `uv cache prune/clean` take it.

uv 0.8.19+ holds a shared flock on `<cache>/.lock` for every normal command
and an exclusive one for `uv cache clean/prune` (`crates/uv-cache/src/lib.rs`,
`crates/uv-fs/src/locked_file.rs`). A limited operation takes the same
exclusive lock, so no uv install runs while entries disappear. Not `lockf`:
uv does not see POSIX record locks.
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, TextIO

from uvguard import messages
from uvguard.errors import EXIT_USAGE, FileSystemFailure, UvguardError, os_failure

WAITING_MESSAGE = (
    "Cache is currently in-use, waiting for other uv processes to finish (use `--force` to override)"
)
DEFAULT_TIMEOUT = 300.0
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
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, 0o666)
    except OSError as error:
        raise FileSystemFailure(os_failure("cannot open uv's cache lock", error),
                                hint="the cache is untouched") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileSystemFailure(f"cannot lock the cache: `{path}` is not a regular file",
                                hint="the cache is untouched; remove it (uv recreates it)")
    return fd


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_lock(fd: int, timeout: float, cache_dir: Path, path: Path) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if _try_lock(fd):
            return True
        if time.monotonic() >= deadline:
            raise CacheLockTimeout(
                f"Timeout ({int(timeout)}s) when waiting for lock on `{cache_dir}` at `{path}`, "
                "is another uv process running? You can set `UV_LOCK_TIMEOUT` to increase the timeout."
            )
        time.sleep(_POLL_SECONDS)
