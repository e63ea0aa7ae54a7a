"""`uvguard check`: the shim's decision without acting, on the classifier table, real uv 0.13.9."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_sandbox, uv_path
from tests.test_guard_shim import Machine

UVGUARD = str(Path(sys.executable).parent / "uvguard")


@pytest.fixture(scope="module")
def machine(tmp_path_factory, wheelhouse):
    """One symlink-mode environment linking to purepkg, made through the shim; never changed by a check."""
    machine = Machine(make_sandbox(tmp_path_factory.mktemp("check")), wheelhouse)
    machine.venv = machine.symlink_venv("app", "purepkg")
    return machine


def check(machine, *args, **extra) -> subprocess.CompletedProcess:
    env = {**machine.env, "UVGUARD_REAL_UV": str(uv_path()), **extra}
    return subprocess.run([UVGUARD, "check", *args], env=env,
                          cwd=machine.elsewhere, capture_output=True, text=True)


def check_json(machine, *args, **extra) -> dict:
    result = check(machine, "--json", *args, **extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


TABLE = [
    (["cache", "prune"], "prune", "allow", None),
    (["cache", "prune", "--ci"], "prune-ci", "limit", "prune-ci"),
    (["cache", "prune", "--ci", "--force"], "prune-ci", "limit", "prune-ci"),
    (["-q", "cache", "--verbose", "prune", "--ci"], "prune-ci", "limit", "prune-ci"),
    (["cache", "prune", "--verbose", "--ci"], "prune-ci", "limit", "prune-ci"),
    (["cache", "clean"], "clean", "refuse", "clean"),
    (["cache", "clear"], "clean", "refuse", "clean"),
    (["clean"], "clean", "refuse", "clean"),
    (["cache", "clean", "purepkg"], "clean-packages", "limit", "clean-packages"),
    (["cache", "clean", "PurePkg"], "clean-packages", "limit", "clean-packages"),
    (["cache", "clean", "--", "purepkg"], "clean-packages", "limit", "clean-packages"),
    (["cache", "clean", "otherpkg"], "clean-packages", "allow", None),
    (["--no-cache", "cache", "clean"], "clean", "allow", None),
    (["cache", "dir"], "passthrough", "allow", None),
    (["cache", "prune", "--help"], "passthrough", "allow", None),
    (["sync", "--frozen"], "passthrough", "allow", None),
]


@pytest.mark.parametrize("args, operation, action, key", TABLE, ids=[" ".join(row[0]) for row in TABLE])
def test_classifier_table(machine, args, operation, action, key):
    result = check_json(machine, *args)
    assert (result["operation"], result["action"]) == (operation, action), result["reason"]
    assert (result["decided_by"] or {}).get("key") == key
    if action == "refuse" or action == "limit":
        assert result["live_environments"] == [str(machine.venv)]
        assert result["breaking_environments"] == [str(machine.venv)]
        assert result["protected_entries"] == [f"archive-v0/{a}" for a in sorted(machine.live_archives(machine.venv))]
        assert result["decided_by"]["layer"] == "built-in" and result["decided_by"]["locked"] is False
    assert result["uncertain"] is False


def test_check_does_not_act(machine):
    before = machine.cache_listing()
    for args in (["cache", "clean"], ["cache", "prune", "--ci"]):
        check_json(machine, *args)
    assert machine.cache_listing() == before
    assert machine.imports(machine.venv, "purepkg.hello()")


def test_another_cache_dir_has_nothing_of_ours(machine):
    other = machine.sandbox.root / "other-cache"
    result = check_json(machine, "--cache-dir", str(other), "cache", "clean")
    assert (result["action"], result["cache_dir"], result["reason"]) == \
        ("allow", str(other), "there is no cache: nothing to remove")


def test_policy_changes_the_answer(machine):
    result = check_json(machine, "cache", "prune", "--ci", UVGUARD_POLICY="strict")
    assert (result["action"], result["decided_by"]["preset"], result["decided_by"]["layer"]) == \
        ("refuse", "strict", "env")
    assert check_json(machine, "cache", "clean", UVGUARD_POLICY="permissive")["action"] == "warn"


def test_human_output(machine):
    result = check(machine, "cache", "clean")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "operation: clean",
        "action: refuse",
        "reason: `uv cache clean` would remove 1 cache entry that 1 environment links to",
        'decided by: `clean = "refuse"` in the built-in default policy',
    ]
    assert f"  {machine.venv}" in lines


def test_bad_policy_exits_2_like_the_shim(machine):
    result = check(machine, "--json", "cache", "prune", UVGUARD_POLICY="nonsense")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: UVGUARD_POLICY=nonsense: unknown preset")
    assert check(machine, "--json", "sync", UVGUARD_POLICY="nonsense").returncode == 0


# Where the uv command line starts: a misplaced or mistyped uvguard option never yields a verdict.

def test_json_after_the_uv_command_line_is_an_error_not_a_passthrough_verdict(machine):
    assert check_json(machine, "cache", "prune", "--ci")["action"] == "limit"
    for misplaced in (["cache", "prune", "--ci", "--json"], ["cache", "prune", "--ci", "--jsn"],
                      ["--jsn", "cache", "prune", "--ci"], ["cache", "prune", "--dry-run"]):
        result = check(machine, *misplaced)
        assert result.returncode == 2, misplaced
        assert result.stdout == "" and "operation:" not in result.stderr
        assert result.stderr.startswith("error: ") and "\nhint: " in result.stderr
    assert "`--json` is an option of `uvguard check`" in check(machine, "cache", "prune", "--json").stderr
    assert "similar argument exists: `--json`" in check(machine, "--jsn", "cache", "prune").stderr


def test_the_uv_command_line_starts_at_a_uv_global_option_a_subcommand_or_after_double_dash(machine):
    assert check_json(machine, "--no-cache", "cache", "clean")["reason"].startswith("no cache")
    assert check_json(machine, "-q", "cache", "prune", "--ci")["action"] == "limit"
    # After `--` everything is uv's, `--json` too (for a command that is not a cache operation).
    assert check_json(machine, "--", "run", "script.py", "--json")["operation"] == "passthrough"


def test_uvguard_global_options_apply_to_the_uv_command_line(machine):
    other = machine.sandbox.root / "other-cache"
    env = {**machine.env, "UVGUARD_REAL_UV": str(uv_path())}
    for args in (["check", "--cache-dir", str(other), "--json", "cache", "clean"],
                 [f"--cache-dir={other}", "check", "--json", "cache", "clean"]):
        result = subprocess.run([UVGUARD, *args], env=env, cwd=machine.elsewhere, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["cache_dir"] == str(other)


def test_a_cache_line_the_real_release_rejects_gets_no_verdict(machine):
    """`uv cache clear` arrived in 0.10.10: uv 0.8.24 rejects it, so there is nothing to allow."""
    assert check_json(machine, "cache", "clear")["operation"] == "clean"
    old = check(machine, "--json", "cache", "clear", UVGUARD_REAL_UV=str(uv_path("0.8.24")))
    assert old.returncode == 2 and old.stdout == ""
    assert old.stderr.startswith("error: ") and "clear" in old.stderr


def test_where_uv_refuses_check_reports_uvs_refusal_not_a_decision(machine):
    """uv's own error and exit code, as the shim relays them; never a decision about a config uv would not use."""
    inside = machine.sandbox.cache / "archive-v0"
    env = {**machine.env, "UVGUARD_REAL_UV": str(uv_path())}
    for args, cwd, extra in ((["cache", "prune", "--ci"], inside, {}),
                             (["cache", "prune", "--dry-run"], machine.elsewhere, {}),
                             (["cache", "clean", "purepkg"], machine.elsewhere, {"UV_CONCURRENT_DOWNLOADS": "abc"})):
        bare = subprocess.run([str(uv_path()), *args], env={**env, **extra}, cwd=cwd, capture_output=True, text=True)
        result = subprocess.run([UVGUARD, "check", "--json", *args], env={**env, **extra}, cwd=cwd,
                                capture_output=True, text=True)
        assert bare.returncode == 2 and bare.stderr.startswith("error: ")
        assert (result.returncode, result.stdout) == (2, ""), result.stdout
        assert result.stderr.startswith(bare.stderr), args
    assert check_json(machine, "cache", "prune", "--ci")["action"] == "limit"  # the same machine, elsewhere


def test_json_says_where_each_uv_setting_came_from(machine):
    """With real uv 0.13.9: the structured source of each setting the decision rests on."""
    project = machine.sandbox.root / "sourced"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text('[project]\nname = "sourced"\nversion = "1"\n\n'
                                            '[tool.uv]\nlink-mode = "symlink"\n')
    env = {**machine.env, "UVGUARD_REAL_UV": str(uv_path("0.13.9"))}
    result = subprocess.run([UVGUARD, "check", "--json", "cache", "prune", "--ci"], env=env, cwd=project,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    file = {"kind": "file", "name": str(project / "pyproject.toml"), "scope": "project",
            "key": "tool.uv.link-mode", "line": 6}
    assert data["config_sources"] == {
        "cache_dir": {"kind": "env", "name": "UV_CACHE_DIR", "scope": None, "key": None, "line": None},
        "no_cache": {"kind": "default", "name": None, "scope": None, "key": None, "line": None},
        "link_mode": file, "pip_link_mode": file}
    result = subprocess.run([UVGUARD, "check", "--json", "--no-cache", "cache", "clean"], env=env, cwd=project,
                            capture_output=True, text=True)
    assert json.loads(result.stdout)["config_sources"]["no_cache"]["kind"] == "cli"
    assert check_json(machine, "sync")["config_sources"] is None  # passthrough: no config read
