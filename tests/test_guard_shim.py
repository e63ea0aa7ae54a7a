"""Each action through the installed shim, on real uv and real symlink-mode environments.

The environments are made through the shim too (so the registry knows them),
and the cache commands run from an unrelated directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import uv_path
from uvguard.shimfile import write_shim


class Machine:
    def __init__(self, sandbox, wheelhouse):
        self.sandbox = sandbox
        self.wheelhouse = wheelhouse
        bin_dir = sandbox.root / "bin"
        bin_dir.mkdir()
        self.shim = bin_dir / "uv"
        write_shim(self.shim, sys.executable, str(uv_path()))
        self.elsewhere = sandbox.root / "elsewhere"
        self.elsewhere.mkdir()
        self.env = sandbox.env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        self.user_policy = Path(self.env["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml"

    def uv(self, *args, cwd=None, **extra) -> subprocess.CompletedProcess:
        env = {**self.env, **{k: str(v) for k, v in extra.items()}}
        return subprocess.run([str(self.shim), *args], env=env, cwd=cwd or self.elsewhere,
                              capture_output=True, text=True)

    def uvguard(self, *args, cwd=None, **extra) -> subprocess.CompletedProcess:
        """The `uvguard` command, installed beside the interpreter running the tests."""
        env = {**self.env, **{k: str(v) for k, v in extra.items()}}
        return subprocess.run([str(Path(sys.executable).parent / "uvguard"), *args], env=env,
                              cwd=cwd or self.elsewhere, capture_output=True, text=True)

    def symlink_venv(self, name: str, *packages: str) -> Path:
        path = self.sandbox.work / name / ".venv"
        path.parent.mkdir(parents=True)
        for args in (("venv", str(path)),
                     ("pip", "install", "--python", str(path), "--no-index", "--find-links", str(self.wheelhouse),
                      "--link-mode", "symlink", *packages)):
            result = self.uv(*args, cwd=path.parent)
            assert result.returncode == 0, result.stderr
        return path

    def imports(self, venv: Path, code: str) -> bool:
        """Whether `code` runs in `venv` after importing its first module (calling, not just importing)."""
        module = code.split(".")[0]
        result = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {module}; {code}"],
                                capture_output=True, env=self.sandbox.env())
        return result.returncode == 0

    def live_archives(self, venv: Path) -> set[str]:
        """The archive ids the environment's links point to, read straight from the links."""
        archive = str(self.sandbox.cache / "archive-v0") + "/"
        targets = (os.readlink(p) for p in venv.rglob("*") if p.is_symlink())
        return {t[len(archive):].split("/")[0] for t in targets if t.startswith(archive)}

    def cache_listing(self) -> list[str]:
        return sorted(str(p.relative_to(self.sandbox.cache)) for p in self.sandbox.cache.rglob("*"))

    def decisions(self) -> list[dict]:
        path = Path(self.env["XDG_STATE_HOME"]) / "uvguard" / "decisions.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def machine(sandbox, wheelhouse):
    return Machine(sandbox, wheelhouse)


def test_refuse_leaves_the_cache_untouched(machine):
    venv = machine.symlink_venv("app", "purepkg")
    before = machine.cache_listing()
    result = machine.uv("cache", "clean")
    assert result.returncode == 3, result.stderr
    assert machine.cache_listing() == before
    assert machine.imports(venv, "purepkg.hello()")
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: refused: `uv cache clean` would remove 1 cache entry that 1 environment "
                               "links to:")
    assert f"  {venv} (registry)" in lines
    assert '  decided by `clean = "refuse"` in the built-in default policy' in lines
    assert "hint: ways forward:" in lines
    assert any("`uvguard materialize ENV`" in line for line in lines)
    assert any("`UVGUARD_POLICY=ci uv cache clean`" in line for line in lines)
    [record] = machine.decisions()
    assert (record["operation"], record["action"], record["decided_by"]["layer"], record["decided_by"]["key"]) == \
        ("clean", "refuse", "built-in", "clean")
    assert record["argv"] == ["uv", "cache", "clean"] and record["cwd"] == str(machine.elsewhere)
    assert record["breaking_environments"] == [str(venv)] and len(record["protected_entries"]) == 1


def test_limit_prune_ci_keeps_what_the_environment_uses(machine):
    venv = machine.symlink_venv("app", "purepkg", "speedpkg")
    gone = machine.symlink_venv("gone", "otherpkg")
    live = machine.live_archives(venv)
    assert len(live) == 2 and machine.live_archives(gone) - live
    shutil.rmtree(gone.parent)
    result = machine.uv("cache", "prune", "--ci")
    assert result.returncode == 0, result.stderr
    assert re.search(r"kept 2 entries \([\d.]+[KMG]?i?B\) used by 1 environment", result.stderr)
    assert {p.name for p in (machine.sandbox.cache / "archive-v0").iterdir()} == live
    assert machine.imports(venv, "purepkg.hello(); import speedpkg; speedpkg.answer()")
    [*_, record] = machine.decisions()
    assert (record["operation"], record["action"], record["decided_by"]["key"]) == ("prune-ci", "limit", "prune-ci")


def test_limit_clean_packages_keeps_the_live_archive(machine):
    venv = machine.symlink_venv("app", "purepkg")
    result = machine.uv("cache", "clean", "purepkg")
    assert result.returncode == 0, result.stderr
    assert re.search(r"kept 1 entry \([\d.]+[KMG]?i?B\) used by 1 environment", result.stderr)
    assert machine.imports(venv, "purepkg.hello()")
    assert machine.decisions()[-1]["decided_by"]["key"] == "clean-packages"


def test_warn_names_the_environment_then_runs_uv(machine):
    venv = machine.symlink_venv("app", "purepkg")
    result = machine.uv("cache", "clean", UVGUARD_POLICY="permissive")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[:3] == [
        "warning: `uv cache clean` would remove 1 cache entry that 1 environment links to; running it anyway, "
        "and these environments will break:",
        f"  {venv} (registry)",
        '  decided by `clean = "warn"` in preset `permissive` (from UVGUARD_POLICY)',
    ]
    assert lines[3].startswith("Clearing cache at: ")  # real uv ran
    assert not machine.imports(venv, "purepkg.hello()")
    assert not (machine.sandbox.cache / "archive-v0").exists()
    assert machine.decisions()[-1]["action"] == "warn"


def test_quiet_silences_the_warning(machine):
    machine.symlink_venv("app", "purepkg")
    result = machine.uv("-q", "cache", "clean", UVGUARD_POLICY="permissive")
    assert (result.returncode, result.stderr) == (0, "")


def test_allow_when_nothing_links_into_the_cache(machine):
    venv = machine.sandbox.work / "plain" / ".venv"
    machine.uv("venv", str(venv))
    result = machine.uv("pip", "install", "--python", str(venv), "--no-index", "--find-links",
                        str(machine.wheelhouse), "--link-mode", "copy", "purepkg")
    assert result.returncode == 0, result.stderr
    result = machine.uv("cache", "clean", UVGUARD_POLICY="strict")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("Clearing cache at: ")
    assert "warning" not in result.stderr and machine.imports(venv, "purepkg.hello()")
    record = machine.decisions()[-1]
    assert (record["action"], record["decided_by"]) == ("allow", None)


def test_plain_prune_that_removes_nothing_live_runs_silently(machine):
    machine.symlink_venv("app", "purepkg")
    result = machine.uv("cache", "prune", UVGUARD_POLICY="strict")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith("Pruning cache at: ")
    assert "warning" not in result.stderr


def test_unknown_warns_how_to_register(machine):
    machine.sandbox.uv("venv", str(machine.sandbox.root / "unregistered"))  # real uv: the shim never saw it
    machine.sandbox.uv("pip", "install", "--python", str(machine.sandbox.root / "unregistered"), "--no-index",
                       "--find-links", str(machine.wheelhouse), "--link-mode", "symlink", "purepkg")
    result = machine.uv("cache", "prune", UV_LINK_MODE="symlink")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:3] == [
        "warning: symlink mode is active (link-mode = symlink, from UV_LINK_MODE), but no environment linking "
        "into the cache is known; running it anyway:",
        "  environments uvguard does not know of may break; register them with `uvguard roots discover DIR`, "
        "`uvguard roots add PATH` or the policy key `roots`",
        '  decided by `unknown = "warn"` in the built-in default policy',
    ]
    assert machine.decisions()[-1]["decided_by"]["key"] == "unknown"


def test_uncertain_refuses_by_default(machine):
    venv = machine.symlink_venv("app", "purepkg")
    unreadable = "/" + "x" * 300  # lstat fails (ENAMETOOLONG) even for root, unlike chmod 000
    machine.write(machine.user_policy, f'roots = ["{unreadable}"]\n')
    before = machine.cache_listing()
    result = machine.uv("cache", "prune")
    assert result.returncode == 3, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "error: refused: the live set is uncertain: 1 environment could not be read:"
    assert lines[1].startswith(f"  {unreadable}: ")
    assert "`uvguard roots remove PATH`" in result.stderr
    assert machine.cache_listing() == before and machine.imports(venv, "purepkg.hello()")


def test_locked_system_key_beats_user_file_and_env(machine):
    venv = machine.symlink_venv("app", "purepkg")
    system = machine.write(Path(machine.env["XDG_CONFIG_DIRS"]) / "uvguard" / "policy.toml",
                           'clean = "refuse"\nlocked = ["clean"]\n')
    user = machine.write(machine.user_policy, 'clean = "allow"\n')
    result = machine.uv("cache", "clean", UVGUARD_POLICY="permissive")
    assert result.returncode == 3, result.stderr
    assert (f'  decided by `clean = "refuse"` in `{system}:1` (system policy), locked by `{system}:2` (system '
            f'policy); `clean = "allow"` in `{user}:1` (user policy) was ignored because the key is locked; '
            '`clean = "warn"` in preset `permissive` (from UVGUARD_POLICY) was ignored because the key is locked'
            ) in result.stderr.splitlines()
    assert f"`clean` is locked by `{system}:2` (system policy); only whoever manages that file can change it" \
        in result.stderr
    assert "UVGUARD_POLICY=ci" not in result.stderr
    assert machine.imports(venv, "purepkg.hello()")
    record = machine.decisions()[-1]
    decided_by = record["decided_by"]
    assert (decided_by["layer"], decided_by["file"], decided_by["locked"]) == ("system", str(system), True)


@pytest.mark.parametrize("text, message", [
    ('clean = "maybe"\n', 'line 1: `clean` = "maybe" is not an action; expected one of allow, warn, limit, refuse'),
    ('clena = "refuse"\n', "line 1: unknown key `clena`; expected one of prune, prune-ci, clean"),
    ("clean = [\n", "line 2: invalid value (at end of file)"),
    ("clean = 1\n", "line 1: `clean` must be a string, not an integer; expected one of allow, warn, limit, refuse"),
    ('locked = ["clean"]\n', "line 1: `locked` is honoured only in a system policy"),
])
def test_invalid_policy_exits_2_and_never_blocks_passthrough(machine, text, message):
    venv = machine.symlink_venv("app", "purepkg")
    machine.write(machine.user_policy, text)
    before = machine.cache_listing()
    result = machine.uv("cache", "prune", "--ci")
    assert result.returncode == 2
    first, *rest = result.stderr.splitlines()
    assert first.startswith("error: ") and str(machine.user_policy) in first and message in first, first
    assert rest == ["hint: fix the policy; the cache is untouched (`uvguard policy validate FILE` checks a file)"]
    assert machine.cache_listing() == before
    assert machine.uv("cache", "dir").returncode == 0
    assert machine.uv("pip", "list", "--python", str(venv)).returncode == 0


def test_an_unparsable_pyproject_fails_safe_and_says_why(machine):
    """uv only warns about it; uvguard cannot tell whether it holds `[tool.uvguard]`, so it stops."""
    venv = machine.symlink_venv("app", "purepkg")
    project = machine.write(venv.parent / "pyproject.toml", "[project\nname = 1\n")
    before = machine.cache_listing()
    result = machine.uv("cache", "prune", "--ci", cwd=venv.parent)
    assert result.returncode == 2
    first, *rest = result.stderr.splitlines()
    assert first == (f"error: Failed to parse `{project}`: line 1, column 9: "
                     "expected ']' at the end of a table declaration")
    assert rest == ["hint: uvguard cannot tell whether this file holds a project policy (`[tool.uvguard]`) until "
                    "it parses; fix it (uv only warns about it); the cache is untouched"]
    assert machine.cache_listing() == before
    assert machine.uv("pip", "list", "--python", str(venv), cwd=venv.parent).returncode == 0


def test_no_cache_runs_uv_on_its_temporary_cache(machine):
    venv = machine.symlink_venv("app", "purepkg")
    before = machine.cache_listing()
    result = machine.uv("--no-cache", "cache", "clean", UVGUARD_POLICY="strict")
    assert result.returncode == 0, result.stderr
    assert machine.cache_listing() == before and machine.imports(venv, "purepkg.hello()")


def test_config_error_exits_2(machine):
    machine.symlink_venv("app", "purepkg")
    machine.write(machine.elsewhere / "uv.toml", "link-mode = \n")
    result = machine.uv("cache", "clean")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "uv.toml" in result.stderr


@pytest.mark.parametrize("args, extra, colored", [
    (("cache", "clean"), {}, False),
    (("cache", "clean"), {"FORCE_COLOR": "1"}, True),
    (("cache", "clean"), {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    (("--color", "always", "cache", "clean"), {"NO_COLOR": "1"}, True),
    (("--color", "never", "cache", "clean"), {"FORCE_COLOR": "1"}, False),
    (("--no-color", "cache", "clean"), {"FORCE_COLOR": "1"}, False),
])
def test_colour_follows_uv(machine, args, extra, colored):
    machine.symlink_venv("app", "purepkg")
    result = machine.uv(*args, **extra)
    assert result.returncode == 3
    assert ("\x1b[" in result.stderr) == colored
    assert result.stderr.replace("\x1b[1;31m", "").replace("\x1b[0m", "").replace("\x1b[1m", "") \
        .startswith("error: refused")


def test_team_log_gets_a_copy_and_a_failing_log_changes_nothing(machine):
    machine.symlink_venv("app", "purepkg")
    machine.write(machine.user_policy, 'log = "team/decisions.jsonl"\n')
    team = machine.user_policy.parent / "team" / "decisions.jsonl"
    result = machine.uv("cache", "clean")
    assert result.returncode == 3
    assert (f"warning: could not write the decisions log `{team}`: its directory does not exist, and uvguard "
            "creates none for a log it does not own") in result.stderr.splitlines()
    assert not team.parent.exists()
    team.parent.mkdir()
    assert machine.uv("cache", "clean").returncode == 3
    [copy] = [json.loads(line) for line in team.read_text().splitlines()]
    assert copy == machine.decisions()[-1]
    blocker = machine.write(machine.sandbox.root / "not-a-dir", "")
    machine.write(machine.user_policy, f'log = "{blocker}/decisions.jsonl"\n')
    result = machine.uv("cache", "clean")
    assert result.returncode == 3
    assert f"warning: could not write the decisions log `{blocker}/decisions.jsonl`: Not a directory" \
        in result.stderr.splitlines()
    user_log = Path(machine.env["XDG_STATE_HOME"]) / "uvguard" / "decisions.jsonl"
    user_log.unlink()
    user_log.mkdir()
    result = machine.uv("cache", "clean", UVGUARD_POLICY="permissive")
    assert result.returncode == 0
    assert f"warning: could not write the decisions log `{user_log}`: Is a directory" in result.stderr.splitlines()
    assert "Clearing cache at: " in result.stderr


def test_every_decision_is_one_json_line(machine):
    venv = machine.symlink_venv("app", "purepkg")
    machine.uv("cache", "clean")
    machine.uv("--no-cache", "cache", "clean")
    machine.uv("cache", "prune", "--ci", cwd=venv.parent)
    refused, no_cache, limited = machine.decisions()
    assert (refused["action"], no_cache["action"], limited["action"]) == ("refuse", "allow", "limit")
    assert no_cache["reason"].startswith("no cache (--no-cache)") and no_cache["decided_by"] is None
    assert limited["cwd"] == str(venv.parent) and limited["argv"] == ["uv", "cache", "prune", "--ci"]
    assert limited["protected_entries"] == [f"archive-v0/{a}" for a in sorted(machine.live_archives(venv))]
    assert limited["cache_dir"] == str(machine.sandbox.cache)
    assert {r["user"] for r in (refused, limited)} == {pwd.getpwuid(os.getuid()).pw_name}
    assert time.strptime(limited["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert set(limited) == {"schema_version", "time", "user", "cwd", "argv", "cache_dir", "operation", "action",
                            "reason", "decided_by", "live_environments", "breaking_environments",
                            "protected_entries", "uncertain", "uncertain_reasons"}
    assert (limited["decided_by"]["key"], limited["decided_by"]["layer"]) == ("prune-ci", "built-in")


def test_ctrl_c_while_waiting_for_uvs_lock_exits_130_without_traceback(machine):
    venv = machine.symlink_venv("app", "purepkg")
    before = machine.cache_listing()
    fd = os.open(machine.sandbox.cache / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # what a running `uv sync` holds
        process = subprocess.Popen([str(machine.shim), "cache", "prune", "--ci"],
                                   env={**machine.env, "UV_LOCK_TIMEOUT": "60"},
                                   cwd=machine.elsewhere, stderr=subprocess.PIPE, text=True)
        first = process.stderr.readline()
        assert "Cache is currently in-use, waiting for other uv processes to finish" in first
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait(timeout=30) == 130
    finally:
        os.close(fd)
    assert "Traceback" not in rest
    assert machine.cache_listing() == before and machine.imports(venv, "purepkg.hello()")


def test_project_policy_is_found_from_directory_option(machine):
    venv = machine.symlink_venv("app", "purepkg")
    project = machine.write(venv.parent / "pyproject.toml",
                            '[project]\nname = "app"\nversion = "1"\n\n[tool.uvguard]\nclean = "warn"\n')
    assert machine.uvguard("policy", "trust", str(project)).returncode == 0  # it loosens `clean`
    result = machine.uv("--directory", str(venv.parent), "cache", "clean")
    assert result.returncode == 0, result.stderr
    assert f'  decided by `clean = "warn"` in `{project}:6` (project policy)' in result.stderr.splitlines()
    assert f"  {venv} (project, registry)" in result.stderr.splitlines()
    record = machine.decisions()[-1]
    assert ((record["decided_by"]["layer"], record["decided_by"]["file"], record["action"])
            == ("project", str(project), "warn"))


def test_a_limited_prune_that_waited_for_the_lock_keeps_what_was_installed_meanwhile(machine):
    first = machine.symlink_venv("first", "speedpkg")
    second = machine.sandbox.work / "second" / ".venv"
    second.parent.mkdir()
    assert machine.uv("venv", str(second), cwd=second.parent).returncode == 0
    fd = os.open(machine.sandbox.cache / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # what a running `uv pip install` holds
        prune = subprocess.Popen([str(machine.shim), "cache", "prune", "--ci"],
                                 env={**machine.env, "UV_LOCK_TIMEOUT": "120"},
                                 cwd=machine.elsewhere, stderr=subprocess.PIPE, text=True)
        assert "Cache is currently in-use" in prune.stderr.readline()
        # The guard decided before this install; it lands while the prune waits (shared locks coexist).
        install = machine.uv("pip", "install", "--python", str(second), "--no-index", "--find-links",
                             str(machine.wheelhouse), "--link-mode", "symlink", "otherpkg", cwd=second.parent)
        assert install.returncode == 0, install.stderr
    finally:
        os.close(fd)
    rest = prune.stderr.read()
    assert prune.wait(timeout=120) == 0, rest
    assert re.search(r"kept 2 entries \([\d.]+[KMG]?i?B\) used by 2 environments", rest)
    assert machine.imports(first, "speedpkg.answer()")
    assert machine.imports(second, "otherpkg.hello()")
