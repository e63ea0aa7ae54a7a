"""Effective uv config: cache dir and link modes, each with its source, as uv resolves them.

Interface used by the rest of the pipeline. Minimal first cut (flags, env,
defaults); the full resolution of uv's config files lands with issue 3.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from uvguard.invocation import Invocation


@dataclass(frozen=True)
class ConfigFile:
    """A config file uv would consult, and what became of it."""

    path: str
    scope: str  # "project", "user", "system" or "config-file"
    used: bool = True
    note: str = ""


@dataclass(frozen=True)
class EffectiveConfig:
    """What uv will use for one command line; every value carries its source."""

    cache_dir: Path
    cache_dir_source: str
    no_cache: bool
    link_mode: str
    link_mode_source: str
    pip_link_mode: str
    pip_link_mode_source: str
    working_dir: Path
    project_dir: Path
    config_files: tuple[ConfigFile, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def symlink_active(self) -> bool:
        return "symlink" in (self.link_mode, self.pip_link_mode)


def effective_config(invocation: Invocation, env: Mapping[str, str], cwd: str | Path) -> EffectiveConfig:
    working_dir = Path(cwd) / invocation.option("directory", env.get("UV_WORKING_DIR", ""))
    project_dir = working_dir / invocation.option("project", env.get("UV_PROJECT", ""))
    if invocation.option("cache-dir"):
        cache_dir, source = invocation.option("cache-dir"), "--cache-dir"
    elif env.get("UV_CACHE_DIR"):
        cache_dir, source = env["UV_CACHE_DIR"], "UV_CACHE_DIR"
    elif env.get("XDG_CACHE_HOME", "").startswith("/"):
        cache_dir, source = os.path.join(env["XDG_CACHE_HOME"], "uv"), "default ($XDG_CACHE_HOME/uv)"
    else:
        cache_dir, source = os.path.join(env.get("HOME", "/"), ".cache", "uv"), "default (~/.cache/uv)"
    mode, mode_source = (env["UV_LINK_MODE"], "UV_LINK_MODE") if env.get("UV_LINK_MODE") else ("clone", "default")
    return EffectiveConfig(
        cache_dir=Path(os.path.abspath(working_dir / cache_dir)),
        cache_dir_source=source,
        no_cache=bool(invocation.option("no-cache")),
        link_mode=mode, link_mode_source=mode_source,
        pip_link_mode=mode, pip_link_mode_source=mode_source,
        working_dir=working_dir, project_dir=project_dir,
    )
