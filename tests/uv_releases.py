"""Real uv releases for the tests, fetched from PyPI once and kept on disk.

Tests never download: `python -m tests.uv_releases fetch` (run by the test
script before pytest) puts every pinned release in place, and
`python -m tests.uv_releases fetch 0.7.22` brings any other one on demand.
A fixture asking for a release that is not there fails with that command.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINNED_FILE = Path(__file__).with_name("uv-versions.txt")


def pinned() -> list[str]:
    """Versions the suite runs against, newest first (the first is the default)."""
    lines = PINNED_FILE.read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


LATEST = pinned()[0]


def releases_dir() -> Path:
    return Path(os.environ.get("UVGUARD_TEST_RELEASES", ROOT / ".test-cache" / "uv"))


def binary_path(version: str) -> Path:
    return releases_dir() / version / "uv"


def path(version: str) -> Path:
    """The `uv` binary of `version`; fails with the command that fetches it."""
    binary = binary_path(version)
    if not binary.is_file():
        raise FileNotFoundError(
            f"uv {version} is not fetched; run: python -m tests.uv_releases fetch {version}"
        )
    return binary


def fetch(version: str) -> Path:
    """Download the manylinux wheel of uv `version` and extract its binary."""
    binary = binary_path(version)
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", tmp, f"uv=={version}"],
            check=True,
        )
        (wheel,) = Path(tmp).glob("uv-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            member = next(n for n in archive.namelist() if n.endswith(".data/scripts/uv"))
            partial = binary.with_suffix(".partial")
            partial.write_bytes(archive.read(member))
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.rename(binary)
    return binary


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "fetch":
        print("usage: python -m tests.uv_releases fetch [VERSION...]", file=sys.stderr)
        return 2
    for version in argv[1:] or pinned():
        print(f"uv {version}: {fetch(version)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
