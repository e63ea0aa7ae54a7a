"""Installs racing guarded cache operations under uv releases that take no cache lock (< 0.8.19).

uv 0.8.19+ holds a shared lock on `<cache>/.lock` while it installs, so a
limited prune (which holds the exclusive one) never removes what an install
is writing. Older uv takes none; the shim takes the shared lock for it. Each
round starts an install into a new environment through the shim and, while
it runs, a guarded prune through the shim; afterwards the new environment
must work, compiled submodule included, or the install must have failed
loudly. Without the shim's lock a good part of the rounds break.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from tests.conftest import path_with_shim, put_shim, uv_path
from tests.wheelfactory import build_wheel
from uvguard import realuv
from uvguard.shimfile import write_shim

pytestmark = pytest.mark.slow

ROUNDS = 30
CHECK = ("from cext._speed import answer; import gamma.part9.m999 as m, delta.part9.m999 as d; "
         "print(answer(), m.VALUE, d.VALUE)")


@pytest.fixture(scope="module")
def race_wheels(tmp_path_factory) -> Path:
    """Two wheels of a thousand files each (a window worth racing) and a compiled one."""
    dest = tmp_path_factory.mktemp("race-wheels")
    build_wheel(dest, "gamma", "1.0", submodules=1000)
    build_wheel(dest, "delta", "1.0", submodules=1000)
    build_wheel(dest, "cext", "1.0", extension=True)
    build_wheel(dest, "cext", "2.0", extension=True)
    return dest


class Racer:
    def __init__(self, sandbox, wheels: Path, version: str) -> None:
        self.sandbox = sandbox
        self.wheels = wheels
        self.shim = put_shim(sandbox.root / "bin", uv_path(version))
        self.env = sandbox.env(PATH=path_with_shim(self.shim), UV_LINK_MODE="symlink", UVGUARD_POLICY="ci")

    def start(self, *args: str, cwd: Path | None = None) -> subprocess.Popen:
        return subprocess.Popen([str(self.shim), *args], env=self.env, cwd=cwd or self.sandbox.work,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def uv(self, *args: str, cwd: Path | None = None) -> None:
        process = self.start(*args, cwd=cwd)
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err

    def install(self, venv: Path, *packages: str) -> subprocess.Popen:
        return self.start("pip", "install", "--python", str(venv), "--no-index", "--find-links", str(self.wheels),
                          *packages, cwd=venv.parent)

    def works(self, venv: Path) -> bool:
        result = subprocess.run([str(venv / "bin" / "python"), "-c", CHECK], capture_output=True, text=True,
                                env=self.sandbox.env())
        return result.stdout.split() == ["2.0", "999", "999"]


def race(racer: Racer, prune_args: list[str], rounds: int, seed: int) -> list[str]:
    """Run the rounds; return what went wrong in each bad one (a prune that stopped part-way,
    an install that failed, an environment left dangling)."""
    rng = random.Random(seed)
    base = racer.sandbox.work / "base" / ".venv"
    base.parent.mkdir()
    racer.uv("venv", str(base), cwd=base.parent)
    racer.uv("pip", "install", "--python", str(base), "--no-index", "--find-links", str(racer.wheels), "cext==1.0",
             cwd=base.parent)
    broken = []
    for index in range(rounds):
        venv = racer.sandbox.work / f"round{index}" / ".venv"
        venv.parent.mkdir()
        racer.uv("venv", str(venv), cwd=venv.parent)
        install = racer.install(venv, "gamma", "delta", "cext==2.0")
        time.sleep(rng.uniform(0.0, 0.25))
        prune = racer.start(*prune_args)
        _, install_err = install.communicate(timeout=300)
        _, prune_err = prune.communicate(timeout=300)
        if prune.returncode != 0:
            broken.append(f"round {index}: the prune failed: {prune_err.strip()[-300:]}")
        if install.returncode == 0 and not racer.works(venv):
            broken.append(f"round {index}: the install exited 0 and left {venv} dangling")
        elif install.returncode != 0:
            broken.append(f"round {index}: the install failed: {install_err.strip()[-300:]}")
    return broken


@pytest.mark.parametrize("prune_args", [["cache", "prune", "--ci"], ["cache", "prune"]],
                         ids=["prune-ci-limited", "prune-allowed"])
@pytest.mark.parametrize("version", ["0.5.31", "0.6.4"])
def test_installs_racing_a_guarded_prune_never_dangle(sandbox, race_wheels, version, prune_args):
    racer = Racer(sandbox, race_wheels, version)
    rounds = ROUNDS if "--ci" in prune_args else ROUNDS // 2
    assert race(racer, prune_args, rounds, seed=zlib.crc32(' '.join([version, *prune_args]).encode())) == []


def test_the_shim_holds_the_shared_lock_for_as_long_as_an_old_uv_installs(sandbox, race_wheels):
    """While 0.6.4 installs through the shim, an exclusive lock cannot be had; after, it can."""
    import fcntl

    racer = Racer(sandbox, race_wheels, "0.6.4")
    venv = sandbox.work / "one" / ".venv"
    venv.parent.mkdir()
    racer.uv("venv", str(venv), cwd=venv.parent)
    install = racer.install(venv, "gamma", "delta", "cext==2.0")
    lock = os.open(sandbox.cache / ".lock", os.O_RDWR | os.O_CREAT, 0o666) if sandbox.cache.is_dir() else None
    seen_held = False
    try:
        while install.poll() is None:
            if lock is None and (sandbox.cache / ".lock").exists():
                lock = os.open(sandbox.cache / ".lock", os.O_RDWR)
            if lock is not None:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    seen_held = True
                else:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    assert not seen_held, "the lock was let go while uv still ran"
            time.sleep(0.005)
        assert install.returncode == 0, install.stderr.read()
        assert seen_held
        assert os.stat(sandbox.cache / ".lock").st_mode & 0o777 == 0o666  # as uv makes it: any user can lock it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once uv has exited
    finally:
        if lock is not None:
            os.close(lock)


@pytest.mark.parametrize("version", ["0.8.24", "0.13.9"])
def test_a_uv_that_locks_itself_is_remembered_and_then_execd_by_the_sh_front(sandbox, race_wheels, version):
    """The first install-type line asks Python once; the next ones start no Python at all."""
    racer = Racer(sandbox, race_wheels, version)
    racer.uv("venv", str(sandbox.work / ".venv"))
    verdict = realuv.verdict_path(str(uv_path(version)), racer.env)
    assert os.stat(verdict).st_mtime_ns == os.stat(uv_path(version)).st_mtime_ns
    broken_python = sandbox.root / "no-python"
    broken_python.write_text("#!/bin/sh\necho python started >&2; exit 99\n")
    broken_python.chmod(0o755)
    write_shim(racer.shim, str(broken_python), str(uv_path(version)))
    racer.uv("pip", "install", "--python", str(sandbox.work / ".venv"), "--no-index", "--find-links",
             str(race_wheels), "cext==2.0")
    os.utime(verdict, ns=(0, 0))  # a binary replaced since: asked again
    process = racer.start("pip", "list", "--python", str(sandbox.work / ".venv"))
    assert process.wait() == 0  # not an install-type line: never handed over
    process = racer.start("sync")
    assert process.wait() == 99


def test_an_install_waits_for_a_cache_operation_then_times_out_as_uv_does(sandbox, race_wheels):
    """0.6.4 through the shim while the exclusive lock is held: no install, exit 2, uv's timeout words."""
    import fcntl

    racer = Racer(sandbox, race_wheels, "0.6.4")
    sandbox.cache.mkdir()
    lock = os.open(sandbox.cache / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        racer.env["UV_LOCK_TIMEOUT"] = "1"
        process = racer.start("venv", str(sandbox.work / ".venv"))
        _, err = process.communicate(timeout=60)
    finally:
        os.close(lock)
    assert process.returncode == 2
    assert "Timeout (1s) when waiting for lock" in err and "Traceback" not in err
    assert not (sandbox.work / ".venv").exists()
