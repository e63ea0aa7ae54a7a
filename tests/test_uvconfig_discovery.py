"""The discovery helpers other stages reuse: where uv's project-config walk starts and stops.

Their answers are the ones the parity suite checks against real uv through
`effective_config`; these tests pin the helpers' own contract.
"""

from __future__ import annotations

import pytest

from uvguard.errors import ConfigError
from uvguard.uvconfig import discovery_start, find_project_config_dir

PROJECT = '[project]\nname = "{}"\nversion = "1.0"\n'


def write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_walk_starts_at_the_workspace_root_for_a_member(sandbox):
    root = sandbox.work
    write(root / "pyproject.toml", PROJECT.format("root") + '[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    write(root / "packages" / "a" / "pyproject.toml", PROJECT.format("a"))
    assert discovery_start(root / "packages" / "a" / "src") == root


def test_walk_starts_at_the_project_dir_when_discovery_fails(sandbox):
    write(sandbox.work / "pyproject.toml", "[tool.black]\n")  # neither [project] nor a workspace
    assert discovery_start(sandbox.work / "sub") == sandbox.work / "sub"


def test_walk_stops_at_the_nearest_uv_toml_or_valid_tool_uv(sandbox):
    write(sandbox.root / "uv.toml", 'link-mode = "symlink"\n')
    write(sandbox.work / "pyproject.toml", PROJECT.format("w"))
    assert find_project_config_dir(sandbox.work) == sandbox.root
    write(sandbox.work / "pyproject.toml", PROJECT.format("w") + '[tool.uv]\nnot-a-key = 1\n')
    assert find_project_config_dir(sandbox.work) == sandbox.root  # uv skips it, with a warning
    write(sandbox.work / "pyproject.toml", PROJECT.format("w") + "[tool.uv]\n")
    assert find_project_config_dir(sandbox.work) == sandbox.work


def test_walk_raises_where_uv_rejects_a_uv_toml(sandbox):
    write(sandbox.work / "uv.toml", "link-mode = \n")
    with pytest.raises(ConfigError, match="uv.toml"):
        find_project_config_dir(sandbox.work)
