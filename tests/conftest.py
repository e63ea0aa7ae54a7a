"""Shared fixtures: an isolated machine per test, real uv releases, local wheels.

Every test runs with HOME, XDG_* and TMPDIR pointing into its own tmp dir and
with every UV_*, UVGUARD_*, VIRTUAL_ENV and CONDA_PREFIX variable removed; a
test that leaves os.environ changed fails. Subprocesses get their environment
from `sandbox.env(...)`, never from the developer's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import uv_releases
from tests.wheelfactory import build_sdist, build_wheel

# Fixtures for tests that run install.sh (a shared wheelhouse and install).
pytest_plugins = ("tests.installer",)

REPO = Path(__file__).resolve().parent.parent
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
_SCRUBBED_PREFIXES = ("UV_", "UVGUARD_")
_SCRUBBED = {"VIRTUAL_ENV", "CONDA_PREFIX", "XDG_CONFIG_DIRS", "XDG_DATA_DIRS", "NO_COLOR", "FORCE_COLOR"}


@dataclass
class Sandbox:
    """A fake machine inside tmp_path: home, XDG dirs, a uv cache, a cwd."""

    root: Path
    home: Path
    cache: Path
    work: Path
    base_env: dict = field(default_factory=dict)

    def env(self, **extra: str) -> dict:
        """An environment for a subprocess in this sandbox, plus `extra`."""
        env = dict(self.base_env)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def uv(self, *args: str, version: str | None = None, env: dict | None = None,
           cwd: Path | None = None, check: bool = True, binary: str | Path | None = None,
           input: str | None = None) -> subprocess.CompletedProcess:
        """Run real uv (`version`, default the newest pinned) in the sandbox."""
        program = str(binary or uv_releases.path(version or uv_releases.LATEST))
        result = subprocess.run(
            [program, *args], env=env if env is not None else self.env(), cwd=cwd or self.work,
            capture_output=True, text=True, input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{program} {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result


def make_sandbox(root: Path) -> Sandbox:
    home = root / "home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_STATE_HOME": home / ".local" / "state",
        "XDG_BIN_HOME": home / ".local" / "bin",
        "XDG_CONFIG_DIRS": root / "etc-xdg",
        "XDG_RUNTIME_DIR": root / "run",
        "TMPDIR": root / "tmp",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    dirs["XDG_RUNTIME_DIR"].chmod(0o700)
    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED}
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(
        UV_CACHE_DIR=str(root / "cache"),
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
        UV_OFFLINE="1",
        UV_PYTHON=BASE_PYTHON,
    )
    return Sandbox(root=root, home=home, cache=root / "cache", work=work, base_env=env)


def unprivileged_command() -> list[str]:
    """A prefix that runs this test's Python as a user permissions stop; skips the test without one.

    Empty when we are not root; as root, `setpriv`/`runuser` to nobody, provided
    this interpreter can run as nobody at all (a Python under /root cannot).
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv"):
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    elif shutil.which("runuser"):
        prefix = ["runuser", "-u", "nobody", "--"]
    else:
        pytest.skip("running as root without setpriv or runuser: chmod 000 does not stop root")
    if subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True, cwd="/").returncode != 0:
        pytest.skip(f"{sys.executable} does not run as nobody (its files are root's only)")
    return prefix


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """Point HOME/XDG/TMPDIR at tmp dirs, scrub UV_*; fail a test that leaks changes."""
    sandbox = make_sandbox(tmp_path / "machine")
    for key in list(os.environ):
        if key.startswith(_SCRUBBED_PREFIXES) or key in _SCRUBBED:
            monkeypatch.delenv(key)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                "XDG_STATE_HOME", "XDG_BIN_HOME", "XDG_CONFIG_DIRS", "XDG_RUNTIME_DIR", "TMPDIR"):
        monkeypatch.setenv(key, sandbox.base_env[key])
    before = dict(os.environ)
    yield sandbox
    leaked = {k for k in set(before) | set(os.environ)
              if before.get(k) != os.environ.get(k) and k != "PYTEST_CURRENT_TEST"}
    assert not leaked, f"test leaked environment changes: {sorted(leaked)}"


@pytest.fixture
def sandbox(isolated_environment) -> Sandbox:
    """The isolated machine of this test (HOME, XDG dirs, cache, cwd)."""
    return isolated_environment


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory):
    """The skeletons' memory filesystem: a private directory in /dev/shm (the disk when there is none)."""
    parent = "/dev/shm" if os.path.isdir("/dev/shm") else str(tmp_path_factory.mktemp("runtime"))
    path = Path(tempfile.mkdtemp(prefix="uvguard-tests-", dir=parent))
    yield path
    leftovers = os.listdir(path)
    shutil.rmtree(path)
    assert not leftovers, f"skeletons left in the memory filesystem: {leftovers}"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A find-links directory, built once: pure wheels, a compiled one, a tool, an sdist."""
    dest = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(dest, "purepkg", "1.0")
    build_wheel(dest, "purepkg", "2.0")
    build_wheel(dest, "otherpkg", "1.0")
    build_wheel(dest, "speedpkg", "1.0", extension=True)
    build_wheel(dest, "toolpkg", "1.0", scripts={"toolpkg": "toolpkg:hello"})
    build_sdist(dest, "sdistpkg", "1.0")
    return dest


@pytest.fixture
def shim(sandbox) -> Path:
    """The `uv` shim as install.sh renders it, in its own bin dir, in front of the newest pinned uv."""
    return put_shim(sandbox.root / "shim-bin", uv_path())


def put_shim(bin_dir: Path, real_uv: str | Path) -> Path:
    """The `uv` shim as install.sh renders it, in a new `bin_dir`, in front of `real_uv`; its path."""
    from uvguard.shimfile import write_shim

    bin_dir.mkdir()
    write_shim(bin_dir / "uv", sys.executable, str(real_uv))
    return bin_dir / "uv"


def path_with_shim(shim: Path) -> str:
    """A PATH on which `uv` resolves to `shim` first."""
    return f"{shim.parent}{os.pathsep}{os.environ['PATH']}"


def uv_path(version: str | None = None) -> Path:
    """The binary of a pinned uv release (the newest by default)."""
    return uv_releases.path(version or uv_releases.LATEST)
