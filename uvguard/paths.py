"""uvguard's own directories, from the XDG base directory variables and HOME.

One rule for every `XDG_*` variable, as the XDG Base Directory spec has it:
a value that is not an absolute path (empty, unset, or relative) is invalid
and ignored, and the default under `$HOME` applies. A relative value would
otherwise put uvguard's state wherever the command happens to run. The sh
front (`shim.sh`, the registry) and install.sh (the default prefix) apply
the same rule. uv's own directories (its cache, `uv.toml`, its tools)
follow uv's rules instead: `uvconfig`, `uvconfigfiles`, `roots`.

Standard library only: the shim's Python side records through `state_dir`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def home(env: Mapping[str, str]) -> str:
    """`$HOME`; unset or empty, a directory that cannot exist, so nothing lands in the working directory."""
    return env.get("HOME") or "/nonexistent"


def xdg_home(env: Mapping[str, str], name: str, *default: str) -> str:
    """`$name` when it is an absolute path, else `$HOME/<default...>`."""
    value = env.get(name, "")
    return value if os.path.isabs(value) else os.path.join(home(env), *default)


def state_dir(env: Mapping[str, str]) -> str:
    """`$XDG_STATE_HOME/uvguard`: the registry, its index, the scan memory, the decisions log, trust."""
    return os.path.join(xdg_home(env, "XDG_STATE_HOME", ".local", "state"), "uvguard")


def config_home(env: Mapping[str, str]) -> str:
    """`$XDG_CONFIG_HOME`, default `~/.config`: the user policy, fish's and PowerShell's start-up files."""
    return xdg_home(env, "XDG_CONFIG_HOME", ".config")


def config_dirs(env: Mapping[str, str]) -> list[str]:
    """`$XDG_CONFIG_DIRS` (default `/etc/xdg`), its relative entries left out: where system policies are."""
    return [directory for directory in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
            if os.path.isabs(directory)]


def data_home(env: Mapping[str, str]) -> str:
    """`$XDG_DATA_HOME`, default `~/.local/share`: the default installation prefix is under it."""
    return xdg_home(env, "XDG_DATA_HOME", ".local", "share")


def bin_home(env: Mapping[str, str]) -> str:
    """`$XDG_BIN_HOME`, default `~/.local/bin`: a default install links its commands there."""
    return xdg_home(env, "XDG_BIN_HOME", ".local", "bin")
