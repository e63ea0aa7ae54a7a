"""A guarded limited prune that waits for uv's lock keeps what was installed meanwhile."""

from __future__ import annotations

import fcntl
import os
import subprocess

from tests.test_guard_shim import machine  # noqa: F401 (fixture)


def test_an_install_finished_while_the_prune_waited_is_kept(machine):  # noqa: F811
    first = machine.symlink_venv("first", "speedpkg")
    second = machine.sandbox.work / "second" / ".venv"
    second.parent.mkdir()
    assert machine.uv("venv", str(second), cwd=second.parent).returncode == 0
    fd = os.open(machine.sandbox.cache / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # what a running `uv pip install` holds
        prune = subprocess.Popen([str(machine.shim), "cache", "prune", "--ci"],
                                 env={**machine.env, "UV_LOCK_TIMEOUT": "120"},
                                 cwd=machine.elsewhere, stderr=subprocess.PIPE, text=True)
        assert "Cache is currently in-use" in prune.stderr.readline()
        # The guard decided before this install; it lands while the prune waits (shared locks coexist).
        install = machine.uv("pip", "install", "--python", str(second), "--no-index", "--find-links",
                             str(machine.wheelhouse), "--link-mode", "symlink", "otherpkg", cwd=second.parent)
        assert install.returncode == 0, install.stderr
    finally:
        os.close(fd)
    rest = prune.stderr.read()
    assert prune.wait(timeout=120) == 0, rest
    assert "kept 2 entries used by 2 environments" in rest
    assert machine.imports(first, "speedpkg.answer()")
    assert machine.imports(second, "otherpkg.hello()")
