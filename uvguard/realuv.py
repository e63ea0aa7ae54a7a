"""Finding the real uv binary, never the shim itself.

Order: `UVGUARD_REAL_UV`, else the path recorded at install, else the first
`uv` on PATH whose real path is not the shim. The sh front
(`uvguard/shim.sh`) applies the same order; this is the Python side of it,
used when the front hands a command line over. Standard library only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from uvguard import paths, registry
from uvguard.errors import RealUvNotFound
from uvguard.records import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess  # at run time only where a child is started: not on the shim's paths that start none
    from typing import NoReturn

# Set to the shim's pid just before it execs uv: a shim that starts with its
# own pid equal to this was exec'd by a shim, so the "real" uv is a shim.
EXEC_PID_VAR = "UVGUARD_EXEC_PID"
# The second line of every shim shim.sh renders to.
SHIM_MARKER = b"# uvguard-shim:"


def _is_executable_file(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _same_file(a: str, b: str | None) -> bool:
    if not b:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def find_real_uv(env: Mapping[str, str], shim: str | None, recorded: str | None = None) -> str:
    """The path of the real uv for a shim at `shim` (None: no shim is involved)."""
    if env.get(EXEC_PID_VAR) == str(os.getpid()) and shim:
        raise RealUvNotFound(
            f"the real uv resolves to a uvguard shim again ({shim}); set UVGUARD_REAL_UV to the real uv binary"
        )
    if recorded is None and shim is None:  # the uvguard command: the uv its installation recorded
        from uvguard.installation import recorded_real_uv

        recorded = recorded_real_uv(env)
    if "UVGUARD_REAL_UV" in env:
        real = env["UVGUARD_REAL_UV"]
        if not _is_executable_file(real):
            raise RealUvNotFound(f"UVGUARD_REAL_UV={real} is not an executable file")
    elif recorded and _is_executable_file(recorded):
        real = recorded
    else:
        real = search_path(env.get("PATH", os.defpath), shim)
        if real is None:
            raise RealUvNotFound(
                "no real uv found (looked at UVGUARD_REAL_UV, the uv recorded at install, and PATH);"
                " install uv or set UVGUARD_REAL_UV"
            )
    if shim and _same_file(real, shim):
        raise RealUvNotFound(f"the real uv ({real}) is this uvguard shim; set UVGUARD_REAL_UV to the real uv binary")
    return real


def search_path(path: str, shim: str | None) -> str | None:
    """The first `uv` on `path` that is neither `shim` nor any other uvguard shim."""
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or ".", "uv")
        if _is_executable_file(candidate) and not _same_file(candidate, shim) and not is_shim(candidate):
            return candidate
    return None


def is_shim(path: str) -> bool:
    """Whether `path` is a uvguard shim (of any install): its second line carries the marker."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    lines = head.split(b"\n", 2)
    return len(lines) > 1 and lines[1].startswith(SHIM_MARKER)


def uv_version(real_uv: str, env: Mapping[str, str] | None = None) -> tuple[int, int, int] | None:
    """The real uv's release as (major, minor, patch); None when it cannot be told
    (callers then read the line as the newest release would).

    Only the intercepted path asks. Running `uv --version` costs ~6 ms of the
    guard's budget, so with `env` the answer is remembered in uvguard's state
    dir, keyed by the binary's real path, inode, size and mtime: an upgraded
    or replaced uv is a new key and is asked again.
    """
    key = _binary_key(real_uv)
    remembered = os.path.join(paths.state_dir(env), "uv-versions") if env is not None and key else None
    if remembered:
        version = _remembered_version(remembered, key)  # type: ignore[arg-type]  # set when remembered is
        if version:
            return version
    version = _ask_version(real_uv)
    if version and remembered:
        try:
            registry.append_line(remembered, f"{key}\t{'.'.join(map(str, version))}\n".encode(
                "utf-8", "surrogateescape"))
        except OSError:
            pass
    return version


def verdict_path(real_uv: str, env: Mapping[str, str]) -> str | None:
    """Where the sh front looks for "this uv takes the cache lock itself": the
    binary's own path under `<state>/uv-takes-lock`; None for a path the sh
    front does not look up (relative, or not in normal form)."""
    if not real_uv.startswith("/") or real_uv.startswith("//") or os.path.normpath(real_uv) != real_uv:
        return None
    return os.path.join(paths.state_dir(env), "uv-takes-lock") + real_uv


def remember_takes_lock(real_uv: str, env: Mapping[str, str]) -> None:
    """Tell the sh front that `real_uv` takes the cache lock itself, so its
    install-type lines are exec'd with no Python started: an empty file whose
    mtime is the binary's (a replaced binary has another and is asked again).
    Best effort: without it the Python side is asked each time."""
    path = verdict_path(real_uv, env)
    if path is None:
        return
    try:
        info = os.stat(real_uv)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    except OSError:
        pass


def _binary_key(path: str) -> str | None:
    try:
        real = os.path.realpath(path)
        info = os.stat(real)
    except OSError:
        return None
    if "\t" in real or "\n" in real:
        return None
    return f"{real}\t{info.st_ino}\t{info.st_size}\t{info.st_mtime_ns}"


def _remembered_version(path: str, key: str) -> tuple[int, int, int] | None:
    try:
        data, _ = registry.read_regular(path)  # a FIFO there must not hang the command: it is asked again
    except OSError:
        return None
    for line in data.decode("utf-8", "surrogateescape").split("\n"):
        known, _, version = line.rpartition("\t")
        if known == key:
            parts = version.split(".")
            if len(parts) == 3 and all(part.isdigit() for part in parts):
                return int(parts[0]), int(parts[1]), int(parts[2])
    return None


def _ask_version(real_uv: str) -> tuple[int, int, int] | None:
    import re

    match = re.match(r"uv (\d+)\.(\d+)\.(\d+)", version_line(real_uv) or "")
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def version_line(program: str) -> str | None:
    """The first line `PROGRAM --version` prints, run in an empty environment (uv validates UV_*
    variables even for --version); None when it cannot run, fails or prints nothing."""
    import subprocess

    try:
        result = subprocess.run([program, "--version"], env={}, capture_output=True, text=True,
                                errors="surrogateescape", stdin=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.strip().splitlines()
    return lines[0] if result.returncode == 0 and lines else None


def exec_uv(real: str, args: list[str] | tuple[str, ...], env: Mapping[str, str] | None = None) -> NoReturn:
    """Replace this process by the real uv: the one seam every hand-off goes through."""
    sys.stdout.flush()
    sys.stderr.flush()
    environment = dict(os.environ if env is None else env)
    environment[EXEC_PID_VAR] = str(os.getpid())
    os.execve(real, [real, *args], environment)


def ask_uv(real: str, args: list[str] | tuple[str, ...], env: Mapping[str, str],
           cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the real uv as a child with no input and its output captured (text; bytes that are not
    UTF-8 kept as surrogates), to learn what it would do: a refusal, a plan on a skeleton cache.
    OSError when it cannot be started."""
    import subprocess

    return subprocess.run([real, *args], env=dict(env), cwd=cwd, capture_output=True, text=True,
                          errors="surrogateescape", stdin=subprocess.DEVNULL)


def run_uv(real: str, args: list[str] | tuple[str, ...], env: Mapping[str, str] | None = None,
           cwd: str | None = None) -> int:
    """Run the real uv as a child and return its exit code, for commands that report after uv."""
    import subprocess

    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run([real, *args], env=dict(os.environ if env is None else env), cwd=cwd).returncode
