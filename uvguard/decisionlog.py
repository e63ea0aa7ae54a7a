"""The decisions log: one JSON line per guarded cache command and `uvguard gc` run, for the user and the team.

`$XDG_STATE_HOME/uvguard/decisions.jsonl` (default
`~/.local/state/uvguard/decisions.jsonl`), plus a copy at the policy's `log`
path. Each line is written by a single O_APPEND write, so concurrent uv
processes do not interleave. Writing can fail (a full disk, a team log the
user may not write): that is reported, never allowed to change the decision.

A log path is never written through a symlink (O_NOFOLLOW) nor to anything
but a regular file (a FIFO would block, a device would be overwritten), and
only uvguard's own state directory is created when missing: the team log's
directory is whoever set `log`'s to make (the README's team recipe does).
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import stat
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from uvguard.decision import Decision
from uvguard.jsonout import stamped
from uvguard.paths import state_dir


def user_log_path(env: Mapping[str, str]) -> Path:
    return Path(state_dir(env), "decisions.jsonl")


def entry(decision: Decision, argv: Sequence[str], cwd: str | os.PathLike, cache_dir: str | os.PathLike,
          program: str = "uv") -> dict:
    """The log record of one decision: `uvguard check --json`'s fields, plus when, who, where and the line
    (`uv ARGV` for a guarded command, `uvguard gc ...` for gc)."""
    return stamped("decision-log", {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "user": _user(),
        "cwd": str(cwd),
        "argv": [program, *argv],
        "cache_dir": str(cache_dir),
        **decision.to_json(),
    })


def append(record: dict, user_log: str | os.PathLike, team_log: str | os.PathLike | None = None
           ) -> list[tuple[Path, str]]:
    """Append `record` to the user's log and the team log; return the failures as (path, why)."""
    line = (json.dumps(record, sort_keys=False) + "\n").encode("utf-8", "surrogateescape")
    failures = []
    for path, own_directory in ((user_log, True), (team_log, False)):
        if path is None:
            continue
        try:
            _append_line(Path(path), line, own_directory)
        except OSError as error:
            failures.append((Path(path), _why(error, own_directory)))
    return failures


def _append_line(path: Path, data: bytes, own_directory: bool) -> None:
    """One O_APPEND write of `data` to the regular file at `path`, never through a symlink."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    mode = 0o666  # a team log is shared by every user (the umask trims the user's own)
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        if not own_directory:
            raise
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, mode)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file")
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(errno.EIO, f"only {written} of {len(data)} bytes written")
    finally:
        os.close(fd)


def _why(error: OSError, own_directory: bool) -> str:
    if error.errno == errno.ELOOP:
        return "it is a symbolic link, and uvguard never writes through one"
    if isinstance(error, FileNotFoundError) and not own_directory:
        return "its directory does not exist, and uvguard creates none for a log it does not own"
    if error.errno == errno.ENXIO:  # a FIFO nobody reads (O_NONBLOCK), a device that is not there
        return "it is not a regular file"
    return error.strerror or str(error)


def _user() -> str:
    """Who ran it: the account of the real uid, which a changed `$USER` does not hide."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
