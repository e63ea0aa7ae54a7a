"""The real uv's version, because config resolution differs between uv releases."""

from __future__ import annotations

import re
import subprocess

_VERSION = re.compile(r"^uv (\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, ...] | None:
    """`(0, 13, 9)` from `uv --version` output ("uv 0.13.9 (abc 2026-01-01)"), else None."""
    match = _VERSION.match(text.strip())
    return tuple(int(part) for part in match.groups()) if match else None


def real_uv_version(real_uv: str) -> tuple[int, ...] | None:
    """Ask the binary itself; None when it cannot say (the newest known behaviour then applies)."""
    try:
        result = subprocess.run([real_uv, "--version"], capture_output=True, text=True, timeout=10,
                                env={})  # uv validates UV_* variables even for --version
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_version(result.stdout)
