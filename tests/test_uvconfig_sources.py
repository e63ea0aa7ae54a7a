"""Every effective uv setting carries a structured source (`ConfigSource`), one test per kind.

The resolution is the real one (`effective_config`, checked against real uv by
the parity suite); these pin what it says about where each value came from:
the kind, the flag, variable or file, the TOML key and its line, and the
sentence `uvguard explain` has always printed.
"""

from __future__ import annotations

import sys

from tests import uv_releases
from uvguard.invocation import parse
from uvguard.uvconfig import ConfigSource, effective_config

VERSION = tuple(int(part) for part in uv_releases.LATEST.split("."))


def config(sandbox, *args: str, cwd=None, **extra: str):
    env = sandbox.env(**extra)
    if "UV_CACHE_DIR" not in extra:
        env.pop("UV_CACHE_DIR")  # the sandbox's own: uv's other sources show only without it
    return effective_config(parse(args, VERSION), env, cwd or sandbox.work, VERSION)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_flag_is_a_cli_source(sandbox):
    ours = config(sandbox, "--no-cache", "--cache-dir", "c", "pip", "install", "--link-mode", "symlink", "x")
    assert ours.cache_dir_source == ConfigSource("cli", "--cache-dir")
    assert ours.no_cache_source == ConfigSource("cli", "--no-cache")
    assert ours.pip_link_mode_source == ConfigSource("cli", "--link-mode")
    assert ours.pip_link_mode_source.describe() == "--link-mode"
    assert ours.pip_link_mode_source.to_json() == {"kind": "cli", "name": "--link-mode", "scope": None,
                                                   "key": None, "line": None}


def test_a_uv_variable_is_an_env_source(sandbox):
    write(sandbox.work / "uv.toml", 'cache-dir = "/file"\nno-cache = true\nlink-mode = "copy"\n')
    ours = config(sandbox, "cache", "prune", UV_LINK_MODE="symlink", UV_CACHE_DIR="/env", UV_NO_CACHE="0")
    assert ours.link_mode_source == ours.pip_link_mode_source == ConfigSource("env", "UV_LINK_MODE")
    assert ours.cache_dir_source == ConfigSource("env", "UV_CACHE_DIR")
    assert ours.no_cache_source == ConfigSource("env", "UV_NO_CACHE")  # an explicit false beats the file
    assert ours.link_mode_source.describe() == "UV_LINK_MODE"
    assert ours.cache_dir_source.to_json() == {"kind": "env", "name": "UV_CACHE_DIR", "scope": None,
                                               "key": None, "line": None}


def test_a_project_uv_toml_gives_its_path_key_and_line(sandbox):
    path = sandbox.work / "uv.toml"
    write(path, '# the project\n\ncache-dir = "/c"\nno-cache = false\n\n[pip]\nlink-mode = "symlink"\n')
    ours = config(sandbox, "cache", "prune")
    assert ours.cache_dir_source == ConfigSource("file", str(path), "project", "cache-dir", 3)
    assert ours.no_cache_source == ConfigSource("file", str(path), "project", "no-cache", 4)
    assert ours.pip_link_mode_source == ConfigSource("file", str(path), "project", "pip.link-mode", 7)
    assert ours.pip_link_mode_source.describe() == f"{path}: [pip] link-mode"  # explain's words, unchanged
    assert ours.cache_dir_source.describe() == f"{path}: cache-dir"
    assert ours.pip_link_mode_source.to_json() == {"kind": "file", "name": str(path), "scope": "project",
                                                   "key": "pip.link-mode", "line": 7}


def test_a_pyproject_tool_uv_gives_the_dotted_key_and_its_line(sandbox):
    path = sandbox.work / "pyproject.toml"
    write(path, '[project]\nname = "p"\nversion = "1"\n\n[tool.uv]\nlink-mode = "symlink"\n\n'
                '[tool.uv.pip]\nlink-mode = "copy"\n')
    ours = config(sandbox, "cache", "prune")
    assert ours.link_mode_source == ConfigSource("file", str(path), "project", "tool.uv.link-mode", 6)
    assert ours.pip_link_mode_source == ConfigSource("file", str(path), "project", "tool.uv.pip.link-mode", 9)
    assert ours.link_mode_source.describe() == f"{path}: [tool.uv] link-mode"
    assert ours.pip_link_mode_source.describe() == f"{path}: [tool.uv] [pip] link-mode"


def test_user_system_and_given_files_say_their_scope(sandbox):
    user = sandbox.home / ".config" / "uv" / "uv.toml"
    system = sandbox.root / "etc-xdg" / "uv" / "uv.toml"
    write(user, 'link-mode = "symlink"\n')
    write(system, 'cache-dir = "/system"\n\n[pip]\nlink-mode = "copy"\n')
    ours = config(sandbox, "cache", "prune")
    assert ours.link_mode_source == ConfigSource("file", str(user), "user", "link-mode", 1)
    assert ours.pip_link_mode_source == ConfigSource("file", str(system), "system", "pip.link-mode", 4)
    assert ours.cache_dir_source == ConfigSource("file", str(system), "system", "cache-dir", 1)
    given = sandbox.root / "given.toml"
    write(given, 'link-mode = "copy"\n')
    ours = config(sandbox, "--config-file", str(given), "cache", "prune")
    assert ours.link_mode_source == ConfigSource("file", str(given), "config-file", "link-mode", 1)


def test_uvs_defaults_say_which_default(sandbox):
    ours = config(sandbox, "cache", "prune")
    assert ours.cache_dir_source == ConfigSource("default", "$XDG_CACHE_HOME/uv")
    assert ours.cache_dir_source.describe() == "default ($XDG_CACHE_HOME/uv)"
    assert ours.no_cache_source == ConfigSource("default")
    assert ours.no_cache_source.describe() == "default"
    assert ours.no_cache_source.to_json() == {"kind": "default", "name": None, "scope": None, "key": None,
                                              "line": None}
    assert ours.link_mode_source == ConfigSource("default", f"{sys.platform}, uv {uv_releases.LATEST}")
    home = config(sandbox, "cache", "prune", XDG_CACHE_HOME="relative").cache_dir_source
    if sys.platform != "darwin":
        assert home.describe() == "default (~/.cache/uv)"
