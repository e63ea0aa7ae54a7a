"""`realuv.uv_version`: one `uv --version` per uv binary, remembered until the binary changes."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import uv_path
from uvguard.realuv import uv_version, version_line


def counting_uv(directory, version: str):
    """A stand-in that prints `uv VERSION` and counts its runs in a file beside it."""
    script = directory / "uv"
    count = directory / "runs"
    script.write_text(f"#!/bin/sh\necho x >> '{count}'\necho 'uv {version} (stand-in)'\n")
    script.chmod(0o755)
    return script, count


def runs(count) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def test_the_real_release_is_read_and_remembered(sandbox):
    env = sandbox.env()
    assert uv_version(str(uv_path("0.13.9")), env) == (0, 13, 9)
    assert uv_version(str(uv_path("0.5.31")), env) == (0, 5, 31)
    remembered = (sandbox.root / "home/.local/state/uvguard/uv-versions").read_text().splitlines()
    assert [line.rsplit("\t", 1)[1] for line in remembered] == ["0.13.9", "0.5.31"]


def test_a_remembered_version_is_not_asked_again_until_the_binary_changes(sandbox):
    env = sandbox.env()
    script, count = counting_uv(sandbox.root, "0.8.24")
    assert uv_version(str(script), env) == (0, 8, 24)
    assert uv_version(str(script), env) == (0, 8, 24)
    assert runs(count) == 1
    script.write_text(script.read_text().replace("0.8.24", "0.10.12"))
    os.utime(script, ns=(1, 1))
    assert uv_version(str(script), env) == (0, 10, 12)
    assert runs(count) == 2


def test_without_env_nothing_is_remembered(sandbox):
    script, count = counting_uv(sandbox.root, "0.8.24")
    assert uv_version(str(script)) == uv_version(str(script)) == (0, 8, 24)
    assert runs(count) == 2


def test_an_unreadable_answer_is_none_and_not_remembered(sandbox):
    env = sandbox.env()
    script, count = counting_uv(sandbox.root, "garbage")
    assert uv_version(str(script), env) is None
    assert uv_version(str(script), env) is None
    assert runs(count) == 2


def test_version_line_is_the_first_line_of_a_successful_run(sandbox):
    assert version_line(str(uv_path("0.13.9"))).startswith("uv 0.13.9")
    failing = sandbox.root / "failing"
    failing.write_text("#!/bin/sh\necho 'uv 9.9.9'\nexit 1\n")
    failing.chmod(0o755)
    assert version_line(str(failing)) is None
    assert version_line(str(sandbox.root / "missing")) is None


def test_every_child_process_is_started_through_realuv():
    """One seam: uvguard starts uv only through `realuv` (a test of `run`, `ask_uv`, `version_line`
    covers them all). The one other child, `installcheck`'s probe of the shim's Python, runs no uv."""
    package = Path(__file__).resolve().parent.parent / "uvguard"
    starting = re.compile(r"\bsubprocess\.(run|Popen|call|check_call|check_output)\(|\bos\.(system|popen|spawn\w*)\(")
    found = sorted(str(path.relative_to(package)) for path in package.rglob("*.py")
                   if starting.search(path.read_text(encoding="utf-8")))
    assert found == ["installcheck.py", "realuv.py"]


def test_a_fifo_in_place_of_the_memory_never_hangs_the_command(sandbox):
    """Asked again instead: a plain read of a FIFO with no writer would wait forever."""
    import subprocess
    import sys

    memory = sandbox.root / "home/.local/state/uvguard/uv-versions"
    memory.parent.mkdir(parents=True)
    os.mkfifo(memory)
    script, count = counting_uv(sandbox.root, "0.8.24")
    ask = ("import sys; from uvguard.realuv import uv_version; "
           "print(uv_version(sys.argv[1], {'HOME': sys.argv[2]}))")
    result = subprocess.run([sys.executable, "-c", ask, str(script), str(sandbox.root / "home")],
                            capture_output=True, text=True, timeout=30, cwd=Path(__file__).parent.parent)
    assert result.stdout.strip() == "(0, 8, 24)", result.stderr
    assert runs(count) == 1
