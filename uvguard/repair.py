"""Repair: reinstall what doctor found broken, with one real-uv call per environment.

`uv pip install` counts a distribution whose files dangle as installed and
does nothing ("Checked N packages"), so the call needs `--reinstall`;
`--no-deps` keeps that reinstall to exactly the broken distributions, at their
installed versions (editables from their project, direct URLs from their URL).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from uvguard import registry
from uvguard.doctor import Diagnosis, diagnose
from uvguard.errors import UsageError
from uvguard.realuv import run_uv
from uvguard.uvconfigfiles import LINK_MODES as LINK_MODE_ALIASES

LINK_MODES = tuple(dict.fromkeys(LINK_MODE_ALIASES.values()))  # clone, copy, hardlink, symlink


@dataclass(frozen=True)
class Repair:
    """One environment before and after its reinstall."""

    before: Diagnosis
    after: Diagnosis
    uv_exit: int | None  # None: nothing to reinstall, uv was not called


def check_link_mode(link_mode: str | None) -> None:
    if link_mode is not None and link_mode not in LINK_MODES:
        raise UsageError(f"invalid link mode `{link_mode}`", hint=f"expected one of: {', '.join(LINK_MODES)}")


def reinstall_args(diagnosis: Diagnosis, link_mode: str | None, uv_args: Sequence[str]) -> list[str]:
    """The one `uv pip install` command line that reinstalls every broken distribution.

    The user's arguments come last, so a trailing option missing its value
    is an error in uv rather than swallowing a requirement.
    """
    args = ["pip", "install", "--python", diagnosis.path, "--reinstall", "--no-deps"]
    if link_mode:
        args += ["--link-mode", link_mode]
    for broken in diagnosis.broken:
        args += broken.distribution.requirement()
    return args + list(uv_args)


def repair_environment(env_path: str, cache_dir: str | os.PathLike, real_uv: str, link_mode: str | None,
                       uv_args: Sequence[str], env: Mapping[str, str], cwd: str) -> Repair:
    """Reinstall what is broken in `env_path`, recorded in the registry first as the shim records
    an install: a guarded prune or clean from anywhere then keeps what the repair linked to."""
    before = diagnose(env_path, cache_dir)
    if not before.broken:
        return Repair(before, before, None)
    args = reinstall_args(before, link_mode, uv_args)
    registry.append(cwd, env, args)
    code = run_uv(real_uv, args, env, cwd)
    return Repair(before, diagnose(env_path, cache_dir), code)
