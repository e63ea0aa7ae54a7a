"""Rendering the `uv` shim from its template, `shim.sh`.

The template names the interpreter that runs the Python side and the real uv
found at install as placeholders, because only the installer knows them; it
also needs the 0x1f unit separator as a literal byte, which a text template
cannot carry visibly. install.sh calls this module:

    python -m uvguard.shimfile --python P [--real-uv U] DEST

Standard library only: it runs from a bare interpreter during install.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

from uvguard.registry import SEPARATOR

TEMPLATE = Path(__file__).with_name("shim.sh")


def render_shim(python: str, real_uv: str | None) -> str:
    """The shim's text; paths are shell-quoted, so any path is safe to bake in."""
    for name, value in (("python", python), ("real_uv", real_uv or "")):
        if "\n" in value or "\0" in value:
            raise ValueError(f"{name} path contains a newline or NUL byte: {value!r}")
    text = TEMPLATE.read_text(encoding="utf-8")
    return (
        text.replace("@PYTHON@", shlex.quote(python))
        .replace("@REAL_UV@", shlex.quote(real_uv or ""))
        .replace("@US@", SEPARATOR)
    )


def write_shim(dest: str | os.PathLike, python: str, real_uv: str | None) -> None:
    """Write the shim to `dest` atomically (a reader sees the old or the new one), mode 0755."""
    dest = Path(dest)
    text = render_shim(python, real_uv)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uvguard.shimfile", description="Write the uv shim.")
    parser.add_argument("--python", required=True, help="interpreter that runs `python -m uvguard.shim`")
    parser.add_argument("--real-uv", default=None, help="the real uv found at install (optional)")
    parser.add_argument("dest", help="where to write the shim, e.g. PREFIX/bin/uv")
    options = parser.parse_args(argv)
    try:
        write_shim(options.dest, options.python, options.real_uv)
    except (OSError, ValueError) as error:
        sys.stderr.write(f"error: cannot write the uv shim to {options.dest}: {error}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
