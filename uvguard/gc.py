"""`uvguard gc`: remove the unpacked wheels no environment uses, with every pointer that names them.

Nix's collector over uv's cache. An `archive-v0/<id>` entry is in use when
- a symlink-mode environment links into it: the live set, from the same
  roots as the limited operations (`symlink`);
- any regular file in it has more than one link: a hard-link-mode
  environment somewhere on this filesystem shares it, known to uvguard or
  not (`hardlink`);
- a live entry's link resolves to it (a `.venv` linking to a cached
  environment, which uv keeps as an archive entry too: `symlink`);
- `keep_recent` is given and the entry changed less than that long ago, or
  a recent entry (a cached environment) links into it (`recent`): clone and
  copy environments do not depend on the cache, so nothing else can keep
  their entries.
Everything else is collected, which `uv cache prune` cannot do: uv's wheel
and sdist buckets still point at those entries, by a `.rev`/`.http` file
holding the id and by a link named after the wheel (a built wheel's link in
its sdist revision). An entry removed while a pointer stays makes every later
install of that wheel fail ("failed to read directory …/archive-v0/<id>"),
so each collected entry goes together with every pointer naming it, in every
wheels, sdists and environments bucket version present, pointers first: a crash in between
leaves an entry nothing points to, which uv ignores and its prune removes.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from uvguard import messages
from uvguard.cachelock import exclusive_lock
from uvguard.errors import UsageError
from uvguard.progress import Progress
from uvguard.removal import Remover, removed_line
from uvguard.sizes import measure

ARCHIVES = "archive-v0"
SYMLINK, HARDLINK, RECENT = "symlink", "hardlink", "recent"
# Buckets whose files and links name archive entries, in every version uv has used
# (cached environments: `environments-v2/<hash>/<hash>` links to the environment, itself an archive entry).
_POINTER_BUCKET = re.compile(r"^(wheels|sdists|environments)-v\d+$")
_POINTER_SUFFIXES = (".http", ".rev")
_TOKEN = re.compile(rb"[A-Za-z0-9_-]+")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Archive:
    """One `archive-v0/<id>` entry: why it is kept (`use`, "" when collected), or what removing it frees."""

    entry: str
    use: str = ""
    environments: tuple[str, ...] = ()  # for `symlink`: the environments linking into it
    pointers: tuple[str, ...] = ()  # cache-relative pointers naming it, removed before it
    bytes: int = 0  # freed by removing it and its pointers, as uv counts (see `prune_plan.size_accounting`)


@dataclass(frozen=True)
class GcPlan:
    cache_dir: Path
    collect: tuple[Archive, ...]
    keep: tuple[Archive, ...]
    gone: tuple[Archive, ...] = ()  # archives already missing whose pointers remain: uv fails on those

    @property
    def bytes(self) -> int:
        return sum(archive.bytes for archive in self.collect + self.gone)

    def removal_order(self) -> list[str]:
        """Each archive's pointers, then the archive: a crash anywhere leaves a cache uv accepts."""
        return [path for archive in self.gone + self.collect for path in (*archive.pointers, archive.entry)]


@dataclass(frozen=True)
class GcResult:
    plan: GcPlan
    dry_run: bool
    physical: bool  # how bytes count: blocks freed (uv 0.12+) or file sizes, as `sizes.counts_blocks` says
    removed: tuple[str, ...] = ()
    removed_bytes: tuple[int, ...] = ()  # per removed path, counted as `bytes`
    files: int = 0
    dirs: int = 0
    bytes: int = 0  # as uv reports freed space
    logical_bytes: int = 0

    def report(self) -> dict:
        """The JSON of `uvguard gc [--dry-run] --json` (`gc.schema.json`), in the words of `cache-operation`.

        `removed` lists the archives collected (a dry run: to collect), each with
        the pointers removed before it; `gone`, the archives already missing whose
        pointers were removed. A run sizes each by what its removal freed.
        """
        plan = self.plan
        freed = dict(zip(self.removed, self.removed_bytes))

        def gone_or_removed(archives: tuple[Archive, ...]) -> list[dict]:
            if self.dry_run:
                return [{"path": a.entry, "bytes": a.bytes, "pointers": list(a.pointers)} for a in archives]
            return [{"path": a.entry, "bytes": sum(freed.get(p, 0) for p in (*a.pointers, a.entry)),
                     "pointers": [p for p in a.pointers if p in freed]}
                    for a in archives if any(p in freed for p in (*a.pointers, a.entry))]

        removed, gone = gone_or_removed(plan.collect), gone_or_removed(plan.gone)
        kept = [{"path": a.entry, "bytes": measure(plan.cache_dir / a.entry, self.physical).bytes, "use": a.use,
                 "environments": list(a.environments)} for a in plan.keep]
        return {
            "cache_dir": str(plan.cache_dir),
            "dry_run": self.dry_run,
            "size_accounting": "physical" if self.physical else "logical",
            "removed": removed,
            "gone": gone,
            "kept": kept,
            "environments": sorted({user for a in plan.keep for user in a.environments}),
            "removed_bytes": sum(item["bytes"] for item in removed + gone),
            "kept_bytes": sum(item["bytes"] for item in kept),
            "files": self.files,
            "directories": self.dirs,
            "exit_code": 0,
        }


def parse_duration(text: str) -> float:
    """`--keep-recent` as seconds: a whole number and one unit, `s`, `m`, `h`, `d` or `w` (`12h`, `7d`)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise UsageError(f"invalid duration `{text}` for `--keep-recent`: expected a whole number and a unit "
                         "(s, m, h, d, w), such as `12h` or `7d`")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def plan_gc(cache_dir: Path, live_entries: Mapping[str, Iterable[str]], keep_recent: float | None,
            physical: bool, now: float | None = None, progress: Progress | None = None) -> GcPlan:
    """Which archive entries to collect and which to keep, and the pointers naming the collected ones.

    `live_entries` maps cache entries to the environments linking into them
    (`LiveSet.entries`); `physical` counts freed bytes as blocks, as uv 0.12+
    does, else as file sizes.
    """
    archives = Path(cache_dir, ARCHIVES)
    try:
        if not stat.S_ISDIR(os.lstat(archives).st_mode):
            return GcPlan(Path(cache_dir), (), ())  # a link or a file: nothing of this cache lies below it
        names = sorted(os.listdir(archives))
    except FileNotFoundError:
        names = []  # every pointer left names an archive already gone
    collect, keep = _sort_out(archives, names, live_entries, keep_recent, physical,
                              time.time() if now is None else now, progress)
    recent = [os.path.join(archives, a.entry.split("/")[1]) for a in keep if a.use == RECENT]
    for entry in _linked_from(cache_dir, recent):  # a recent cached environment's wheels
        if entry.startswith(ARCHIVES + "/") and entry.split("/")[1] in collect:
            del collect[entry.split("/")[1]]
            keep.append(Archive(entry, RECENT))
    existing = set(names)
    pointers = find_pointers(Path(cache_dir), set(collect), physical, existing=existing)
    for name in list(collect):
        # Reached through a live entry: a `.venv` linking to a cached environment, which is itself an archive.
        users = {user for pointer in pointers.get(name, {}) for user in live_entries.get(_top_entry(pointer), ())}
        if users:
            del collect[name]
            keep.append(Archive(f"{ARCHIVES}/{name}", SYMLINK, tuple(sorted(users))))
    collected = tuple(Archive(f"{ARCHIVES}/{name}", pointers=tuple(sorted(pointers.get(name, {}))),
                              bytes=size + sum(pointers.get(name, {}).values()))
                      for name, size in collect.items())
    gone = tuple(Archive(f"{ARCHIVES}/{name}", pointers=tuple(sorted(found)), bytes=sum(found.values()))
                 for name, found in sorted(pointers.items()) if name not in existing)
    return GcPlan(Path(cache_dir), collected, tuple(keep), gone)


def _sort_out(archives: Path, names: list[str], live_entries: Mapping[str, Iterable[str]],
              keep_recent: float | None, physical: bool, now: float,
              progress: Progress | None) -> tuple[dict[str, int], list[Archive]]:
    """({id: bytes freed} of the entries nothing uses, [entries in use]): live, then recent, then hard links."""
    collect: dict[str, int] = {}
    keep: list[Archive] = []
    for done, name in enumerate(names):
        if progress is not None:
            progress.update(done, len(names))
        entry = f"{ARCHIVES}/{name}"
        if entry in live_entries:
            keep.append(Archive(entry, SYMLINK, tuple(live_entries[entry])))
            continue
        path = os.path.join(archives, name)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if keep_recent is not None and now - info.st_mtime < keep_recent:
            keep.append(Archive(entry, RECENT))
            continue
        shared, size = _inspect(path, info, physical)
        if shared:
            keep.append(Archive(entry, HARDLINK))
        else:
            collect[name] = size
    return collect, keep


def _linked_from(cache_dir: Path, directories: list[str]) -> Iterable[str]:
    """The cache entries links below `directories` resolve to, found as the live set finds them."""
    if not directories:
        return ()
    from uvguard.live_set import scan_live_set
    from uvguard.roots import Root

    return scan_live_set(cache_dir, [Root(path, RECENT) for path in directories]).entries


def _top_entry(path: str) -> str:
    return "/".join(path.split("/")[:2])


def _inspect(path: str, info: os.stat_result, physical: bool) -> tuple[bool, int]:
    """(shared, size): whether a regular file below `path` has another link (stops there), else the bytes freed.

    Links are read as links, never followed; a directory's own blocks are not
    counted, as uv counts only files.
    """
    if not stat.S_ISDIR(info.st_mode):
        return False, _counted(info, physical)
    total, pending = 0, [path]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for item in entries:
                if item.is_dir(follow_symlinks=False):
                    pending.append(item.path)
                    continue
                info = item.stat(follow_symlinks=False)
                if info.st_nlink > 1 and stat.S_ISREG(info.st_mode):
                    return True, 0
                total += _counted(info, physical)
    return False, total


def _counted(info: os.stat_result, physical: bool) -> int:
    return info.st_blocks * 512 if physical else info.st_size


def find_pointers(cache_dir: Path, ids: set[str], physical: bool,
                  existing: set[str] | None = None) -> dict[str, dict[str, int]]:
    """Archive id -> {cache-relative pointer: its size}, over the wheels, sdists and environments buckets.

    A pointer is a link resolving to `archive-v0/<id>` (relative since uv
    0.11.17, absolute before) or a `.rev`/`.http` file whose content holds the
    id. Source trees (`src/`) are not entered, as uv's prune does not. Given
    the `existing` archive ids, a link to any other id (an archive already
    gone) names it too, and a second pass finds the files naming those.
    """
    found: dict[str, dict[str, int]] = {}
    gone: set[str] = set()
    real_archives = os.path.realpath(cache_dir / ARCHIVES)
    lengths = {len(name) for name in ids}
    parents: dict[str, str] = {}
    for bucket in sorted(os.listdir(cache_dir)):
        top = os.path.join(cache_dir, bucket)
        if not _POINTER_BUCKET.match(bucket) or not os.path.isdir(top) or os.path.islink(top):
            continue
        pending = [top]
        while pending:
            directory = pending.pop()
            with os.scandir(directory) as entries:
                for item in entries:
                    if item.is_symlink():
                        name = _link_target_id(item.path, directory, real_archives, parents)
                        if name is not None and existing is not None and name not in existing:
                            gone.add(name)
                            ids, lengths = ids | {name}, lengths | {len(name)}
                        named = [name] if name in ids else []
                    elif item.is_dir(follow_symlinks=False):
                        if item.name != "src":
                            pending.append(item.path)
                        continue
                    elif item.name.endswith(_POINTER_SUFFIXES) and ids and item.is_file(follow_symlinks=False):
                        # only a regular file is read: a FIFO would hang gc while it holds uv's lock
                        named = _ids_in(Path(item.path).read_bytes(), ids, lengths)
                    else:
                        continue
                    relative = os.path.relpath(item.path, cache_dir).replace(os.sep, "/")
                    for name in named:
                        found.setdefault(name, {})[relative] = _counted(item.stat(follow_symlinks=False), physical)
    if existing is not None and gone:
        for name, more in find_pointers(cache_dir, gone, physical).items():
            found.setdefault(name, {}).update(more)
    return found


def _link_target_id(link: str, directory: str, real_archives: str, parents: dict[str, str]) -> str | None:
    """The id of the archive entry a link resolves to, compared by real path (uv does not resolve the cache dir)."""
    target = os.path.join(directory, os.readlink(link))
    parent, _, name = os.path.normpath(target).rpartition(os.sep)
    if parent not in parents:
        parents[parent] = os.path.realpath(parent)
    return name if parents[parent] == real_archives else None


def _ids_in(content: bytes, ids: set[str], lengths: set[int]) -> list[str]:
    """The archive ids a pointer file's bytes hold (uv stores the id as a msgpack string)."""
    found: list[str] = []
    for token in _TOKEN.findall(content):
        text = token.decode("ascii")
        for length in lengths:
            found.extend(text[i:i + length] for i in range(len(text) - length + 1) if text[i:i + length] in ids)
    return sorted(set(found))


def run_gc(cache_dir: Path, live_entries: Callable[[], Mapping[str, Iterable[str]]], keep_recent: float | None,
           physical: bool, env: Mapping[str, str], voice: messages.Voice, dry_run: bool = False,
           force: bool = False, verbose: int = 0, stream: TextIO | None = None) -> GcResult:
    """Collect under uv's exclusive cache lock (a dry run takes none and removes nothing).

    `live_entries` is called once the lock is held, so an install that
    finished while we waited is kept too.
    """
    stream = sys.stderr if stream is None else stream
    progress = Progress("Checking unpacked wheels", voice, stream)
    if dry_run:
        with progress:
            return GcResult(plan_gc(cache_dir, live_entries(), keep_recent, physical, progress=progress), True,
                            physical)
    with exclusive_lock(cache_dir, env, force=force, voice=voice, stream=stream):
        messages.info(f"Collecting unused entries in cache at: {messages.user_display(cache_dir)}", voice, stream)
        with progress:
            plan = plan_gc(cache_dir, live_entries(), keep_recent, physical, progress=progress)
        remover = Remover(cache_dir, set(), voice, stream, verbose, physical)
        remover.run(plan.removal_order())
    result = GcResult(plan, False, physical, tuple(remover.removed), tuple(remover.removed_bytes), remover.files,
                      remover.dirs, remover.reported_bytes, remover.logical_bytes)
    messages.info(summary_line(result), voice, stream)
    return result


def summary_line(result: GcResult) -> str:
    """uv's `Removed N files (SIZE)`, then what went and what stayed in use, and why."""
    plan = result.plan
    line = removed_line(result.files, result.dirs, result.bytes, result.logical_bytes, "No unused entries found")
    if plan.collect:
        pointers = sum(len(a.pointers) for a in plan.collect)
        line += (f": {messages.plural(len(plan.collect), 'unused unpacked wheel', 'unused unpacked wheels')}"
                 f" and {messages.plural(pointers, 'pointer', 'pointers')} to them")
    if plan.gone:
        line += (f"{',' if plan.collect else ':'} the pointers to "
                 f"{messages.plural(len(plan.gone), 'archive', 'archives')} already gone")
    return line + "; " + kept_text(plan)


def kept_text(plan: GcPlan) -> str:
    if not plan.keep:
        return "kept none in use"
    uses = {use: sum(1 for a in plan.keep if a.use == use) for use in (SYMLINK, HARDLINK, RECENT)}
    why = {SYMLINK: "linked from environments", HARDLINK: "hard-linked", RECENT: "recent"}
    return (f"kept {messages.plural(len(plan.keep), 'entry', 'entries')} in use ("
            + ", ".join(f"{count} {why[use]}" for use, count in uses.items() if count) + ")")


def render_dry_run(result: GcResult) -> str:
    plan = result.plan
    lines = [f"Cache: {plan.cache_dir} (`gc`, dry run: nothing is removed)"]
    if plan.collect:
        lines.append("Would remove (unused unpacked wheels, with the pointers naming them):")
        lines.extend(f"  {a.entry}  {messages.human_readable_bytes(a.bytes)}"
                     + (f"  and {messages.plural(len(a.pointers), 'pointer', 'pointers')}" if a.pointers else "")
                     for a in plan.collect)
    if plan.gone:
        lines.append("Would remove the pointers to archives already gone (uv fails to install from those):")
        lines.extend(f"  {pointer}" for a in plan.gone for pointer in a.pointers)
    if not plan.collect and not plan.gone:
        lines.append("Would remove nothing")
    if plan.keep:
        lines.append("Would keep (in use):")
        lines.extend(f"  {a.entry}  {a.use}" + (f"  used by {', '.join(a.environments)}" if a.environments else "")
                     for a in plan.keep)
    lines.append(f"{messages.human_readable_bytes(plan.bytes)} would be freed; {kept_text(plan)}")
    return "\n".join(lines)
