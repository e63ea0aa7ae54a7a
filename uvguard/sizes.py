"""Sizes counted one way everywhere: what removing a cache path frees, as the running uv counts it.

uv's summary (`Removed 3 files (1.2MiB)`) counts logical sizes up to 0.11 and
the space actually freed since 0.12 (`prune_plan.size_accounting` asks the
real uv which). The limited removal counts as it goes; the dry run, `live`
and the kept entries count here, the same way, so the figures of one run add
up: a file's size, or its blocks unless a hard link outside the measured
tree keeps them. Links are counted as files and never followed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uvguard.invocation import Invocation

from uvguard.registry import state_dir

# Remembered answers of `counts_blocks`, one line per uv binary, filesystem and preview setting.
ACCOUNTING_FILE = "uv-size-accounting"
_ACCOUNTING_LIMIT = 64 * 1024  # bytes: a file grown past this is neither read nor appended to
_PREVIEW_VARIABLES = ("UV_PREVIEW", "UV_PREVIEW_FEATURES")


@dataclass(frozen=True)
class Size:
    bytes: int = 0
    files: int = 0
    directories: int = 0


def measure(path: str | os.PathLike, physical: bool) -> Size:
    """What removing `path` (and everything below it) frees; a missing path frees nothing."""
    total = files = directories = 0
    links: dict[tuple[int, int], list] = {}  # hard-linked inodes: [links seen here, nlink, blocks]
    pending = [Path(path)]
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return Size()
    if not stat.S_ISDIR(top.st_mode):
        return _files_only(top, physical)
    while pending:
        directory = pending.pop()
        directories += 1
        try:
            with os.scandir(directory) as entries:
                children = list(entries)
        except OSError:
            continue
        for entry in children:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                pending.append(Path(entry.path))
                continue
            files += 1
            if not physical:
                total += info.st_size
            elif stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                seen = links.setdefault((info.st_dev, info.st_ino), [0, info.st_nlink, info.st_blocks * 512])
                seen[0] += 1
            else:
                total += info.st_blocks * 512
    # A hard-linked file frees its blocks only when every one of its links goes.
    total += sum(blocks for count, nlink, blocks in links.values() if count >= nlink)
    return Size(total, files, directories)


def _files_only(info: os.stat_result, physical: bool) -> Size:
    if not physical:
        return Size(info.st_size, 1, 0)
    shared = stat.S_ISREG(info.st_mode) and info.st_nlink > 1
    return Size(0 if shared else info.st_blocks * 512, 1, 0)


def counts_blocks(cache_dir: str | os.PathLike[str], invocation: Invocation, real_uv: str,
                  env: Mapping[str, str]) -> bool:
    """Whether this uv counts blocks freed (True) or file sizes, on the cache's filesystem.

    The real uv is asked (`prune_plan.size_accounting`) beside the cache once
    per uv binary and filesystem; the answer is remembered in uvguard's state
    dir (`ACCOUNTING_FILE`), so later runs start no uv for it. A cache this
    user cannot write to, or none at all, leaves file sizes, and the output
    says which it used.
    """
    from uvguard.prune_plan import size_accounting

    if not os.path.isdir(cache_dir):
        return False
    path = os.path.join(state_dir(env), ACCOUNTING_FILE)
    key = accounting_key(cache_dir, invocation, real_uv, env)
    remembered = _remembered_accounting(path, key) if key else None
    if remembered is not None:
        return remembered == "physical"
    try:
        accounting, beside_the_cache = size_accounting(Path(cache_dir), invocation, real_uv, env)
    except OSError:
        return False
    if key and beside_the_cache:
        _remember_accounting(path, key, accounting)
    return accounting == "physical"


def accounting_key(cache_dir: str | os.PathLike[str], invocation: Invocation, real_uv: str,
                   env: Mapping[str, str]) -> str | None:
    """What the size accounting depends on: the uv binary (real path, inode, size, mtime), the
    cache's filesystem (device, filesystem id) and the preview settings uv runs with; None when
    one of them cannot be told or written on one line."""
    from uvguard.prune_plan import preview_args
    from uvguard.realuv import _binary_key

    binary = _binary_key(real_uv)
    if binary is None:
        return None
    try:
        device = os.stat(cache_dir).st_dev
        fsid = os.statvfs(cache_dir).f_fsid
    except OSError:
        return None
    preview = [*preview_args(invocation), *(f"{name}={env[name]}" for name in _PREVIEW_VARIABLES if name in env)]
    key = "\t".join([binary, str(device), str(fsid), " ".join(preview)])
    return key if "\n" not in key and key.count("\t") == binary.count("\t") + 3 else None


def _remembered_accounting(path: str, key: str) -> str | None:
    """The answer remembered for `key`; None when there is none, or the file is not a regular file
    of this user's that only they can write (never trusted: uvguard asks uv again)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not _own_regular_file(info) or info.st_size > _ACCOUNTING_LIMIT:
            return None
        data = os.read(fd, _ACCOUNTING_LIMIT).decode("utf-8", "surrogateescape")
    except OSError:
        return None
    finally:
        os.close(fd)
    for line in data.splitlines():
        known, _, accounting = line.rpartition("\t")
        if known == key and accounting in ("physical", "logical"):
            return accounting
    return None


def _remember_accounting(path: str, key: str, accounting: str) -> None:
    """Append `key`'s answer; best effort, never through a link, never into anything but a regular
    file of this user's, and not once the file has grown past `_ACCOUNTING_LIMIT`."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:  # no state dir yet: made only where its parent is (never `/nonexistent/...`)
            os.mkdir(os.path.dirname(path), 0o700)
            fd = os.open(path, flags, 0o644)
    except OSError:  # a link, a FIFO, nowhere to write...
        return
    try:
        info = os.fstat(fd)
        if _own_regular_file(info) and info.st_size <= _ACCOUNTING_LIMIT:
            os.write(fd, f"{key}\t{accounting}\n".encode("utf-8", "surrogateescape"))
    except OSError:
        pass
    finally:
        os.close(fd)


def _own_regular_file(info: os.stat_result) -> bool:
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022
