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
from uvguard.errors import UsageError


@dataclass(frozen=True)
class Materialized:
    """What one environment holds now."""

    path: str
    files: int
    bytes: int
    hardlinked: int
    dangling: tuple[str, ...]  # links into the cache with nothing left to copy: a case for repair
    failed: tuple[str, ...]  # links left in place, each with the reason


def materialize_environment(env_path: str, cache_dir: str | os.PathLike) -> Materialized:
    if os.path.islink(env_path) and is_inside(link_target(env_path), cache_dir):
        raise UsageError(f"`{env_path}` is itself a link into the uv cache (`{os.readlink(env_path)}`)",
                         hint="recreate the environment outside the cache, e.g. with UV_PROJECT_ENVIRONMENT")
    files = size = hardlinked = 0
    dangling, failed = [], []
    for link in iter_symlinks(env_path):
        if not is_inside(link_target(link), cache_dir):
            continue
        relative = os.path.relpath(link, env_path)
        if not os.path.exists(link):
            dangling.append(relative)
            continue
        try:
            hardlinked += replace_with_file(link)
        except OSError as error:
            failed.append(f"{relative} ({error.strerror or error})")
            continue
        files += 1
        size += os.path.getsize(link)
    return Materialized(env_path, files, size, hardlinked, tuple(sorted(dangling)), tuple(sorted(failed)))


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

