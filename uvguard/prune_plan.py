"""What real uv would remove from a cache, as cache-relative paths: the removal plan.

Approach: ask the real uv binary itself, on a skeleton of the cache. Modelling
uv's prune per version would mean carrying bucket names and rules of every
release (`wheels-v5` → `wheels-v8`, hash-named archive references in 0.6,
sdist revision pruning, `python-v0` wrongly deleted 0.8.4–0.11.20, ...) and
still missing the next release. So uvguard builds a skeleton of the cache
(`skeleton`: cheap, in memory when it can be, never able to lead uv outside it)
and real uv runs `cache prune [--ci]` / `cache clean PKG...` on it; whatever
vanished is the plan.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uvguard.errors import OperationFailed
from uvguard.invocation import CLEAN, CLEAN_PACKAGES, PRUNE, PRUNE_CI, Invocation
from uvguard.realuv import ask_uv
from uvguard.skeleton import (
    MARKERS,
    Skeleton,
    build_skeleton,
    file_signature,
    memory_dirs,
    skeleton_dir,
    sweep_crashed_skeletons,
    touch,
    walk_paths,
)

if TYPE_CHECKING:
    import subprocess

    from uvguard.uvconfig import EffectiveConfig

# Environment variables that would point the skeleton run at another cache.
_CACHE_VARIABLES = ("UV_CACHE_DIR", "UV_NO_CACHE", "UV_CONFIG_FILE", "UV_NO_CONFIG")


@dataclass(frozen=True)
class PlanBasis:
    """What a plan was worked out from, so a second plan can prove the cache unchanged (`unchanged`)
    instead of building a skeleton and running uv again.

    uv's plan depends on the cache's directories (the archive entries and
    cached environments by name only: uv never looks inside), the contents
    of the files it parses, and the uv run. Every directory the skeleton
    copied is remembered by its entries' names and inodes, as `scandir` lists
    them (a file or link replaced, as uv writes them, is a new inode); every
    parsed file by inode, size and mtime (not ctime: a skeleton of hard links
    changes it; a file rewritten in place with its mtime put back is not seen).
    """

    uv: tuple  # the binary (real path, inode, size, mtime), the arguments and the environment it ran with
    listings: Mapping[str, tuple[tuple[str, int], ...]]  # cache-relative directory -> its (name, inode)s
    parsed: Mapping[str, tuple[int, int, int]]  # cache-relative file -> (inode, size, mtime)


@dataclass(frozen=True)
class Plan:
    """The topmost cache-relative POSIX paths real uv would remove, sorted (sized by `sizes.measure`)."""

    operation: str
    cache_dir: Path
    remove: tuple[str, ...]
    remove_root: bool = False  # a full clean by a uv that then removes `.lock` and the cache dir itself
    basis: PlanBasis | None = field(default=None, compare=False, repr=False)  # None: never reused


def removal_plan(invocation: Invocation, config: EffectiveConfig, real_uv: str, env: Mapping[str, str],
                 previous: Plan | None = None) -> Plan:
    """What real uv (`real_uv`) would remove for `invocation` from `config.cache_dir`.

    The root markers are never in a prune's plan: uv keeps them. A full clean
    removes them too, and `.lock` and the cache dir itself in the releases
    that do (`kept_by_clean` asks this uv); `.lock` is never in `remove`, it
    goes last with the directory, if at all.

    `previous`, a plan of the same line worked out earlier (the decision's,
    before uv's lock was taken), is returned as it is when its basis proves
    the cache, the uv binary and its run unchanged (`unchanged`); otherwise
    the plan is worked out again.
    """
    cache_dir = Path(config.cache_dir)
    operation = invocation.operation
    if config.no_cache or not cache_dir.is_dir():
        return Plan(operation, cache_dir, ())
    if operation not in (PRUNE, PRUNE_CI, CLEAN, CLEAN_PACKAGES):
        raise ValueError(f"not a cache operation: {operation}")
    uv = _uv_basis(invocation, real_uv, env)
    if (previous is not None and previous.operation == operation and previous.cache_dir == cache_dir
            and unchanged(previous, uv)):
        return previous
    if operation == CLEAN:
        kept = kept_by_clean(cache_dir, invocation, real_uv, env)
        listing = _listing(str(cache_dir))
        basis = PlanBasis(uv, {"": listing}, {}) if uv is not None else None
        return Plan(operation, cache_dir, clean_all_paths(cache_dir, kept or frozenset(), listing),
                    remove_root=kept is None, basis=basis)
    memory = memory_dirs(env)
    for place in memory:
        sweep_crashed_skeletons(place)
    found = None
    for place in memory:
        try:
            found = _removed_on_skeleton(place, cache_dir, invocation, real_uv, env)
            break
        except (OSError, OperationFailed):
            continue  # full, most likely: the next place or the cache may have room; a real problem shows there too
    if found is None:
        found = _removed_on_skeleton(cache_dir, cache_dir, invocation, real_uv, env)
    removed, skeleton = found
    basis = PlanBasis(uv, skeleton.listings, skeleton.parsed) if skeleton.provable and uv is not None else None
    return Plan(operation, cache_dir, topmost(path for path in removed if path not in MARKERS), basis=basis)


def unchanged(plan: Plan, uv: tuple | None) -> bool:
    """Whether `plan`'s basis still holds: the same uv run (`uv`), and every directory it was worked
    out from listing the same names and inodes, every parsed file the same inode, size and mtime.

    Costs one `scandir` per remembered directory and one `lstat` per parsed
    file, no writes and no uv run; any doubt (an unreadable directory, a
    basis that could not be taken) answers False, and the plan is worked out again.
    """
    basis = plan.basis
    if basis is None or uv is None or basis.uv != uv:
        return False
    root = str(plan.cache_dir)
    for rel, listing in basis.listings.items():
        try:
            if _listing(f"{root}/{rel}" if rel else root) != listing:
                return False
        except OSError:
            return False
    for rel, signature in basis.parsed.items():
        try:
            if file_signature(os.lstat(f"{root}/{rel}")) != signature:
                return False
        except OSError:
            return False
    return True


def _uv_basis(invocation: Invocation, real_uv: str, env: Mapping[str, str]) -> tuple | None:
    """What a plan depends on besides the cache: the binary as it is on disk, and how it is run."""
    from uvguard.realuv import _binary_key

    binary = _binary_key(real_uv)
    if binary is None:
        return None
    arguments = (*preview_args(invocation), *_operation_args(invocation))
    return binary, real_uv, arguments, tuple(sorted(_child_env(env).items()))


def _listing(directory: str) -> tuple[tuple[str, int], ...]:
    with os.scandir(directory) as entries:
        return tuple((entry.name, entry.inode()) for entry in entries)


def _removed_on_skeleton(place: Path, cache_dir: Path, invocation: Invocation, real_uv: str,
                         env: Mapping[str, str]) -> tuple[set[str], Skeleton]:
    """The cache-relative paths real uv removes from a skeleton of the cache built in `place`, and the skeleton."""
    with skeleton_dir(place, cache_dir) as work:
        skeleton = work / "cache"
        before = build_skeleton(cache_dir, skeleton, work / "outside")
        _run_uv_on(skeleton, invocation, real_uv, env)
        return before.paths - set(walk_paths(skeleton)), before


def clean_all_paths(cache_dir: Path, kept: frozenset[str],
                    listing: tuple[tuple[str, int], ...] | None = None) -> tuple[str, ...]:
    """Every top-level entry of the cache (or of its `listing`) except `.lock` and what a clean keeps."""
    names = os.listdir(cache_dir) if listing is None else [name for name, _ in listing]
    return tuple(sorted(name for name in names if name != ".lock" and name not in kept))


def kept_by_clean(cache_dir: Path, invocation: Invocation, real_uv: str,
                  env: Mapping[str, str]) -> frozenset[str] | None:
    """What this uv's `cache clean` leaves of a cache holding only its markers; None when it
    removes the cache dir itself (0.13.9 keeps `.lock` and the dir; 0.5.31 to 0.12.24 remove both).

    Asked of the running uv on a scratch cache, like `size_accounting`, rather
    than carried per release.
    """
    def clean(probe: Path) -> frozenset[str] | None:
        for name in MARKERS - {".git"}:
            touch(probe / name)
        (probe / ".git").mkdir()
        result = _run_uv(probe, ["cache", "clean"], invocation, real_uv, env)
        if result.returncode != 0:
            raise OperationFailed(f"could not work out what `uv cache clean` removes: {real_uv} exited "
                                  f"{result.returncode} on a scratch cache; nothing was removed\n"
                                  + result.stderr.strip())
        return frozenset(os.listdir(probe)) if probe.is_dir() else None

    return _in_scratch_cache(cache_dir, env, clean)


def _in_scratch_cache(cache_dir: Path, env: Mapping[str, str], action: Callable[[Path], Any]) -> Any:
    """`action(an empty scratch cache dir)`, beside the cache or, when its disk is full, in memory."""
    failure: OSError | None = None
    for place in (cache_dir, *memory_dirs(env)):
        try:
            with skeleton_dir(place, cache_dir) as work:
                probe = work / "cache"
                probe.mkdir()
                return action(probe)
        except OSError as error:
            failure = error
    raise failure  # type: ignore[misc]  # set: the loop runs at least once


def protected_entries(plan: Plan, live_entries: Iterable[str]) -> tuple[str, ...]:
    """The live entries the plan would remove, directly or inside a removed parent."""
    removed = set(plan.remove)
    return tuple(sorted(entry for entry in set(live_entries) if _covered(entry, removed)))


def _covered(entry: str, removed: set[str]) -> bool:
    parts = entry.split("/")
    return any("/".join(parts[:i]) in removed for i in range(1, len(parts) + 1))


def topmost(paths: Iterable[str]) -> tuple[str, ...]:
    """The paths whose parent is not in the set itself."""
    paths = set(paths)
    return tuple(sorted(p for p in paths if p.rpartition("/")[0] not in paths))


def _operation_args(invocation: Invocation) -> list[str]:
    """uv's arguments for the operation itself, run on a skeleton."""
    if invocation.operation == CLEAN_PACKAGES:
        return ["cache", "clean", *invocation.packages]
    if invocation.operation == CLEAN:
        return ["cache", "clean"]
    return ["cache", "prune"] + (["--ci"] if invocation.operation == PRUNE_CI else [])


def _run_uv_on(skeleton: Path, invocation: Invocation, real_uv: str, env: Mapping[str, str]) -> None:
    command = _operation_args(invocation)
    result = _run_uv(skeleton, command, invocation, real_uv, env)
    if result.returncode != 0:
        raise OperationFailed(
            f"could not work out what `uv {' '.join(command)}` would remove: "
            f"{real_uv} exited {result.returncode} on a skeleton of the cache; nothing was removed\n"
            + result.stderr.strip(),
        )


def _run_uv(cache: Path, command: list[str], invocation: Invocation, real_uv: str,
            env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """Real uv on a scratch cache, isolated from config files but with the invocation's preview flags."""
    args = ["--no-config", "--offline", "--no-progress", "--cache-dir", str(cache), *preview_args(invocation)]
    return ask_uv(real_uv, args + command, _child_env(env))


def preview_args(invocation: Invocation) -> list[str]:
    """The invocation's preview flags, as every uv run on a scratch cache gets them."""
    features = [f"--preview-features={feature}" for feature in invocation.option("preview-features", ())]
    return (["--preview"] if invocation.option("preview") else []) + features


def _child_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in _CACHE_VARIABLES}


def size_accounting(cache_dir: Path, invocation: Invocation, real_uv: str,
                    env: Mapping[str, str]) -> tuple[str, bool]:
    """`physical` or `logical`: how this uv counts freed bytes in its summary line; and whether
    uv itself told it on the cache's filesystem (an answer `sizes.counts_blocks` remembers).

    uv up to 0.11 reports logical sizes; 0.12 added physical space (blocks
    not shared with a hard link) as a preview feature and later made it the
    default, falling back to logical on filesystems that cannot tell. Rather
    than tracking which release does what, uv prunes a one-byte file beside
    the cache: `(1B)` means logical. When the cache's disk is full, a memory
    filesystem answers for this uv instead (both tell physical sizes).
    """
    def prune(probe: Path) -> tuple[subprocess.CompletedProcess, bool]:
        (probe / "probe").write_bytes(b"x")
        return _run_uv(probe, ["cache", "prune"], invocation, real_uv, env), probe.parent.parent == cache_dir

    try:
        result, beside_the_cache = _in_scratch_cache(cache_dir, env, prune)
    except OSError:
        return "logical", False  # nowhere to write one byte: the count is still right, only the size may not be
    lines = result.stderr.strip().splitlines()
    if result.returncode != 0 or not lines:
        return "logical", False
    return ("physical" if lines[-1].endswith(")") and not lines[-1].endswith("(1B)") else "logical"), beside_the_cache
