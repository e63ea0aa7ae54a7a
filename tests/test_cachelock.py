"""uv's cache lock, checked against real uv in both directions."""

from __future__ import annotations

import fcntl
import io
import os
import subprocess
import time

import pytest

from tests import uv_releases
from uvguard.cachelock import WAITING_MESSAGE, CacheLockTimeout, exclusive_lock, lock_timeout


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
    """A real `uv run` (0.13.9) that holds uv's shared cache lock for a few seconds."""
    sandbox.cache.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [str(uv_releases.path("0.13.9")), "run", "--no-project", "python", "-c", "import time; time.sleep(3)"],
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
        assert uv_holding_shared_lock.poll() is not None  # uv run had to finish first
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
