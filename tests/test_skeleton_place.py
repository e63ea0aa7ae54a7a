"""Where the skeleton is built: a memory filesystem first (files copied, large ones sparse),
the cache itself when that fails; and how skeletons a crash left in memory are swept."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import uv_releases
from uvguard import prune_plan
from uvguard.invocation import parse
from uvguard.prune_plan import build_skeleton, memory_dirs, removal_plan, sweep_crashed_skeletons

UV = str(uv_releases.path(uv_releases.LATEST))
SHM = Path("/dev/shm")
needs_shm = pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm on this machine")


@pytest.fixture
def memory_dir():
    """A private directory on /dev/shm: another filesystem than the test's cache."""
    path = Path(tempfile.mkdtemp(prefix="uvguard-tests-", dir=SHM))
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=True)


def cache_with_pointers(root: Path) -> Path:
    """uv 0.13's layout: a referenced and an unreferenced archive, a revision pointer, a large built wheel."""
    (root / "archive-v0" / "kept" / "pkg").mkdir(parents=True)
    (root / "archive-v0" / "kept" / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "archive-v0" / "gone" / "pkg").mkdir(parents=True)
    wheel = root / "wheels-v8" / "pypi" / "pkg"
    wheel.mkdir(parents=True)
    (wheel / "1.0-py3-none-any.http").write_bytes(b"pointer" * 10)
    (wheel / "1.0-py3-none-any").symlink_to("../../../archive-v0/kept")
    revision = root / "sdists-v11" / "pypi" / "built" / "1.0"
    revision.mkdir(parents=True)
    (revision / "built-1.0-py3-none-any.whl").write_bytes(b"\1" * (prune_plan._LARGE_FILE + 1))
    (root / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    return root


def test_memory_dirs_are_the_runtime_dir_then_dev_shm(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir()
    shm = [SHM] if SHM.is_dir() else []
    assert memory_dirs({"XDG_RUNTIME_DIR": str(runtime)}) == [runtime, *shm]
    assert memory_dirs({"XDG_RUNTIME_DIR": "relative/run"}) == shm
    assert memory_dirs({"XDG_RUNTIME_DIR": str(tmp_path / "missing")}) == shm
    assert memory_dirs({}) == shm


@needs_shm
def test_across_filesystems_files_are_copied_and_large_ones_are_sparse(sandbox, memory_dir):
    cache = cache_with_pointers(sandbox.cache)
    skeleton = memory_dir / "cache"
    build_skeleton(cache, skeleton, memory_dir / "outside")
    pointer = skeleton / "wheels-v8" / "pypi" / "pkg" / "1.0-py3-none-any.http"
    assert pointer.read_bytes() == b"pointer" * 10
    assert os.stat(pointer).st_dev != os.stat(cache).st_dev
    large = skeleton / "sdists-v11" / "pypi" / "built" / "1.0" / "built-1.0-py3-none-any.whl"
    assert large.stat().st_size == prune_plan._LARGE_FILE + 1
    assert large.stat().st_blocks == 0  # a hole: no memory spent on a file uv never reads
    assert os.readlink(skeleton / "wheels-v8" / "pypi" / "pkg" / "1.0-py3-none-any") == "../../../archive-v0/kept"


@needs_shm
def test_the_plan_is_made_in_the_memory_dir_and_leaves_nothing_there(sandbox, memory_dir, monkeypatch):
    cache = cache_with_pointers(sandbox.cache)
    made_in = []
    original = prune_plan.build_skeleton
    monkeypatch.setattr(prune_plan, "build_skeleton",
                        lambda c, skeleton, outside: made_in.append(skeleton) or original(c, skeleton, outside))
    config = SimpleNamespace(cache_dir=cache, no_cache=False)
    plan = removal_plan(parse(["cache", "prune"]), config, UV, sandbox.env(XDG_RUNTIME_DIR=str(memory_dir)))
    assert plan.remove == ("archive-v0/gone",)
    assert [skeleton.parent.parent for skeleton in made_in] == [memory_dir]
    assert os.listdir(memory_dir) == []
    assert not list(cache.glob(".uvguard-skeleton-*"))


def test_a_full_memory_dir_falls_back_to_the_cache(sandbox, tmp_path, monkeypatch):
    cache = cache_with_pointers(sandbox.cache)
    full = tmp_path / "full"
    full.mkdir()
    original = prune_plan.build_skeleton
    made_in = []

    def build(c, skeleton, outside):
        made_in.append(skeleton.parent.parent)
        if skeleton.parent.parent == full:
            (skeleton / "partial").mkdir(parents=True)
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(c, skeleton, outside)

    monkeypatch.setattr(prune_plan, "memory_dirs", lambda env: [full])
    monkeypatch.setattr(prune_plan, "build_skeleton", build)
    config = SimpleNamespace(cache_dir=cache, no_cache=False)
    plan = removal_plan(parse(["cache", "prune"]), config, UV, sandbox.env())
    assert plan.remove == ("archive-v0/gone",)
    assert made_in == [full, cache]
    assert os.listdir(full) == []  # the partial skeleton went too
    assert not list(cache.glob(".uvguard-skeleton-*"))


def crashed_skeleton(place: Path, name: str, lock: bool = True, age: float = 0.0) -> Path:
    path = place / f"{prune_plan.MEMORY_SKELETON_PREFIX}{name}"
    (path / "cache" / "archive-v0").mkdir(parents=True)
    if lock:
        (path / "lock").write_text("")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def test_sweep_removes_what_no_running_uvguard_holds(tmp_path):
    crashed = crashed_skeleton(tmp_path, "crashed", age=3600)
    unlocked = crashed_skeleton(tmp_path, "unlocked", lock=False, age=3600)
    young = crashed_skeleton(tmp_path, "young")  # may be about to take its lock
    young_unlocked = crashed_skeleton(tmp_path, "young-unlocked", lock=False)
    running = crashed_skeleton(tmp_path, "running", age=3600)
    other = tmp_path / "someone-elses-file"
    other.write_text("")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()", str(running / "lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        sweep_crashed_skeletons(tmp_path)
    finally:
        holder.communicate("")
    assert not crashed.exists() and not unlocked.exists()
    assert young.is_dir() and young_unlocked.is_dir() and running.is_dir() and other.is_file()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a directory another user's")
def test_sweep_leaves_other_users_skeletons_alone(tmp_path):
    theirs = crashed_skeleton(tmp_path, "theirs", age=3600)
    for path in (theirs, theirs / "lock"):
        os.chown(path, 65534, 65534)
    sweep_crashed_skeletons(tmp_path)
    assert theirs.is_dir()
