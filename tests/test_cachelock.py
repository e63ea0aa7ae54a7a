"""uv's cache lock, checked against real uv in both directions."""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests import uv_releases
from tests.conftest import REPO, path_with_shim, put_shim, unprivileged_command
from uvguard.cachelock import WAITING_MESSAGE, CacheLockTimeout, exclusive_lock, lock_timeout
from uvguard.errors import FileSystemFailure


def held_by_someone(cache) -> bool:
    fd = os.open(cache / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.fixture
def uv_holding_shared_lock(sandbox):
    """A real `uv run` (0.13.9) that holds uv's shared cache lock while its child sleeps a few seconds."""
    sandbox.cache.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [str(uv_releases.path("0.13.9")), "run", "--no-project", "python", "-c",
         "import time; time.sleep(3); open('child-done', 'w').close()"],
        env=sandbox.env(), cwd=sandbox.work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not ((sandbox.cache / ".lock").exists() and held_by_someone(sandbox.cache)):
        assert process.poll() is None and time.monotonic() < deadline, "uv run never took the cache lock"
        time.sleep(0.02)
    yield process
    process.terminate()  # a test that has seen what it needed does not wait out the sleep
    process.wait(timeout=30)


def test_real_uv_prune_waits_for_our_lock(sandbox):
    sandbox.cache.mkdir()
    with exclusive_lock(sandbox.cache, {}) as held:
        assert held
        result = sandbox.uv("cache", "prune", env=sandbox.env(UV_LOCK_TIMEOUT="1"), check=False)
    assert result.returncode == 2
    assert WAITING_MESSAGE in result.stderr and "Timeout (1s)" in result.stderr
    assert oct(os.stat(sandbox.cache / ".lock").st_mode & 0o777) in ("0o666", "0o644", "0o664")


def test_we_wait_for_a_running_uv_then_take_the_lock(sandbox, uv_holding_shared_lock):
    stream = io.StringIO()
    with exclusive_lock(sandbox.cache, {"UV_LOCK_TIMEOUT": "60"}, stream=stream) as held:
        assert held
        # uv holds its lock while its child runs; uv itself may still be exiting after releasing it.
        assert (sandbox.work / "child-done").exists()
    assert stream.getvalue() == WAITING_MESSAGE + "\n"


def test_timeout_exits_2_like_uv(sandbox, uv_holding_shared_lock):
    stream = io.StringIO()
    with pytest.raises(CacheLockTimeout) as timeout:
        with exclusive_lock(sandbox.cache, {"UV_LOCK_TIMEOUT": "0"}, stream=stream):
            pass
    assert timeout.value.exit_code == 2
    assert timeout.value.message.startswith(f"Timeout (0s) when waiting for lock on `{sandbox.cache}`")
    assert stream.getvalue() == WAITING_MESSAGE + "\n"


def test_force_goes_on_without_the_lock(sandbox, uv_holding_shared_lock):
    stream = io.StringIO()
    with exclusive_lock(sandbox.cache, {}, force=True, stream=stream) as held:
        assert not held
    assert stream.getvalue() == ""


@pytest.mark.parametrize("value,seconds", [(None, 300), ("7", 7), ("0", 0), ("soon", 300), ("-1", 300)])
def test_lock_timeout_variable(value, seconds):
    assert lock_timeout({} if value is None else {"UV_LOCK_TIMEOUT": value}) == seconds


def test_a_dangling_lock_link_creates_nothing_where_it_points(sandbox, tmp_path):
    """The cache's contents may be hostile: its `.lock` must not make us create a file elsewhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    sandbox.cache.mkdir()
    (sandbox.cache / ".lock").symlink_to(outside / "planted")
    with pytest.raises(FileSystemFailure) as failure:
        with exclusive_lock(sandbox.cache, {}):
            pass
    assert str(sandbox.cache / ".lock") in failure.value.message
    assert list(outside.iterdir()) == []


def test_a_lock_link_to_a_file_locks_what_real_uv_locks(sandbox, tmp_path):
    target = tmp_path / "lockfile"
    target.write_text("")
    sandbox.cache.mkdir()
    (sandbox.cache / ".lock").symlink_to(target)
    with exclusive_lock(sandbox.cache, {}) as held:
        assert held
        result = sandbox.uv("cache", "prune", env=sandbox.env(UV_LOCK_TIMEOUT="1"), check=False)
    assert result.returncode == 2 and "Timeout (1s)" in result.stderr


_SHARED_LOCK_AS_USER = """
import sys
from uvguard.cachelock import inherited_shared_lock
try:
    inherited_shared_lock(sys.argv[1], {"UV_LOCK_TIMEOUT": "1"})
except OSError as error:
    print("refused:", error.strerror)
"""


def test_a_fifo_at_another_users_lock_never_blocks_the_shared_lock():
    """Old uv's installs take the shared lock through the shim: a FIFO there must fail, not hang.

    Read-only is the fallback for a lock file we may not write, and a
    read-only open of a FIFO blocks until a writer comes, so the open must
    not block and the file must be regular.
    """
    as_user = unprivileged_command()
    shared = Path(tempfile.mkdtemp(prefix="uvguard-lock-", dir="/tmp"))
    try:
        cache = shared / "cache"
        cache.mkdir()
        shared.chmod(0o755)
        cache.chmod(0o777)
        os.mkfifo(cache / ".lock", 0o644)
        result = subprocess.run([*as_user, sys.executable, "-c", _SHARED_LOCK_AS_USER, str(cache)],
                                capture_output=True, text=True, timeout=30, cwd="/",
                                env={"PYTHONPATH": str(REPO), "PATH": os.defpath})
    finally:
        shutil.rmtree(shared)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "refused: not a regular file"


def test_an_old_uv_installs_through_the_shim_past_a_fifo_at_the_lock(sandbox, wheelhouse):
    """uv 0.6.4 takes no lock, so the shim takes the shared one for it: a FIFO at `.lock` (the cache's
    contents may be hostile) costs the lock with a warning, never a hang, and the install works."""
    shim = put_shim(sandbox.root / "bin", uv_releases.path("0.6.4"))
    sandbox.cache.mkdir()
    os.mkfifo(sandbox.cache / ".lock")
    env = sandbox.env(PATH=path_with_shim(shim), UV_LINK_MODE="symlink")
    venv = sandbox.work / "venv"
    for args in (["venv", str(venv)], ["pip", "install", "--python", str(venv), "--no-index",
                                      "--find-links", str(wheelhouse), "speedpkg"]):
        result = subprocess.run([str(shim), *args], env=env, cwd=sandbox.work, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
    assert "could not take uv's cache lock" in result.stderr
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import speedpkg._speed"], capture_output=True)
    assert check.returncode == 0, check.stderr
