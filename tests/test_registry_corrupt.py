"""A registry overwritten with garbage, through the installed shim, on real uv 0.13.9.

Records that cannot be read may have named any environment: the live set is
uncertain (the default policy refuses), with one warning that counts them.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import uv_path
from uvguard import registry
from uvguard.shimfile import write_shim


def garbage(lines: int) -> bytes:
    """Binary noise cut into `lines` lines, as a file overwritten by something else."""
    noise = random.Random(16).randbytes(96 * lines).replace(b"\n", b"\0")
    return b"".join(noise[i:i + 96] + b"\n" for i in range(0, len(noise), 96))


@pytest.mark.parametrize("decided_before", [False, True], ids=["first-decision", "after-a-decision"])
def test_a_registered_environment_survives_uv_cache_clean_with_a_garbage_registry(sandbox, wheelhouse, decided_before):
    bin_dir = sandbox.root / "bin"
    bin_dir.mkdir()
    write_shim(bin_dir / "uv", sys.executable, str(uv_path()))
    env = sandbox.env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    elsewhere = sandbox.root / "elsewhere"
    elsewhere.mkdir()

    def uv(*args: str, cwd: Path = elsewhere) -> subprocess.CompletedProcess:
        return subprocess.run([str(bin_dir / "uv"), *args], env=env, cwd=cwd, capture_output=True, text=True)

    venv = sandbox.work / "app" / ".venv"
    venv.parent.mkdir(parents=True)
    for args in (("venv", str(venv)), ("pip", "install", "--python", str(venv), "--no-index", "--find-links",
                                       str(wheelhouse), "--link-mode", "symlink", "speedpkg")):
        assert uv(*args, cwd=venv.parent).returncode == 0
    if decided_before:
        assert uv("cache", "clean", "otherpkg").returncode == 0  # folds the record into the index
    registry_file = Path(registry.registry_path(env))
    registry_file.write_bytes(garbage(310))

    result = uv("cache", "clean")
    assert result.returncode == 3, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    [kept] = [p for p in registry_file.parent.iterdir() if p.name.startswith("registry.unreadable.")]
    assert len(warnings) == 1 and f"310 unreadable records in the uvguard registry `{kept}`" in warnings[0]
    # Known from the index, the environment itself stops the clean; unknown, the uncertainty does.
    reason = f"  {venv} (registry)" if decided_before else "error: refused: the live set is uncertain"
    assert result.stderr.count("error: refused:") == 1 and reason in result.stderr
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import speedpkg; print(speedpkg.answer())"],
                           capture_output=True, text=True, env=sandbox.env())
    assert check.returncode == 0 and check.stdout == "1.0\n", check.stderr
    assert any((sandbox.cache / "archive-v0").iterdir())
