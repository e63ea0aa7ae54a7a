"""Reading TOML files with errors a user can act on: the file, the line and column, what was wrong.

Shared by uv's config files (`ConfigError`) and uvguard's policy files (callers
pass `error=PolicyError`). Never on the passthrough path: tomllib is imported
only when a guarded command needs a file, and not for uvguard's own presets,
which `parse_flat_toml` reads (tomllib with `datetime` costs ~4 ms a run).
"""

from __future__ import annotations

import errno
import os
import re
import sys
from pathlib import Path
from typing import Type

from uvguard.errors import ConfigError, UvguardError
from uvguard.registry import read_regular

# A line `parse_flat_toml` reads: a comment, or a bare key, one space either side of `=`, and a basic
# string, neither with a control character nor the string with an escape (those are left to tomllib).
_FLAT_LINE = re.compile(r'#[^\x00-\x08\x0a-\x1f\x7f]*|([A-Za-z0-9_-]+) = "([^"\\\x00-\x1f\x7f]*)"')

# tomllib words its errors "Invalid value (at line 3, column 1)" or "(at end of document)".
_POSITION = re.compile(r"^(?P<what>.*?) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$")


def load_toml(path: str | Path, error: Type[UvguardError] = ConfigError) -> dict:
    """The parsed content of `path`; `error` (a UvguardError) if it cannot be read or parsed."""
    data, _ = read_regular_file(path, error)
    return parse_toml_bytes(data, path, error)


def read_regular_file(path: str | Path, error: Type[UvguardError] = ConfigError) -> tuple[bytes, os.stat_result]:
    """The bytes of `path` and the facts of the very file they came from; `path` must be a regular
    file: a FIFO, a device or a socket is refused, never read (it could hang the guarded command)."""
    try:
        return read_regular(path)
    except OSError as exc:
        what = exc.strerror or str(exc)
        if exc.errno == errno.EINVAL:
            what += "; replace it with a regular file or remove it"
        failure = error(f"Failed to read `{path}`: {what}")
        failure.blocks_uv = exc.errno == errno.EINVAL
        raise failure from None


def parse_toml_bytes(data: bytes, path: str | Path, error: Type[UvguardError] = ConfigError) -> dict:
    """Parse the bytes read from `path` (the caller's one read, e.g. to quote its lines or hash them)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"Failed to parse `{path}`: line {line}: the file is not valid UTF-8") from None
    return parse_toml(text, path, error)


def tomllib_module():
    """tomllib, or tomli before Python 3.11: imported on first use."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised only on 3.10
        import tomli as tomllib
    return tomllib


def parse_flat_toml(text: str) -> dict[str, str] | None:
    """`text` as tomllib reads it when it is only comments, blank lines and `key = "string"` lines (the
    shipped presets); None for anything else, which the caller parses with `parse_toml`."""
    data: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            continue
        match = _FLAT_LINE.fullmatch(line)
        if match is None or match[1] in data:
            return None
        if match[1] is not None:
            data[match[1]] = match[2]
    return data


def parse_toml(text: str, path: str | Path, error: Type[UvguardError] = ConfigError) -> dict:
    """Parse `text` read from `path`, naming the file and position on failure."""
    tomllib = tomllib_module()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"Failed to parse `{path}`: {describe_decode_error(exc, text)}") from None
    except RecursionError:  # tomllib recurses per nesting level: `x = [[[[...]]]]` thousands deep
        raise error(f"Failed to parse `{path}`: arrays or inline tables nested too deeply") from None


def describe_decode_error(exc: ValueError, text: str) -> str:
    """`line L, column C: what` from a TOMLDecodeError, whatever the Python version words it."""
    match = _POSITION.match(str(exc))
    if not match:
        return str(exc)
    what = match["what"][:1].lower() + match["what"][1:]
    if match["line"] is None:
        return f"line {text.count(chr(10)) + 1}: {what} (at end of file)"
    return f"line {match['line']}, column {match['column']}: {what}"


_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def key_line(text: str, table: str, key: str) -> int | None:
    """The 1-based line where `key` is set in `[table]` ("" for the top level), or None.

    Good enough for messages ("uv.toml:3"): it matches `key = ...` under the
    right header and dotted `table.key = ...` at the top level, not every
    spelling TOML allows (quoted keys, inline tables).
    """
    current = ""
    assignment = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    dotted = re.compile(r"^\s*" + re.escape(f"{table}.{key}") + r"\s*=") if table else None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE_HEADER.match(line)
        if header:
            current = re.sub(r"\s*\.\s*", ".", header.group(1)).replace('"', "")
            continue
        if current == table and assignment.match(line):
            return number
        if dotted and current == "" and dotted.match(line):
            return number
    return None
