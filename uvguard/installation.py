"""The installation this uvguard runs from, as install.sh lays it out.

install.sh puts the private virtualenv at PREFIX/venv (this interpreter's
`sys.prefix`), the shim at PREFIX/bin/uv, and what it did in PREFIX/receipt,
one `key=value` a line after the header line. The uvguard command reads the
real uv recorded there, as the shim has it baked in. Standard library only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RECEIPT_HEADER = "uvguard_receipt=1"


def receipt_path(sys_prefix: str | os.PathLike = sys.prefix) -> Path | None:
    """PREFIX/receipt when this interpreter is an install.sh virtualenv, else None."""
    venv = Path(sys_prefix)
    if venv.name != "venv":
        return None
    return venv.parent / "receipt"


def recorded_real_uv(sys_prefix: str | os.PathLike = sys.prefix) -> str | None:
    """The real uv install.sh recorded for this installation; None outside one."""
    path = receipt_path(sys_prefix)
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not lines or lines[0] != RECEIPT_HEADER:
        return None
    values = [line.split("=", 1)[1] for line in lines if line.startswith("real_uv=")]
    return values[-1] if values else None
