"""Running install.sh inside a sandbox, offline, from one wheelhouse per session.

`./scripts/test` keeps uvguard's dependencies (and setuptools, to build
uvguard) as wheels in `.test-cache/wheelhouse` and the uv wheel in
`.test-cache/uv-wheels`. A session builds a fresh uvguard wheel from the work
tree once, next to the dependencies, and every install uses it through
`UVGUARD_WHEELHOUSE`, so installs are offline and take seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import uv_releases
from tests.conftest import REPO, Sandbox, make_sandbox

INSTALL_SH = REPO / "install.sh"
CACHED_WHEELS = REPO / ".test-cache" / "wheelhouse"
UV_WHEELS = REPO / ".test-cache" / "uv-wheels"
ENV_MARKER = "uvguard-env:"
SHIM_MARKER = "# uvguard-shim:"

_built: dict[str, object] = {}


def build_wheelhouse(dest: Path) -> Path:
    """Dependency wheels from the cache plus a uvguard wheel built now, offline."""
    if not any(CACHED_WHEELS.glob("setuptools-*.whl")):
        raise FileNotFoundError(f"no dependency wheels in {CACHED_WHEELS}; run ./scripts/test once to fetch them")
    dest.mkdir(parents=True, exist_ok=True)
    for wheel in CACHED_WHEELS.glob("*.whl"):
        if not wheel.name.startswith("uvguard-"):
            shutil.copy2(wheel, dest / wheel.name)
    source = dest.parent / "uvguard-source"
    # The work tree as git sees it (tracked and new files, nothing ignored):
    # scratch dirs of benchmarks or other runs never reach the wheel.
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if name.startswith("tests/") or not (REPO / name).is_file():
            continue
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-index", "--find-links", str(CACHED_WHEELS), "-w", str(dest), str(source)],
        check=True, capture_output=True,
    )
    return dest


@pytest.fixture(scope="session")
def install_wheelhouse(tmp_path_factory) -> Path:
    """The wheelhouse install.sh installs from; built once per session."""
    if "wheelhouse" not in _built:
        _built["wheelhouse"] = build_wheelhouse(tmp_path_factory.mktemp("install") / "wheelhouse")
    return _built["wheelhouse"]


def source_checkout(wheelhouse: Path) -> Path:
    """The copy of the work tree (git's files, no tests) the session's uvguard wheel was built from:
    a checkout of uvguard as a recipe copies or installs it."""
    return wheelhouse.parent / "uvguard-source"


@dataclass(frozen=True)
class SharedInstall:
    """A default install into its own sandbox HOME, with a real uv on PATH."""

    sandbox: Sandbox
    env: dict
    prefix: Path
    real_uv: Path
    output: str


@pytest.fixture(scope="session")
def shared_install(tmp_path_factory, install_wheelhouse) -> SharedInstall:
    """One install that tests only read (or use with a HOME of their own); built once."""
    if "install" not in _built:
        sandbox = make_sandbox(tmp_path_factory.mktemp("shared-install"))
        real_dir = real_uv_dir(sandbox.root)
        env = install_env(sandbox, install_wheelhouse, [real_dir])
        result = run_install(env)
        _built["install"] = SharedInstall(sandbox, env, default_prefix(env), real_dir / "uv", result.stdout)
    return _built["install"]


def uv_wheel() -> Path | None:
    """The cached wheel of the default uv release, if `./scripts/test` fetched it."""
    wheels = sorted(UV_WHEELS.glob(f"uv-{uv_releases.LATEST}-*.whl"))
    return wheels[0] if wheels else None


def base_path() -> list[str]:
    """This machine's PATH without directories holding `uv` (tests add the uv they mean)
    or `rustc` (pip runs `rustc --version` for its user agent, and rustup's proxy
    would then write ~/.rustup into the sandbox HOME)."""
    return [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep)
            if d and not any(os.access(os.path.join(d, name), os.X_OK) for name in ("uv", "rustc"))]


def real_uv_dir(root: Path, copy: bool = False) -> Path:
    """A directory holding `uv`, the default pinned release (a copy when it will be moved)."""
    directory = root / "real-uv-bin"
    directory.mkdir(exist_ok=True)
    target = directory / "uv"
    if copy:
        shutil.copy2(uv_releases.path(uv_releases.LATEST), target)
    else:
        target.symlink_to(uv_releases.path(uv_releases.LATEST))
    return directory


def install_env(sandbox: Sandbox, wheelhouse: Path, path_dirs=(), **extra: str) -> dict:
    """The environment for install.sh and the installed commands in `sandbox`."""
    path = [str(d) for d in path_dirs] + base_path()
    return sandbox.env(UVGUARD_WHEELHOUSE=str(wheelhouse), PATH=os.pathsep.join(path), **extra)


def run_install(env: dict, *args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run install.sh with POSIX sh, the way its README line does."""
    result = subprocess.run(["sh", str(INSTALL_SH), *args], env=env, cwd=cwd or env["HOME"],
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"install.sh {' '.join(args)} exited {result.returncode}\n"
                             f"stdout: {result.stdout}\nstderr: {result.stderr}")
    return result


def default_prefix(env: dict) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "uvguard"


def is_shim(path: Path) -> bool:
    with open(path, "rb") as file:
        return any(line.startswith(SHIM_MARKER.encode()) for line in file.read(512).splitlines())


def receipt(prefix: Path) -> list[tuple[str, str]]:
    lines = (prefix / "receipt").read_text().splitlines()
    return [tuple(line.split("=", 1)) for line in lines]


def interactive(shell: str, command: str, env: dict, login: bool = False) -> subprocess.CompletedProcess:
    """Run `command` in an interactive `shell` that reads its rc files."""
    flags = ["-i", "-l"] if login else ["-i"]
    return subprocess.run([shell, *flags, "-c", command], env=env, cwd=env["HOME"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
