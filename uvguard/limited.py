"""The limited operation: remove what real uv would remove, except the live entries.

`removal_plan` (in `prune_plan`) says what real uv would remove; this module
removes exactly that under uv's exclusive cache lock, except live entries: a
removal path that contains live entries (a stale bucket written by an older
uv) is descended and only its other parts go. The removal itself
(`removal.Remover`) never leaves the cache and never follows a symlink.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from uvguard import messages
from uvguard.cachelock import exclusive_lock
from uvguard.errors import FileSystemFailure, os_failure
from uvguard.invocation import CLEAN, CLEAN_PACKAGES, Invocation
from uvguard.messages import human_readable_bytes, plural, user_display
from uvguard.progress import phase
from uvguard.prune_plan import Plan, protected_entries, removal_plan
from uvguard.removal import Remover, removed_line
from uvguard.sizes import counts_blocks, measure

if TYPE_CHECKING:
    from uvguard.uvconfig import EffectiveConfig


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


def run_limited(invocation: Invocation, config: EffectiveConfig, real_uv: str, env: Mapping[str, str],
                live_entries: Mapping[str, Iterable[str]], voice: messages.Voice,
                stream: TextIO | None = None,
                rescan: Callable[[], Mapping[str, Iterable[str]]] | None = None,
                previous: Plan | None = None) -> LimitedResult:
    """Run `invocation` (prune, prune --ci, clean, clean PKG) keeping `live_entries`.

    `live_entries` maps a cache-relative entry (`archive-v0/<id>`) to the
    environments using it (`LiveSet.entries`). The plan is computed under
    the lock, so it matches the cache as it is removed: `previous` (the
    decision's plan) is taken as it is only when the cache is proven unchanged
    since (`prune_plan.unchanged`). `rescan`, if given, recomputes the live
    entries under the lock too, for an install that finished while we waited
    for it.
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
                plan = removal_plan(invocation, config, real_uv, env, previous)
            physical = counts_blocks(cache_dir, invocation, real_uv, env)
        except OSError as error:  # nowhere to build a skeleton, an unreadable directory, ...
            raise FileSystemFailure(os_failure("cannot work out what uv would remove", error),
                                    hint="nothing was removed; the cache is untouched") from None
        remover = Remover(cache_dir, set(live_entries), voice, stream, invocation.verbose, physical)
        kept_size = sizes_meanwhile(cache_dir, protected_entries(plan, remover.live), physical)
        remover.run(plan.remove)
        if plan.remove_root and not remover.kept:
            remover.remove_root(count_lock=lock_was_there)
    kept = tuple(sorted(remover.kept))
    environments = tuple(sorted({str(e) for entry in kept for e in live_entries.get(entry, ())}))
    result = LimitedResult(invocation.operation, cache_dir, tuple(remover.removed), kept, environments,
                           remover.files, remover.dirs, remover.reported_bytes, remover.logical_bytes,
                           removed_bytes=tuple(remover.removed_bytes),
                           kept_bytes=tuple(kept_size(entry) for entry in kept),
                           physical=physical)
    messages.info(summary_line(result), voice, stream)
    return result


def sizes_meanwhile(cache_dir: Path, entries: Iterable[str], physical: bool) -> Callable[[str], int]:
    """Size the live entries the removal will keep in a thread while it runs (under the lock, nothing
    changes them): the summary's `kept ... (SIZE)` then costs no time after the removal.

    Returns the size of one kept entry; one the thread could not size (gone
    or unreadable) is sized again when asked, as it was before the thread.
    """
    sizes: dict[str, int] = {}

    def size_all() -> None:
        for entry in entries:
            try:
                sizes[entry] = measure(cache_dir / entry, physical).bytes
            except OSError:
                continue

    thread = threading.Thread(target=size_all, name="uvguard-size-kept", daemon=True)
    thread.start()

    def size(entry: str) -> int:
        thread.join()
        return sizes[entry] if entry in sizes else measure(cache_dir / entry, physical).bytes

    return size


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
    line = removed_line(result.num_files, result.num_dirs, result.bytes, result.logical_bytes, empty)
    return f"{line}, {kept}" if kept else line

