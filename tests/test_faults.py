"""Odd caches and faults on the guarded path, through the installed shim, on real uv releases.

Odd input (a FIFO where a file should be, TOML nested thousands deep, a
read-only cache) ends in one `error:` line naming the file, exit 2, never a
traceback or a hang. Faults (SIGKILL of the guarded process before the lock,
while the skeleton is built, mid-removal; a full disk; a read-only cache)
are injected with real signals timed by watching the filesystem, and after
each: every registered environment still runs its compiled submodule, real
uv installs into the same cache again, and the next guarded run sweeps what
the killed one left.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import uv_releases
from uvguard.shimfile import write_shim

pytestmark = pytest.mark.slow

FAULT_RELEASES = ["0.6.4", "0.8.24", "0.13.9"]
DEEP = "[" * 5000 + "]" * 5000


class Machine:
    """A sandbox with the shim in front of one real uv release, and environments made through it."""

    def __init__(self, sandbox, wheelhouse, version: str = uv_releases.LATEST):
        self.sandbox = sandbox
        self.wheelhouse = wheelhouse
        self.version = version
        self.real_uv = str(uv_releases.path(version))
        bin_dir = sandbox.root / "bin"
        bin_dir.mkdir()
        self.shim = bin_dir / "uv"
        write_shim(self.shim, sys.executable, self.real_uv)
        self.elsewhere = sandbox.root / "elsewhere"
        self.elsewhere.mkdir()
        self.env = sandbox.env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        self.runtime = Path(self.env["XDG_RUNTIME_DIR"])
        self.cache = sandbox.cache
        self.venvs: list[Path] = []

    def uv(self, *args, cwd=None, **extra) -> subprocess.CompletedProcess:
        env = {**self.env, **{k: str(v) for k, v in extra.items()}}
        return subprocess.run([str(self.shim), *args], env=env, cwd=cwd or self.elsewhere,
                              capture_output=True, text=True, timeout=120)

    def spawn(self, *args, **extra) -> subprocess.Popen:
        env = {**self.env, **{k: str(v) for k, v in extra.items()}}
        return subprocess.Popen([str(self.shim), *args], env=env, cwd=self.elsewhere,
                                stderr=subprocess.PIPE, text=True)

    def install(self, venv: Path, *packages: str, through_shim: bool = True) -> subprocess.CompletedProcess:
        program = [str(self.shim)] if through_shim else [self.real_uv]
        result = None
        for args in (["venv", str(venv)],
                     ["pip", "install", "--python", str(venv), "--no-index", "--find-links", str(self.wheelhouse),
                      "--link-mode", "symlink", *packages]):
            result = subprocess.run([*program, *args], env=self.env, cwd=venv.parent, capture_output=True,
                                    text=True, timeout=120)
            assert result.returncode == 0, result.stderr
        return result

    def symlink_venv(self, name: str, *packages: str) -> Path:
        venv = self.sandbox.work / name / ".venv"
        venv.parent.mkdir(parents=True)
        self.install(venv, *packages)
        self.venvs.append(venv)
        return venv

    def runs_compiled_module(self, venv: Path) -> bool:
        """The `.so` itself, not the package: a package whose files are gone imports as an empty namespace."""
        result = subprocess.run([str(venv / "bin" / "python"), "-c",
                                 "import speedpkg._speed as s; assert s.answer() == '1.0'; "
                                 "import purepkg; purepkg.hello()"],
                                capture_output=True, env=self.sandbox.env())
        return result.returncode == 0

    def listing(self) -> list[str]:
        return sorted(str(p.relative_to(self.cache)) for p in self.cache.rglob("*"))


@pytest.fixture
def machine(sandbox, wheelhouse):
    return Machine(sandbox, wheelhouse)


def single_error(result: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a failed guarded command (its `hint:` lines may follow)."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@contextmanager
def mounted(*args: str):
    """Run `mount ARGS`; umount the last argument after. Skips where this machine cannot mount."""
    if subprocess.run(["mount", *args], capture_output=True).returncode != 0:
        pytest.skip(f"cannot mount here: mount {' '.join(args)}")
    try:
        yield
    finally:
        subprocess.run(["umount", args[-1]], check=True)


@contextmanager
def read_only(directory: Path):
    """`directory` as a read-only filesystem (errno 30, EROFS: even root cannot write)."""
    with mounted("--bind", str(directory), str(directory)):
        subprocess.run(["mount", "-o", "remount,ro,bind", str(directory)], check=True)
        yield


def fill(directory: Path) -> Path:
    """Write to `directory`'s filesystem until it is full; the filler file, to free it again."""
    filler = directory / "filler"
    with open(filler, "wb") as stream:
        try:
            while True:
                stream.write(b"\0" * 65536)
                stream.flush()
        except OSError:
            pass
    return filler


# --- Odd caches and odd files: one `error:` line, exit 2, never a traceback or a hang ----------------


def test_a_read_only_cache_is_one_error_naming_the_lock_file(machine):
    venv = machine.symlink_venv("app", "speedpkg", "purepkg")
    before = machine.listing()
    with read_only(machine.cache):
        result = machine.uv("cache", "prune", "--ci", UVGUARD_POLICY="ci")
    assert result.returncode == 2, result.stderr
    line = single_error(result)
    assert f"`{machine.cache / '.lock'}`" in line and "Read-only file system" in line
    assert "hint: the cache is untouched" in result.stderr
    assert machine.listing() == before and machine.runs_compiled_module(venv)


def test_a_fifo_at_cachedir_tag_is_never_opened(machine):
    """uv never reads CACHEDIR.TAG while pruning; nor does the skeleton, which used to copy it (and fail)."""
    venv = machine.symlink_venv("app", "speedpkg", "purepkg")
    (machine.cache / "CACHEDIR.TAG").unlink()
    os.mkfifo(machine.cache / "CACHEDIR.TAG")
    result = machine.uv("cache", "prune", "--ci", UVGUARD_POLICY="ci")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"kept 2 entries \([^)]*\) used by 1 environment", result.stderr), result.stderr
    assert (machine.cache / "CACHEDIR.TAG").is_fifo()
    assert machine.runs_compiled_module(venv)


@pytest.mark.parametrize("where", ["policy", "uv.toml", "pyproject.toml"])
def test_toml_nested_thousands_deep_is_a_parse_error(machine, where):
    venv = machine.symlink_venv("app", "speedpkg", "purepkg")
    project = venv.parent
    path = {"policy": Path(machine.env["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml",
            "uv.toml": project / "uv.toml", "pyproject.toml": project / "pyproject.toml"}[where]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (f"x = {DEEP}\n" if where != "pyproject.toml"
            else f'[project]\nname = "app"\nversion = "1"\n\n[tool.uv]\nx = {DEEP}\n')
    path.write_text(text)
    before = machine.listing()
    result = subprocess.run([str(machine.shim), "cache", "clean"], env=machine.env, cwd=project,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    if where == "uv.toml":  # uv refuses the line itself: its own error, relayed unchanged
        bare = subprocess.run([machine.real_uv, "cache", "clean"], cwd=project, capture_output=True, text=True,
                              env={**machine.env, "UV_CACHE_DIR": str(machine.sandbox.root / "no-cache")}, timeout=60)
        assert (result.returncode, result.stderr) == (bare.returncode, bare.stderr)
        assert "Traceback" not in result.stderr
    else:
        assert single_error(result) == f"error: Failed to parse `{path}`: arrays or inline tables nested too deeply"
    assert machine.listing() == before and machine.runs_compiled_module(venv)


@pytest.mark.parametrize("where", ["user policy", "uv.toml", "pyproject.toml"])
def test_a_fifo_in_place_of_a_config_file_is_refused_not_read(machine, where):
    """uvguard does not ask uv about a FIFO config either: uv itself waits on it forever."""
    venv = machine.symlink_venv("app", "speedpkg", "purepkg")
    path = (Path(machine.env["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml" if where == "user policy"
            else venv.parent / where)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    before = machine.listing()
    result = subprocess.run([str(machine.shim), "cache", "clean"], env=machine.env, cwd=venv.parent,
                            capture_output=True, text=True, timeout=60)  # it used to hang here
    assert result.returncode == 2, result.stderr
    assert single_error(result) == (f"error: Failed to read `{path}`: not a regular file; "
                                    "replace it with a regular file or remove it")
    assert machine.listing() == before and machine.runs_compiled_module(venv)


@pytest.mark.parametrize("name", ["registry", "roots"])
def test_a_fifo_in_place_of_uvguards_own_state_fails_closed_without_hanging(machine, name):
    """The registry and the manual roots are read on the guarded path: a FIFO there used to hang it."""
    venv = machine.symlink_venv("app", "speedpkg", "purepkg")
    path = Path(machine.env["XDG_STATE_HOME"]) / "uvguard" / name
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    before = machine.listing()
    result = machine.uv("cache", "clean", "speedpkg")  # it used to hang here
    assert result.returncode in (2, 3), result.stderr
    assert f"`{path}`" in single_error(result) or str(path) in result.stderr
    assert "not a regular file" in result.stderr and "Traceback" not in result.stderr
    assert machine.listing() == before and machine.runs_compiled_module(venv)


def test_a_fifo_in_place_of_the_decisions_log_is_a_warning_not_a_hang(machine):
    venv = machine.symlink_venv("app", "speedpkg", "purepkg")
    log = Path(machine.env["XDG_STATE_HOME"]) / "uvguard" / "decisions.jsonl"
    os.mkfifo(log)
    result = machine.uv("cache", "prune", "--ci", UVGUARD_POLICY="ci")
    assert result.returncode == 0, result.stderr
    assert f"warning: could not write the decisions log `{log}`" in result.stderr
    assert machine.runs_compiled_module(venv)


# --- Fault injection: SIGKILL at three points, a full disk, a read-only cache -----------------------


class FaultScene:
    """Two registered environments and a pile of garbage a `prune --ci` removes, on one uv release."""

    GARBAGE = 1500  # unreferenced archive entries: enough that removing them takes a while

    def __init__(self, machine: Machine):
        self.machine = machine
        self.venvs = [machine.symlink_venv("app", "speedpkg", "purepkg"),
                      machine.symlink_venv("tool", "speedpkg", "purepkg", "toolpkg")]
        gone = machine.symlink_venv("gone", "otherpkg")  # registered, then deleted: its archive is garbage
        self.gone_archives = {machine.cache / "archive-v0" / name for name in archive_ids(machine, gone)}
        shutil.rmtree(gone.parent)
        machine.venvs.remove(gone)
        for index in range(self.GARBAGE):
            entry = machine.cache / "archive-v0" / f"zz-garbage-{index:04}" / "pkg"
            entry.mkdir(parents=True)
            for name in ("__init__.py", "core.py", "util.py"):
                (entry / name).write_text("x = 1\n")
        self.live = set().union(*(archive_ids(machine, venv) for venv in self.venvs))

    def prune(self, **extra) -> subprocess.Popen:
        return self.machine.spawn("cache", "prune", "--ci", UVGUARD_POLICY="ci", **extra)

    def assert_nothing_lost(self) -> None:
        """Every registered environment runs its `.so`; real uv installs into the same cache again;
        the next guarded run sweeps what the faulty one left; nothing registered broke meanwhile."""
        machine = self.machine
        for venv in self.venvs:
            assert machine.runs_compiled_module(venv), venv
        again = machine.sandbox.work / "again" / ".venv"
        again.parent.mkdir()
        machine.install(again, "speedpkg", "purepkg", "otherpkg", through_shim=False)  # bare real uv
        assert machine.runs_compiled_module(again)
        shutil.rmtree(again.parent)  # unregistered: the next prune may take its entries
        result = machine.uv("cache", "prune", "--ci", UVGUARD_POLICY="ci")
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert set(os.listdir(machine.cache / "archive-v0")) == self.live
        assert not list(machine.cache.glob(".uvguard-skeleton-*"))
        assert not skeletons(machine.runtime)
        for venv in self.venvs:
            assert machine.runs_compiled_module(venv), venv


def archive_ids(machine: Machine, venv: Path) -> set[str]:
    archive = str(machine.cache / "archive-v0") + "/"
    targets = (os.readlink(p) for p in venv.rglob("*") if p.is_symlink())
    return {t[len(archive):].split("/")[0] for t in targets if t.startswith(archive)}


def skeletons(place: Path) -> list[Path]:
    return [place / name for name in os.listdir(place) if name.startswith("uvguard-skeleton-")]


def kill_when(process: subprocess.Popen, condition, timeout: float = 120.0) -> None:
    """SIGKILL `process` the moment `condition()` holds, watching the filesystem as fast as we can."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"finished before the fault point: {process.stderr.read()}"
        assert time.monotonic() < deadline, "the fault point never came"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    process.stderr.close()


@pytest.fixture(params=FAULT_RELEASES)
def scene(request, sandbox, wheelhouse):
    return FaultScene(Machine(sandbox, wheelhouse, request.param))


def test_sigkill_while_waiting_for_the_lock(scene):
    lock = os.open(scene.machine.cache / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)  # a running uv command
        process = scene.prune(UV_LOCK_TIMEOUT="120")
        assert "Cache is currently in-use" in process.stderr.readline()
        kill_when(process, lambda: True)
    finally:
        os.close(lock)
    assert all(path.exists() for path in scene.gone_archives)  # nothing removed before the lock
    scene.assert_nothing_lost()


def test_sigkill_while_the_skeleton_is_built(scene):
    runtime = scene.machine.runtime
    process = scene.prune()
    kill_when(process, lambda: any((s / "cache").is_dir() for s in skeletons(runtime)))
    [left] = skeletons(runtime)
    an_hour_ago = time.time() - 3600  # past the sweep's grace for a skeleton that may be about to lock
    os.utime(left, (an_hour_ago, an_hour_ago))
    assert all(path.exists() for path in scene.gone_archives)
    scene.assert_nothing_lost()


def test_sigkill_while_the_skeleton_is_built_inside_the_cache(scene):
    """No memory filesystem usable (no runtime dir; /dev/shm not sticky, in a private mount namespace):
    the skeleton goes into `<cache>/.uvguard-skeleton-*`, which the next guarded prune removes."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1) for a private /dev/shm")
    machine = scene.machine
    env = {k: v for k, v in machine.env.items() if k != "XDG_RUNTIME_DIR"}
    command = f"mount -t tmpfs -o size=1m,mode=0755 tmpfs /dev/shm && exec {machine.shim} cache prune --ci"
    process = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
                               env={**env, "UVGUARD_POLICY": "ci"}, cwd=machine.elsewhere,
                               stderr=subprocess.PIPE, text=True)
    kill_when(process, lambda: any((s / "cache").is_dir() for s in machine.cache.glob(".uvguard-skeleton-*")))
    assert list(machine.cache.glob(".uvguard-skeleton-*"))
    assert all(path.exists() for path in scene.gone_archives)
    scene.assert_nothing_lost()


def test_sigkill_mid_removal(scene):
    """Killed the moment a garbage archive goes: the pointers naming it must be gone already (uv's own
    order), or real uv fails every later install of that wheel."""
    process = scene.prune()
    kill_when(process, lambda: not all(path.exists() for path in scene.gone_archives))
    left = [name for name in os.listdir(scene.machine.cache / "archive-v0") if name.startswith("zz-garbage-")]
    assert left, "the removal had finished: not a mid-removal kill"
    scene.assert_nothing_lost()


@pytest.mark.parametrize("version", FAULT_RELEASES)
def test_a_full_disk_everywhere_is_one_error_and_changes_nothing(sandbox, wheelhouse, version):
    """The cache's disk full, the runtime dir tiny and full, /dev/shm full (in a private mount namespace)."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1) for a private /dev/shm")
    sandbox.cache.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(sandbox.cache)):
        machine = Machine(sandbox, wheelhouse, version)
        scene = FaultScene(machine)
        with mounted("-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(machine.runtime)):
            filler = fill(sandbox.cache)
            before = machine.listing()
            command = (f'mount -t tmpfs -o size=16k,mode=1777 tmpfs /dev/shm && dd if=/dev/zero of=/dev/shm/f '
                       f'bs=4k 2>/dev/null; dd if=/dev/zero of={machine.runtime}/f bs=4k 2>/dev/null; '
                       f'exec {machine.shim} cache prune --ci')
            result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
                                    env={**machine.env, "UVGUARD_POLICY": "ci"}, cwd=machine.elsewhere,
                                    capture_output=True, text=True, timeout=120)
            os.unlink(machine.runtime / "f")
        assert result.returncode == 2, result.stderr
        line = single_error(result)
        assert "No space left on device" in line
        assert "the cache is untouched" in result.stderr
        assert machine.listing() == before
        filler.unlink()
        scene.assert_nothing_lost()


def test_a_read_only_cache_changes_nothing_and_the_next_run_works(scene):
    machine = scene.machine
    before = machine.listing()
    with read_only(machine.cache):
        result = machine.uv("cache", "prune", "--ci", UVGUARD_POLICY="ci")
    assert result.returncode == 2, result.stderr
    assert "Read-only file system" in single_error(result)
    assert machine.listing() == before
    scene.assert_nothing_lost()


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm")
def test_a_full_cache_disk_and_a_tiny_runtime_dir_still_find_dev_shm(sandbox, wheelhouse):
    """Issue 13, item 5: every memory place is tried (a 16 KiB runtime dir fills at once), and the
    size-accounting probe goes there too when the cache's disk has no room for one byte."""
    sandbox.cache.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(sandbox.cache)):
        machine = Machine(sandbox, wheelhouse)
        scene = FaultScene(machine)
        with mounted("-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(machine.runtime)):
            filler = fill(sandbox.cache)
            result = machine.uv("cache", "prune", "--ci", UVGUARD_POLICY="ci")
            assert result.returncode == 0, result.stderr
            assert re.search(r"kept 3 entries \([^)]*\) used by 2 environments", result.stderr), result.stderr
            assert set(os.listdir(machine.cache / "archive-v0")) == scene.live
            assert not skeletons(machine.runtime)
            assert not filler.exists()  # a stray file at the cache's top: uv's prune takes it too
        scene.assert_nothing_lost()


@pytest.mark.parametrize("version", ["0.6.4", "0.12.24", "0.13.9"])
def test_a_limited_clean_with_nothing_live_does_what_real_uv_does(sandbox, wheelhouse, version):
    """Issue 13, item 6, as reported: `ci` preset, symlink mode on, nothing live, a full clean through the
    shim leaves what real uv leaves (nothing, or `.lock` with 0.13.9) and reports the same count."""
    machine = Machine(sandbox, wheelhouse, version)
    venv = machine.sandbox.work / "gone" / ".venv"
    venv.parent.mkdir(parents=True)
    machine.install(venv, "speedpkg", "purepkg", through_shim=False)
    shutil.rmtree(venv.parent)
    twin = sandbox.root / "twin-cache"
    subprocess.run(["cp", "-a", str(machine.cache), str(twin)], check=True)
    bare = subprocess.run([machine.real_uv, "--cache-dir", str(twin), "cache", "clean"], env=machine.env,
                          capture_output=True, text=True)
    assert bare.returncode == 0, bare.stderr
    guarded = machine.uv("cache", "clean", UVGUARD_POLICY="ci", UV_LINK_MODE="symlink")
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stderr.splitlines()[-1] == bare.stderr.splitlines()[-1]
    def leftover(path):
        return sorted(os.listdir(path)) if path.is_dir() else None
    assert leftover(machine.cache) == leftover(twin)
