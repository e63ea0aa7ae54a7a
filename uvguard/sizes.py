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
    """Whether this uv counts blocks freed (True) or file sizes, for a command that only reports.

    The real uv is asked (`prune_plan.size_accounting`) beside the cache; a
    cache this user cannot write to, or none at all, leaves file sizes, and
    the output says which it used.
    """
    from uvguard.prune_plan import size_accounting

    if not os.path.isdir(cache_dir):
        return False
    try:
        return size_accounting(Path(cache_dir), invocation, real_uv, env) == "physical"
    except OSError:
        return False
