"""The trust store: the project policy files this user vouched for with `uvguard policy trust`.

A project file (`uvguard.toml`, `[tool.uvguard]`) comes with a repository
someone cloned, so until its user trusts it, it may only tighten the policy
(`policy.combine`). Trust is given to one content, as `direnv allow` and
`mise trust` give it: the store keeps each file's real path and the SHA-256
of its bytes, so an edited file (a `git pull`) is untrusted again.

One JSON object, `$XDG_STATE_HOME/uvguard/trusted.json` (default
`~/.local/state/uvguard/trusted.json`): real path → hex digest. A store that
is missing, unreadable or garbled trusts nothing: the safe side.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from uvguard.paths import state_dir

STORE_NAME = "trusted.json"


def store_path(env: Mapping[str, str]) -> Path:
    return Path(state_dir(env), STORE_NAME)


def digest(data: bytes) -> str:
    """The content hash trust is given to."""
    import hashlib  # ~2 ms, needed only when a project policy file is found

    return hashlib.sha256(data).hexdigest()


def trusted_files(env: Mapping[str, str]) -> dict[str, str]:
    """Real path → digest of every trusted file; empty when the store cannot be read."""
    try:
        entries = json.loads(store_path(env).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {path: value for path, value in entries.items() if isinstance(value, str)}


def states(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each trusted file and its state now: `trusted`, `changed` (since it was trusted) or `gone`."""
    found = []
    for path, recorded in sorted(trusted_files(env).items()):
        try:
            found.append((path, "trusted" if digest(Path(path).read_bytes()) == recorded else "changed"))
        except OSError:
            found.append((path, "gone"))
    return found


def is_trusted(path: str | os.PathLike, file_digest: str, env: Mapping[str, str]) -> bool:
    """Whether the file at `path`, whose bytes hash to `file_digest`, is trusted as it is now."""
    return trusted_files(env).get(os.path.realpath(path)) == file_digest


def trust(path: str | os.PathLike, file_digest: str, env: Mapping[str, str]) -> str:
    """Record `path` (its real path) with the digest of the content the caller checked; returns the real path."""
    real = os.path.realpath(path)
    _write(env, {**trusted_files(env), real: file_digest})
    return real


def untrust(path: str | os.PathLike, env: Mapping[str, str]) -> tuple[str, bool]:
    """Forget `path`; returns its real path and whether it was trusted."""
    real = os.path.realpath(path)
    entries = trusted_files(env)
    if real not in entries:
        return real, False
    del entries[real]
    _write(env, entries)
    return real, True


def _write(env: Mapping[str, str], entries: dict[str, str]) -> None:
    """Replace the store atomically (a reader never sees half of it); uvguard owns its state dir."""
    path = store_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{STORE_NAME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
