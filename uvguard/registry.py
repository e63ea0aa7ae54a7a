"""The registry of environments: raw facts appended at install-type commands.

Recording must cost almost nothing on the passthrough path, so a record is
just the facts a later reader needs to work out which environment a command
wrote to; resolving them to a path happens at read time (`uvguard.roots`).

One file, `$XDG_STATE_HOME/uvguard/registry` (default
`~/.local/state/uvguard/registry`), outside every cache dir because uv's prune
deletes unknown entries there. A record is one line, fields separated by the
unit separator 0x1f:

    u1 CWD VIRTUAL_ENV CONDA_PREFIX UV_PROJECT_ENVIRONMENT UV_PROJECT
       UV_WORKING_DIR UV_WORKING_DIRECTORY UV_TOOL_DIR UV_PYTHON
       UV_SYSTEM_PYTHON UV_CACHE_DIR XDG_DATA_HOME HOME ARG...

An unset variable is an empty field. Each record is written with a single
O_APPEND write, so concurrent writers do not interleave. The sh front
(`shim.sh`) writes the same format; keep the two in step.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping, Sequence

SEPARATOR = "\x1f"
TAG = "u1"
ENV_FIELDS = (
    "VIRTUAL_ENV", "CONDA_PREFIX", "UV_PROJECT_ENVIRONMENT", "UV_PROJECT",
    "UV_WORKING_DIR", "UV_WORKING_DIRECTORY", "UV_TOOL_DIR", "UV_PYTHON",
    "UV_SYSTEM_PYTHON", "UV_CACHE_DIR", "XDG_DATA_HOME", "HOME",
)


class Record:
    """One install-type command line as the shim saw it.

    A plain class: the shim's Python side imports this module, and neither
    `dataclasses` nor `typing` belongs on that path.
    """

    __slots__ = ("cwd", "env", "args")

    def __init__(self, cwd: str, env: dict, args: tuple[str, ...]) -> None:
        self.cwd, self.env, self.args = cwd, env, args

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and (self.cwd, self.env, self.args) == (other.cwd, other.env, other.args)

    def __repr__(self) -> str:
        return f"Record(cwd={self.cwd!r}, env={self.env!r}, args={self.args!r})"


def state_dir(env: Mapping[str, str]) -> str:
    """uvguard's state directory (the registry, the decisions log)."""
    state_home = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME") or "/nonexistent", ".local", "state")
    return os.path.join(state_home, "uvguard")


def registry_path(env: Mapping[str, str]) -> str:
    return os.path.join(state_dir(env), "registry")


def format_record(cwd: str, env: Mapping[str, str], args: Sequence[str]) -> str | None:
    """The registry line for one command, or None when a field cannot be stored."""
    fields = [TAG, cwd, *(env.get(name, "") for name in ENV_FIELDS), *args]
    if any(SEPARATOR in field or "\n" in field for field in fields[1:]):
        return None
    return SEPARATOR.join(fields) + "\n"


def parse_record(line: str) -> Record | None:
    """A Record from one registry line; None for a line that is not one (skipped by readers)."""
    fields = line.rstrip("\n").split(SEPARATOR)
    if len(fields) < 2 + len(ENV_FIELDS) or fields[0] != TAG:
        return None
    env = {name: value for name, value in zip(ENV_FIELDS, fields[2:]) if value}
    return Record(cwd=fields[1], env=env, args=tuple(fields[2 + len(ENV_FIELDS):]))


def append(cwd: str, env: Mapping[str, str], args: Sequence[str]) -> None:
    """Record one command; any failure is ignored, as recording must never block uv."""
    line = format_record(cwd, env, args)
    if line is None:
        return
    try:
        append_line(registry_path(env), line.encode("utf-8", "surrogateescape"))
    except OSError:
        pass


def read_regular(path: str | os.PathLike) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at `path` and its facts, read without ever blocking: a FIFO,
    device or socket in its place is an OSError ("not a regular file"), never opened for reading."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        with os.fdopen(os.dup(fd), "rb") as stream:
            return stream.read(), info
    finally:
        os.close(fd)


def append_line(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Append `data` with one O_APPEND write (whole lines never interleave with
    other writers'), creating the file and its directory when missing. Never blocks: a FIFO
    in its place with no reader fails at once (ENXIO) instead of hanging the command."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
        fd = os.open(path, flags, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
