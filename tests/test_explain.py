"""`uvguard explain`: the CLI in a fresh interpreter, in the sandbox, with a pinned real uv."""

from __future__ import annotations

import json
import subprocess
import sys

from tests import uv_releases

UVGUARD = (sys.executable, "-c", "from uvguard.cli import main; raise SystemExit(main())")


def explain(sandbox, *args: str, version: str | None = None, cwd=None, **env: str):
    environment = sandbox.env(UVGUARD_REAL_UV=str(uv_releases.path(version or uv_releases.LATEST)), **env)
    environment.pop("UV_CACHE_DIR")
    return subprocess.run([*UVGUARD, "explain", *args], env=environment, cwd=cwd or sandbox.work,
                          capture_output=True, text=True)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_human_output_names_every_value_its_source_and_the_files_in_order(sandbox):
    write(sandbox.work / "uv.toml", 'link-mode = "symlink"\n')
    write(sandbox.home / ".config" / "uv" / "uv.toml", 'cache-dir = "/user/cache"\n[pip]\nlink-mode = "copy"\n')
    result = explain(sandbox, "cache", "prune")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "link mode:     symlink" in out and f"{sandbox.work / 'uv.toml'}: link-mode" in out
    assert "pip link mode: copy" in out and "[pip] link-mode" in out
    assert "cache dir:     /user/cache" in out
    assert "symlink mode:  active" in out
    project, user, system = (out.index(f"  {scope}") for scope in ("project", "user", "system"))
    assert project < user < system


def test_json_has_the_documented_fields_and_follows_the_real_uv_release(sandbox):
    result = explain(sandbox, "--json", "cache", "prune", version="0.8.24")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("cache_dir", "cache_dir_source", "no_cache", "link_mode", "link_mode_source", "pip_link_mode",
                "pip_link_mode_source", "symlink_active", "config_files"):
        assert key in data
    assert data["uv_version"] == "0.8.24"
    assert data["link_mode"] == "hardlink"  # 0.8's Linux default; clone since 0.10.5
    assert data["cache_dir"] == str(sandbox.home / ".cache" / "uv")
    assert data["symlink_active"] is False


def test_uv_args_starting_with_a_dash_are_uv_args(sandbox):
    data = json.loads(explain(sandbox, "--json", "pip", "install", "--link-mode", "symlink", "x").stdout)
    assert (data["pip_link_mode"], data["pip_link_mode_source"]) == ("symlink", "--link-mode")
    assert data["link_mode"] == "clone"
    result = explain(sandbox, "--json", "-n", "--cache-dir", "elsewhere", "cache", "prune")
    data = json.loads(result.stdout)
    assert data["no_cache"] is True and data["no_cache_source"] == "--no-cache"
    assert data["cache_dir"] == str(sandbox.work / "elsewhere")
    assert data["config_sources"]["no_cache"] == {"kind": "cli", "name": "--no-cache",
                                                  "scope": None, "key": None, "line": None}


def test_config_uv_rejects_exits_2_naming_the_file(sandbox):
    write(sandbox.work / "uv.toml", 'link-mode = "Symlink"\n')
    result = explain(sandbox, "cache", "prune")
    assert result.returncode == 2
    assert result.stderr.startswith("error: Failed to parse: uv.toml")  # uv's own words, for a cache command
    assert "Traceback" not in result.stderr
    assert sandbox.uv("cache", "dir", env=_without_cache(sandbox), check=False).returncode == 2
    result = explain(sandbox, "sync")  # not run: uvguard's model of uv's schema speaks
    assert result.returncode == 2 and str(sandbox.work / "uv.toml") in result.stderr


def test_config_uv_warns_about_gives_the_same_warning_and_goes_on(sandbox):
    write(sandbox.root / "uv.toml", 'link-mode = "symlink"\n')
    write(sandbox.work / "pyproject.toml", "[tool.uv\n")
    result = explain(sandbox, "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["link_mode"] == "symlink"
    ours = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    theirs = [line for line in sandbox.uv("cache", "dir", env=_without_cache(sandbox)).stderr.splitlines()
              if line.startswith("warning:")]
    assert ours == theirs and ours


def test_bad_environment_variable_exits_2(sandbox):
    result = explain(sandbox, UV_NO_CACHE="maybe")
    assert result.returncode == 2  # uv's own refusal of `cache prune`, relayed
    assert result.stderr.startswith("error: invalid value 'maybe' for '--no-cache'")
    result = explain(sandbox, "sync", UV_NO_CACHE="maybe")  # not run: uvguard's model names the variable
    assert result.returncode == 2
    assert "UV_NO_CACHE" in result.stderr and "Traceback" not in result.stderr


def _without_cache(sandbox) -> dict:
    env = sandbox.env()
    env.pop("UV_CACHE_DIR")
    return env


def test_no_color_wins_over_force_color_as_in_uv(sandbox):
    """uv's rule: `--no-color` (like `--color never`) beats FORCE_COLOR; explain follows it."""
    write(sandbox.work / "pyproject.toml", "[tool.uv\n")
    colored = explain(sandbox, "--", "cache", "prune", FORCE_COLOR="1")
    plain = explain(sandbox, "--", "--no-color", "cache", "prune", FORCE_COLOR="1")
    assert "\x1b[" in colored.stderr and "warning" in colored.stderr
    assert "\x1b[" not in plain.stderr and "warning: " in plain.stderr


def test_where_uv_refuses_explain_prints_uvs_error_and_exit_code(sandbox):
    """Inside the cache (a rule uvguard models) and a setting it does not check (uv is asked)."""
    inside = sandbox.home / ".cache" / "uv" / "w"
    inside.mkdir(parents=True)
    for args in ((), ("sync",)):
        result = explain(sandbox, "--json", *args, cwd=inside)
        bare = sandbox.uv(*(args or ("cache", "prune")), env=_without_cache(sandbox), cwd=inside, check=False)
        assert bare.stderr == f"error: The project directory `.` is inside the cache directory `{inside.parent}`\n"
        assert (result.returncode, result.stdout, result.stderr) == (2, "", bare.stderr)
    write(sandbox.work / "uv.toml", 'resolution = "bogus"\n')
    result = explain(sandbox, "--json", "cache", "clean")
    bare = sandbox.uv("cache", "clean", env=_without_cache(sandbox), check=False)
    assert bare.returncode == result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(bare.stderr) and "unknown variant `bogus`" in bare.stderr
    assert result.stderr[len(bare.stderr):].startswith("hint: that is uv's own refusal (exit 2)")


def test_isolated_is_honoured_per_scope_as_uv_does(sandbox):
    """`--isolated` hides the project's uv.toml from `uv pip` and the cache command, never from `uv sync`."""
    write(sandbox.work / "uv.toml", 'link-mode = "copy"\ncache-dir = "project-cache"\n')
    data = json.loads(explain(sandbox, "--json", "--isolated").stdout)
    env = _without_cache(sandbox)
    sync = sandbox.uv("--isolated", "sync", "--show-settings", env=env).stdout
    pip = sandbox.uv("--isolated", "pip", "install", "--show-settings", "six", env=env).stdout
    assert "link_mode: Copy" in sync and "link_mode: Copy" not in pip
    assert (data["link_mode"], data["pip_link_mode"]) == ("copy", "clone")
    assert data["link_mode_source"] == f"{sandbox.work / 'uv.toml'}: link-mode"
    assert data["cache_dir"] == sandbox.uv("--isolated", "cache", "dir", env=env).stdout.strip()


def test_isolated_cache_command_never_reads_a_broken_project_file(sandbox):
    write(sandbox.work / "uv.toml", "x = \n")
    env = _without_cache(sandbox)
    assert sandbox.uv("--isolated", "cache", "prune", env=env, check=False).returncode == 0
    assert sandbox.uv("--isolated", "sync", env=env, check=False).returncode == 2
    result = explain(sandbox, "--json", "--isolated")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "`uv sync` would reject its files" in data["config_discovery"] and data["link_mode"] == "clone"


def test_json_gives_each_source_structured_beside_the_sentence(sandbox):
    path = sandbox.work / "uv.toml"
    write(path, '# link mode for both scopes\nlink-mode = "symlink"\n')
    data = json.loads(explain(sandbox, "--json", "cache", "prune").stdout)
    assert data["link_mode_source"] == f"{path}: link-mode"  # the sentence stays
    assert data["config_sources"]["link_mode"] == data["config_sources"]["pip_link_mode"] == {
        "kind": "file", "name": str(path), "scope": "project", "key": "link-mode", "line": 2}
    assert data["config_sources"]["cache_dir"]["kind"] == "default"
    text = explain(sandbox, "cache", "prune").stdout
    assert "link mode:     symlink  (uv sync, run, add...)" in text
    assert f"               from {path}: link-mode\n" in text
