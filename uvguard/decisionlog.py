"""The decisions log: one JSON line per guarded cache command, for the user and, if asked, the team.

`$XDG_STATE_HOME/uvguard/decisions.jsonl` (default
`~/.local/state/uvguard/decisions.jsonl`), plus a copy at the policy's `log`
path. Each line is written by a single O_APPEND write, so concurrent uv
processes do not interleave. Writing can fail (a full disk, a team log the
user may not write): that is reported, never allowed to change the decision.
"""

from __future__ import annotations

import json
import os
import pwd
import time
from pathlib import Path
from typing import Mapping

from uvguard.decision import Decision
from uvguard.jsonout import stamped
from uvguard.registry import append_line, state_dir


def user_log_path(env: Mapping[str, str]) -> Path:
    return Path(state_dir(env), "decisions.jsonl")


def entry(decision: Decision, argv, cwd: str | os.PathLike, cache_dir: str | os.PathLike) -> dict:
    """The log record of one decision: `uvguard check --json`'s fields, plus when, who, where and the line."""
    return stamped("decision-log", {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "user": _user(),
        "cwd": str(cwd),
        "argv": ["uv", *argv],
        "cache_dir": str(cache_dir),
        **decision.to_json(),
    })


def append(record: dict, paths) -> list[tuple[Path, str]]:
    """Append `record` to each path; return the failures as (path, why)."""
    line = (json.dumps(record, sort_keys=False) + "\n").encode("utf-8", "surrogateescape")
    failures = []
    for path in paths:
        try:
            append_line(path, line, mode=0o666)  # a team log is shared by every user
        except OSError as error:
            failures.append((Path(path), error.strerror or str(error)))
    return failures


def _user() -> str:
    """Who ran it: the account of the real uid, which a changed `$USER` does not hide."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
