"""Where uv starts looking for project config: the workspace root, found as uv finds it.

uv first discovers the workspace from the project directory; when that
succeeds, the walk for `uv.toml`/`[tool.uv]` starts at the workspace root,
so a `uv.toml` inside a member is not consulted. When discovery fails (no
`pyproject.toml`, one without `[project]`, an unmanaged project, an
unreadable file), the walk starts at the project directory itself. Read from
`Workspace::discover` and `find_workspace` in uv's `crates/uv-workspace`.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable
from pathlib import Path

from uvguard.errors import ConfigError
from uvguard.tomlfile import TomlFiles


def discovery_start(project_dir: Path, cache_dir: Path | None = None, toml: TomlFiles | None = None) -> Path:
    """The directory uv's config walk starts at for a project directory (absolute)."""
    root = workspace_root(project_dir, cache_dir, toml)
    return root if root is not None else project_dir


def workspace_root(project_dir: Path, cache_dir: Path | None = None, toml: TomlFiles | None = None) -> Path | None:
    """The workspace root of the project at `project_dir`, or None where uv's discovery fails.
    `toml`: the command's reader of TOML files (a fresh one when None)."""
    toml = toml or TomlFiles()
    project_root = next((d for d in _ancestors(project_dir) if (d / "pyproject.toml").is_file()), None)
    if project_root is None:
        return None
    pyproject = _read(project_root / "pyproject.toml", toml)
    if pyproject is None:
        return None
    tool_uv = _tool_uv(pyproject)
    if tool_uv.get("managed") is False:
        return None
    if "workspace" in tool_uv:
        return project_root if _members_ok(project_root, tool_uv["workspace"], toml) else None
    if "project" not in pyproject:
        return None
    if cache_dir is not None and project_root.is_relative_to(cache_dir):
        return project_root
    return _enclosing_workspace(project_root, toml)


def _enclosing_workspace(project_root: Path, toml: TomlFiles) -> Path | None:
    """The explicit workspace above `project_root` that includes it, else the project itself."""
    for directory in _ancestors(project_root)[1:]:
        if not (directory / "pyproject.toml").is_file():
            continue
        pyproject = _read(directory / "pyproject.toml", toml)
        if pyproject is None:
            return None
        workspace = _tool_uv(pyproject).get("workspace")
        if workspace is None:
            return project_root
        relative = os.path.relpath(project_root, directory)
        if not _matches(relative, project_root, directory, workspace.get("members", ())):
            return project_root
        if _matches(relative, project_root, directory, workspace.get("exclude", ())):
            return project_root
        return directory if _members_ok(directory, workspace, toml) else None
    return project_root


def _members_ok(root: Path, workspace: dict, toml: TomlFiles) -> bool:
    """uv fails discovery on a member directory without a readable `pyproject.toml`.

    Hidden directories and non-directories are passed over, as by uv; so is an
    empty directory (uv: one with only git-ignored files)."""
    if not isinstance(workspace, dict):
        return False
    excluded = workspace.get("exclude", ())
    for pattern in workspace.get("members", ()):
        for member in map(Path, sorted(glob.glob(os.path.join(root, os.path.normpath(pattern))))):
            if not member.is_dir() or member.name.startswith("."):
                continue
            if _matches(os.path.relpath(member, root), member, root, excluded):
                continue
            if (member / "pyproject.toml").is_file():
                if _read(member / "pyproject.toml", toml) is None:
                    return False
            elif any(member.iterdir()):
                return False
    return True


def _matches(relative: str, absolute: Path, root: Path, patterns: Iterable[str]) -> bool:
    """glob-crate matching as uv does it: `*` also crosses `/`, patterns relative to the root."""
    for pattern in patterns:
        normalized = os.path.normpath(pattern)
        if fnmatch.fnmatchcase(relative, normalized):
            return True
        if fnmatch.fnmatchcase(str(absolute), os.path.join(str(root), normalized)):
            return True
    return False


def _read(path: Path, toml: TomlFiles) -> dict | None:
    try:
        return toml.load(path)
    except ConfigError:
        return None


def _tool_uv(pyproject: dict) -> dict:
    tool = pyproject.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    return uv if isinstance(uv, dict) else {}


def _ancestors(path: Path) -> list[Path]:
    return [path, *path.parents]
