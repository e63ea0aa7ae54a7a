"""Messages on stderr in uv's voice: `warning: ...`, `error: ...`, plain hints.

Colour follows uv's rules: `--color always|never` wins, then `NO_COLOR`
(any non-empty value), then `FORCE_COLOR` or `CLICOLOR_FORCE` (any non-empty
value, "0" too, as uv 0.13.9 reads them), then whether stderr is a terminal.
Progress is drawn unless `--no-progress`, `UV_NO_PROGRESS` or `-q` say not,
and only on a terminal (`uvguard.progress`).

The `uvguard` command sets the voice of the whole run once from its global
options (`use_voice`); the shim passes the voice of each uv line explicitly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from uvguard.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import TextIO


class Voice(NamedTuple):
    """How to speak: colour or not, how quiet (`-q` counts), and whether progress may be drawn."""

    color: bool = False
    quiet: int = 0
    progress: bool = False

    @classmethod
    def detect(cls, color_flag: str | None = None, quiet: int = 0,
               env: Mapping[str, str] | None = None, stream: TextIO | None = None,
               no_progress: bool = False) -> Voice:
        env = os.environ if env is None else env
        stream = sys.stderr if stream is None else stream
        if color_flag == "always":
            color = True
        elif color_flag == "never" or env.get("NO_COLOR"):
            color = False
        elif env.get("FORCE_COLOR") or env.get("CLICOLOR_FORCE"):
            color = True
        else:
            color = isatty(stream)
        progress = not no_progress and quiet == 0 and env.get("UV_NO_PROGRESS", "").lower() not in _TRUE
        return cls(color=color, quiet=quiet, progress=progress)


_TRUE = {"y", "yes", "t", "true", "on", "1"}  # clap's boolish values (`uvinputs`), for UV_NO_PROGRESS
_voice: Voice | None = None


def use_voice(voice: Voice | None) -> None:
    """The voice of messages that name none: the `uvguard` command's global options."""
    global _voice
    _voice = voice


def current_voice() -> Voice:
    return _voice or Voice()


def isatty(stream: TextIO) -> bool:
    """Whether `stream` is a terminal; False for streams that cannot tell (closed, fake)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_STYLES = {"warning": "\x1b[1;33m", "error": "\x1b[1;31m", "hint": "\x1b[1;36m"}


def _emit(level: str, text: str, voice: Voice, stream: TextIO | None) -> None:
    stream = sys.stderr if stream is None else stream
    label = f"{_STYLES[level]}{level}\x1b[0m" if voice.color else level
    bold = ("\x1b[1m", "\x1b[0m") if voice.color and level != "hint" else ("", "")
    stream.write(f"{label}{bold[0]}:{bold[1]} {text}\n")
    stream.flush()


def warning(text: str, voice: Voice | None = None, stream: TextIO | None = None) -> None:
    """A warning; silenced by `-q` like uv's own."""
    voice = voice or current_voice()
    if voice.quiet == 0:
        _emit("warning", text, voice, stream)


def error(text: str, hint: str | None = None, voice: Voice | None = None,
          stream: TextIO | None = None) -> None:
    """An error, always printed, with an optional `hint:` line saying how to proceed."""
    voice = voice or _voice or Voice.detect(stream=stream)
    _emit("error", text, voice, stream)
    if hint:
        _emit("hint", hint, voice, stream)


def hint(text: str, voice: Voice | None = None, stream: TextIO | None = None) -> None:
    """A `hint:` line on its own, after an error printed by someone else (uv)."""
    _emit("hint", text, voice or current_voice(), stream)


def info(text: str, voice: Voice | None = None, stream: TextIO | None = None) -> None:
    """A plain status line (like uv's `Removed 3 files`); silenced by `-q`."""
    voice = voice or current_voice()
    if voice.quiet == 0:
        stream = sys.stderr if stream is None else stream
        stream.write(text + "\n")
        stream.flush()


# Counts, sizes and paths, worded as uv words them.

def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def human_readable_bytes(size: int) -> str:
    """IEC units with one decimal, as uv prints them (`512B`, `1.0KiB`, `88.0MiB`)."""
    if size < 1024:
        return f"{size}B"
    quantity = float(size)
    unit = "B"
    for next_unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if 1024.0 - quantity > 0.05:
            break
        quantity /= 1024.0
        unit = next_unit
    return f"{quantity:.1f}{unit}"


def user_display(path: Path, cwd: str | Path | None = None) -> str:
    """The path as uv shows it: relative to the working directory (`cwd`, default ours) when inside it."""
    cwd = os.getcwd() if cwd is None else str(cwd)
    if os.path.dirname(cwd) == cwd:
        return str(path)
    try:
        return str(Path(path).relative_to(cwd))
    except ValueError:
        return str(path)
