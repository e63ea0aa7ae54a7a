"""Materialize: make an environment independent of the uv cache.

Each symlink into the cache becomes a hard link to the same file when the
environment and the cache share a filesystem (no extra space until the cache
entry goes), else a copy. The new file is written beside the link and renamed
over it, so a reader sees either the link or the file, never neither.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from uvguard.doctor import is_inside, iter_symlinks, link_target


@dataclass(frozen=True)
class Materialized:
    """What one environment holds now."""

    path: str
    files: int
    bytes: int
    hardlinked: int
    dangling: tuple[str, ...]  # links into the cache with nothing left to copy: a case for repair
    skipped: tuple[str, ...]  # links into the cache that point at a directory, left as they are


def materialize_environment(env_path: str, cache_dir: str | os.PathLike) -> Materialized:
    files = size = hardlinked = 0
    dangling, skipped = [], []
    for link in iter_symlinks(env_path):
        if not is_inside(link_target(link), cache_dir):
            continue
        relative = os.path.relpath(link, env_path)
        if not os.path.exists(link):
            dangling.append(relative)
        elif not os.path.isfile(link):
            skipped.append(relative)
        else:
            hardlinked += replace_with_file(link)
            files += 1
            size += os.path.getsize(link)
    return Materialized(env_path, files, size, hardlinked, tuple(sorted(dangling)), tuple(sorted(skipped)))


def replace_with_file(link: str) -> bool:
    """Put the file `link` points at in its place; True when it became a hard link."""
    source = os.path.realpath(link)
    temporary = os.path.join(os.path.dirname(link), f".{os.path.basename(link)}.uvguard-materialize")
    if os.path.lexists(temporary):
        # Left by an interrupted run; never write through it, it may share the cache's inode.
        os.unlink(temporary)
    try:
        try:
            os.link(source, temporary)
            hardlinked = True
        except OSError:
            shutil.copy2(source, temporary)
            hardlinked = False
        os.replace(temporary, link)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    return hardlinked


def human_size(size: int) -> str:
    """Sizes as uv prints them: `<n>B` under 1 KiB, else one decimal (`88.0KiB`)."""
    if size < 1024:
        return f"{size}B"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f}{unit}"
