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
from uvguard.errors import OperationFailed
from uvguard.invocation import parse
from uvguard.prune_plan import removal_plan
from uvguard.skeleton import MEMORY_SKELETON_PREFIX, build_skeleton, memory_dirs, sweep_crashed_skeletons

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
    """uv 0.13's layout: a referenced and an unreferenced archive, a revision pointer, a built wheel and its source."""
    (root / "archive-v0" / "kept" / "pkg").mkdir(parents=True)
    (root / "archive-v0" / "kept" / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "archive-v0" / "gone" / "pkg").mkdir(parents=True)
    wheel = root / "wheels-v8" / "pypi" / "pkg"
    wheel.mkdir(parents=True)
    (wheel / "1.0-py3-none-any.http").write_bytes(b"pointer" * 10)
    (wheel / "1.0-py3-none-any").symlink_to("../../../archive-v0/kept")
    revision = root / "sdists-v11" / "pypi" / "built" / "1.0"
    revision.mkdir(parents=True)
    (revision / "built-1.0-py3-none-any.whl").write_bytes(b"\1" * 100_000)
    (revision / "metadata.msgpack").write_bytes(b"\x82metadata")
    (revision / "src" / "built").mkdir(parents=True)
    (revision / "src" / "built" / "__init__.py").write_text("x = 1\n" * 1000)
    (root / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    return root


def private_dir(path: Path, mode: int = 0o700) -> Path:
    path.mkdir()
    path.chmod(mode)
    return path


def test_memory_dirs_are_a_private_runtime_dir_then_dev_shm(tmp_path):
    runtime = private_dir(tmp_path / "run")
    shm = [SHM] if SHM.is_dir() else []
    assert memory_dirs({"XDG_RUNTIME_DIR": str(runtime)}) == [runtime, *shm]
    assert memory_dirs({"XDG_RUNTIME_DIR": "relative/run"}) == shm
    assert memory_dirs({"XDG_RUNTIME_DIR": str(tmp_path / "missing")}) == shm
    assert memory_dirs({}) == shm


@pytest.mark.parametrize("kind", ["group-readable", "world-writable", "a-link"])
def test_a_runtime_dir_others_can_reach_is_not_used(tmp_path, kind):
    """uv deletes whatever its cache dir leads to: a skeleton must sit where no one else can swap it."""
    if kind == "a-link":
        runtime = tmp_path / "run"
        runtime.symlink_to(private_dir(tmp_path / "target"))
    else:
        runtime = private_dir(tmp_path / "run", 0o750 if kind == "group-readable" else 0o777)
    assert memory_dirs({"XDG_RUNTIME_DIR": str(runtime)}) == ([SHM] if SHM.is_dir() else [])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_another_users_runtime_dir_is_not_used(tmp_path):
    """`su` without `-` keeps the other user's XDG_RUNTIME_DIR; its owner could swap our skeleton."""
    runtime = private_dir(tmp_path / "run")
    os.chown(runtime, 65534, 65534)
    assert memory_dirs({"XDG_RUNTIME_DIR": str(runtime)}) == ([SHM] if SHM.is_dir() else [])


@needs_shm
def test_across_filesystems_only_parsed_files_are_copied(sandbox, memory_dir):
    cache = cache_with_pointers(sandbox.cache)
    if os.stat(cache).st_dev == os.stat(memory_dir).st_dev:
        pytest.skip("the test's temp dir is on /dev/shm's filesystem")
    skeleton = memory_dir / "cache"
    build_skeleton(cache, skeleton, memory_dir / "outside")
    pointer = skeleton / "wheels-v8" / "pypi" / "pkg" / "1.0-py3-none-any.http"
    assert pointer.read_bytes() == b"pointer" * 10
    revision = skeleton / "sdists-v11" / "pypi" / "built" / "1.0"
    assert (revision / "metadata.msgpack").read_bytes() == b"\x82metadata"
    for stand_in in (revision / "built-1.0-py3-none-any.whl", revision / "src" / "built" / "__init__.py"):
        original = cache / stand_in.relative_to(skeleton)
        assert stand_in.stat().st_size == original.stat().st_size
        assert stand_in.stat().st_blocks == 0, stand_in  # a hole: no memory spent on a file uv never reads
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


@pytest.mark.parametrize("failure", ["building", "uv"])
def test_a_failure_in_memory_falls_back_to_the_cache(sandbox, tmp_path, monkeypatch, failure):
    cache = cache_with_pointers(sandbox.cache)
    full = private_dir(tmp_path / "full")
    build, run_uv = prune_plan.build_skeleton, prune_plan._run_uv_on
    made_in = []

    def build_failing_in_memory(c, skeleton, outside):
        made_in.append(skeleton.parent.parent)
        if skeleton.parent.parent == full and failure == "building":
            (skeleton / "partial").mkdir(parents=True)
            raise OSError(errno.ENOSPC, "No space left on device")
        return build(c, skeleton, outside)

    def uv_failing_in_memory(skeleton, *args):
        if skeleton.parent.parent == full and failure == "uv":
            raise OperationFailed("uv exited 2 on a skeleton of the cache")
        return run_uv(skeleton, *args)

    monkeypatch.setattr(prune_plan, "build_skeleton", build_failing_in_memory)
    monkeypatch.setattr(prune_plan, "_run_uv_on", uv_failing_in_memory)
    monkeypatch.setattr(prune_plan, "memory_dirs", lambda env: [full])  # the only one: next is the cache
    config = SimpleNamespace(cache_dir=cache, no_cache=False)
    plan = removal_plan(parse(["cache", "prune"]), config, UV, sandbox.env(XDG_RUNTIME_DIR=str(full)))
    assert plan.remove == ("archive-v0/gone",)
    assert made_in == [full, cache]
    assert os.listdir(full) == []  # the partial skeleton went too
    assert not list(cache.glob(".uvguard-skeleton-*"))


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB memory filesystem of our own, when this machine lets us mount one."""
    mount = private_dir(tmp_path / "tiny")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_memory_dir_that_fills_up_falls_back_to_the_cache(sandbox, tiny_tmpfs, monkeypatch):
    """A real ENOSPC halfway through: each copied pointer takes a page, 64 KiB holds 16."""
    cache = cache_with_pointers(sandbox.cache)
    build, made_in = prune_plan.build_skeleton, []
    monkeypatch.setattr(prune_plan, "build_skeleton",
                        lambda c, skeleton, outside: made_in.append(skeleton.parent.parent)
                        or build(c, skeleton, outside))
    wheels = cache / "wheels-v8" / "pypi"
    for index in range(40):
        (wheels / f"extra{index}").mkdir()
        (wheels / f"extra{index}" / "1.0-py3-none-any.http").write_bytes(b"pointer")
    monkeypatch.setattr(prune_plan, "memory_dirs", lambda env: [tiny_tmpfs])  # the only one: next is the cache
    config = SimpleNamespace(cache_dir=cache, no_cache=False)
    env = sandbox.env(XDG_RUNTIME_DIR=str(tiny_tmpfs))
    plan = removal_plan(parse(["cache", "prune"]), config, UV, env)
    assert plan.remove == ("archive-v0/gone",)
    assert made_in == [tiny_tmpfs, cache]
    assert os.listdir(tiny_tmpfs) == []
    assert not list(cache.glob(".uvguard-skeleton-*"))


@pytest.fixture
def mount_tmpfs(tmp_path):
    """Mounts a memory filesystem of a given size at a new private directory; unmounts them all after."""
    mounted = []

    def mount(name: str, size: str) -> Path:
        path = private_dir(tmp_path / name)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot mount a tmpfs here")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=True)


def fill(directory: Path) -> None:
    """Write to `directory`'s filesystem until it is full."""
    with open(directory / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


@needs_shm
def test_every_memory_dir_is_tried_before_a_full_cache(sandbox, mount_tmpfs, monkeypatch):
    """A 16 KiB private runtime dir fills up at once, the cache's disk is full: /dev/shm still has room."""
    if not memory_dirs({})[-1:] == [Path(os.path.realpath(SHM))]:
        pytest.skip("/dev/shm is not usable for a skeleton here")
    runtime = mount_tmpfs("run", "16k")
    disk = mount_tmpfs("disk", "1m")
    cache = cache_with_pointers(disk / "cache")
    for index in range(8):  # each pointer copied into memory takes a page: 16 KiB hold 4
        (cache / "wheels-v8" / "pypi" / "pkg" / f"{index}.0-py3-none-any.http").write_bytes(b"pointer")
    fill(disk)
    build, made_in = prune_plan.build_skeleton, []
    monkeypatch.setattr(prune_plan, "build_skeleton",
                        lambda c, skeleton, outside: made_in.append(skeleton.parent.parent)
                        or build(c, skeleton, outside))
    config = SimpleNamespace(cache_dir=cache, no_cache=False)
    plan = removal_plan(parse(["cache", "prune"]), config, UV, sandbox.env(XDG_RUNTIME_DIR=str(runtime)))
    assert plan.remove == ("archive-v0/gone",)
    assert made_in == [runtime, Path(os.path.realpath(SHM))]
    assert os.listdir(runtime) == []
    assert not [name for name in os.listdir(SHM) if name.startswith(MEMORY_SKELETON_PREFIX)
                and os.stat(SHM / name).st_uid == os.geteuid() and time.time() - os.stat(SHM / name).st_mtime < 60]


def crashed_skeleton(place: Path, name: str, lock: bool = True, age: float = 0.0) -> Path:
    path = place / f"{MEMORY_SKELETON_PREFIX}{name}"
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


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory another user's")
def test_sweep_leaves_other_users_skeletons_alone(tmp_path):
    theirs = crashed_skeleton(tmp_path, "theirs", age=3600)
    for path in (theirs, theirs / "lock"):
        os.chown(path, 65534, 65534)
    sweep_crashed_skeletons(tmp_path)
    assert theirs.is_dir()
