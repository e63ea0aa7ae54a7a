"""Finding environments made before uvguard was installed (or with a bare uv).

The registry only knows environments the shim saw being written; a `.venv`
from last month is unknown, and a prune breaks it. `uvguard roots discover
DIR...` walks the directories for virtual environments (a `pyvenv.cfg`)
whose files are symlinks into a uv cache (`.../archive-v0/...`), so they can
be registered as manual roots. The walk is bounded (MAX_DEPTH directories
below each DIR), never walks through a symlinked directory, does not descend
into an environment it found, and notes each directory it cannot read. A
link that is itself an environment (`.venv -> /mnt/fast/app-venv`) is
looked at, under the link's name: uv writes through such a `.venv`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

MAX_DEPTH = 4
ARCHIVE_BUCKET = "archive-v0"


@dataclass(frozen=True)
class Found:
    """An environment whose files link into the uv cache at `cache_dir`."""

    path: str
    cache_dir: str


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    found: tuple[Found, ...]
    skipped: tuple[Skipped, ...]


def discover(directories: Iterable[str], cwd: str) -> Discovery:
    found: dict[str, Found] = {}
    skipped: list[Skipped] = []
    for directory in directories:
        start = os.path.abspath(os.path.join(cwd, directory))
        if not os.path.isdir(start):
            skipped.append(Skipped(start, "not a directory"))
            continue
        _walk(start, 0, found, skipped)
    return Discovery(tuple(found.values()), tuple(skipped))


def _walk(directory: str, depth: int, found: dict[str, Found], skipped: list[Skipped]) -> None:
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except OSError as error:
        skipped.append(Skipped(directory, error.strerror or str(error)))
        return
    if any(entry.name == "pyvenv.cfg" and entry.is_file(follow_symlinks=False) for entry in entries):
        cache_dir = linked_cache(directory, skipped)
        if cache_dir is not None:
            found.setdefault(directory, Found(directory, cache_dir))
        return
    if depth >= MAX_DEPTH:
        return
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            _walk(entry.path, depth + 1, found, skipped)
        elif entry.is_symlink() and os.path.isfile(os.path.join(entry.path, "pyvenv.cfg")):
            cache_dir = linked_cache(entry.path, skipped)
            if cache_dir is not None:
                found.setdefault(entry.path, Found(entry.path, cache_dir))


def linked_cache(venv: str, skipped: list[Skipped]) -> str | None:
    """The uv cache the first symlink into an `archive-v0` bucket lands in; None when there is none."""
    def note(error: OSError) -> None:
        skipped.append(Skipped(error.filename or venv, error.strerror or str(error)))

    for dirpath, dirnames, filenames in os.walk(venv, onerror=note):
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                continue
            target = os.path.normpath(os.path.join(dirpath, os.readlink(path)))
            parts = target.split(os.sep)
            if ARCHIVE_BUCKET in parts[:-1]:
                return os.sep.join(parts[:parts.index(ARCHIVE_BUCKET)]) or os.sep
    return None
