"""Project policy is untrusted input: through the installed shim, on real uv and real environments.

A cloned repository's `uvguard.toml` or `[tool.uvguard]` may tighten the
policy at once, and loosen it or set `log` only after `uvguard policy trust`;
a file another user planted is ignored; a lock binds only from a root-owned
system file nobody else can write; the decisions log never follows a symlink.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO, unprivileged_command
from tests.test_guard_shim import Machine

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making files of root and of another user needs root")


@pytest.fixture
def machine(sandbox, wheelhouse):
    return Machine(sandbox, wheelhouse)


def untrusted_warning(file: Path, *keys: str) -> str:
    return (f"warning: ignoring keys of the untrusted project policy `{file}`, which can only tighten the policy: "
            f"{'; '.join(keys)}; if you trust the file: `uvguard policy trust {file}`")


CLEAN_ALLOW = '`clean = "allow"` ("allow" is weaker than "refuse" from the built-in default policy)'


@pytest.mark.parametrize("name, text", [
    ("uvguard.toml", 'clean = "allow"\n'),
    ("pyproject.toml", '[project]\nname = "repo"\nversion = "1"\n\n[tool.uvguard]\nclean = "allow"\n'),
])
def test_a_cloned_project_cannot_allow_clean_until_trusted(machine, name, text):
    other = machine.symlink_venv("other", "purepkg")
    repo = machine.sandbox.work / "repo"
    policy = machine.write(repo / name, text)
    before = machine.cache_listing()

    result = machine.uv("cache", "clean", cwd=repo)
    assert result.returncode == 3, result.stderr
    assert result.stderr.splitlines()[0] == untrusted_warning(policy, CLEAN_ALLOW)
    assert '  decided by `clean = "refuse"` in the built-in default policy' in result.stderr.splitlines()
    assert machine.cache_listing() == before and machine.imports(other, "purepkg.hello()")

    trusted = machine.uvguard("policy", "trust", cwd=repo)
    assert (trusted.returncode, trusted.stdout) == \
        (0, f"Trusted `{policy}`: every key in it now applies, until the file changes\n"), trusted.stderr

    policy.write_text(text + "# edited after it was trusted\n")
    result = machine.uv("cache", "clean", cwd=repo)
    assert result.returncode == 3, result.stderr
    assert result.stderr.splitlines()[0] == untrusted_warning(policy, CLEAN_ALLOW)
    assert machine.cache_listing() == before and machine.imports(other, "purepkg.hello()")

    assert machine.uvguard("policy", "trust", str(policy)).returncode == 0
    result = machine.uv("cache", "clean", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr and "Clearing cache at: " in result.stderr
    assert not machine.imports(other, "purepkg.hello()")  # obeyed: uv cleaned the cache it links into
    record = machine.decisions()[-1]
    assert ((record["action"], record["decided_by"]["layer"], record["decided_by"]["file"])
            == ("allow", "project", str(policy)))


def test_untrust_and_policy_show(machine):
    repo = machine.sandbox.work / "repo"
    policy = machine.write(repo / "uvguard.toml", 'clean = "allow"\nprune-ci = "refuse"\nlog = "decisions.jsonl"\n'
                                                  'roots = ["envs/*"]\n')
    shown = machine.uvguard("policy", "show", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert f'prune-ci = "refuse"        from `{policy}:2` (project policy)' in lines
    assert 'clean = "refuse"           from the built-in default policy' in lines
    assert (f"  project: {policy} (not trusted: it can only tighten; `uvguard policy trust {policy}` trusts it)"
            in lines)
    assert lines[lines.index("ignored:") + 1:] == [
        f'  `clean = "allow"` in `{policy}:1` (project policy): not trusted, and "allow" is weaker than '
        '"refuse" from the built-in default policy',
        f'  `log = "{repo / "decisions.jsonl"}"` in `{policy}:3` (project policy): not trusted, and only a '
        'trusted file chooses where uvguard writes',
        "trusted project files: none",
    ]
    data = json.loads(machine.uvguard("policy", "show", "--json", cwd=repo).stdout)
    assert [(i["kind"], i["key"], i["file"], i["line"]) for i in data["ignored"]] == \
        [("untrusted", "clean", str(policy), 1), ("untrusted", "log", str(policy), 3)]
    assert [(f["layer"], f["trusted"]) for f in data["files"]] == [("built-in", True), ("project", False)]
    assert data["roots"][0]["path"] == str(repo / "envs" / "*") and data["log"] is None

    assert machine.uvguard("policy", "trust", "repo", cwd=repo.parent).returncode == 0  # a directory: found there
    data = json.loads(machine.uvguard("policy", "show", "--json", cwd=repo).stdout)
    assert (data["ignored"], data["files"][-1]["trusted"]) == ([], True)
    assert (data["settings"]["clean"]["value"], data["log"]) == ("allow", str(repo / "decisions.jsonl"))
    assert data["trusted_files"] == [{"path": str(policy), "state": "trusted"}]
    lines = machine.uvguard("policy", "show", cwd=repo).stdout.splitlines()
    assert f"  project: {policy} (trusted)" in lines
    assert lines[-2:] == ["trusted project files (`uvguard policy untrust PATH` forgets one):", f"  {policy}"]
    policy.write_text(policy.read_text() + "\n")
    assert machine.uvguard("policy", "show", cwd=machine.elsewhere).stdout.splitlines()[-1] == \
        f"  {policy}  (changed since: it can only tighten until trusted again)"
    assert machine.uvguard("policy", "trust", str(policy)).returncode == 0

    untrusted = machine.uvguard("policy", "untrust", cwd=repo)
    assert (untrusted.returncode, untrusted.stdout) == (0, f"`{policy}` is no longer trusted\n")
    assert json.loads(machine.uvguard("policy", "show", "--json", cwd=repo).stdout)["settings"]["clean"]["value"] \
        == "refuse"
    assert machine.uvguard("policy", "untrust", cwd=repo).stdout == f"`{policy}` was not trusted\n"
    nothing = machine.uvguard("policy", "trust", cwd=machine.elsewhere)
    assert nothing.returncode == 2 and nothing.stderr.startswith("error: no project policy found from ")
    wrong = machine.uvguard("policy", "trust", str(machine.user_policy))
    assert wrong.returncode == 2 and "is not a project policy file" in wrong.stderr


def test_stricter_project_keys_and_roots_apply_untrusted(machine):
    repo = machine.sandbox.work / "repo"
    policy = machine.write(repo / "uvguard.toml", 'prune-ci = "refuse"\nclean-packages = "refuse"\n'
                                                  'roots = ["envs/*"]\n')
    # An environment the shim never saw (real uv run directly): only the project's `roots` name it.
    env = repo / "envs" / "a"
    machine.sandbox.uv("venv", str(env))
    machine.sandbox.uv("pip", "install", "--python", str(env), "--no-index", "--find-links", str(machine.wheelhouse),
                       "--link-mode", "symlink", "purepkg")
    before = machine.cache_listing()
    for args, key in ((("cache", "prune", "--ci"), "prune-ci"), (("cache", "clean", "purepkg"), "clean-packages")):
        result = machine.uv(*args, cwd=repo)
        assert result.returncode == 3, result.stderr
        assert "warning" not in result.stderr  # nothing was ignored
        assert f'  decided by `{key} = "refuse"` in `{policy}:{1 if key == "prune-ci" else 2}` (project policy)' \
            in result.stderr.splitlines()
        assert f"  {env} (policy)" in result.stderr.splitlines()
    assert machine.cache_listing() == before and machine.imports(env, "purepkg.hello()")
    policy.write_text('prune-ci = "refuse"\n')  # without `roots` the environment is unknown: uv runs
    assert machine.uv("cache", "clean", "purepkg", cwd=repo).returncode == 0
    assert not machine.imports(env, "purepkg.hello()")


@needs_root
def test_a_policy_planted_by_another_user_in_a_parent_directory_is_ignored(machine):
    """A world-writable sticky directory (like /tmp) where uid 65534 wrote a `uvguard.toml`."""
    venv = machine.symlink_venv("app", "purepkg")
    shared = machine.sandbox.root / "shared"
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)
    planted = machine.write(shared / "uvguard.toml", 'prune-ci = "refuse"\n')  # would tighten, if it were ours
    os.chown(planted, NOBODY, NOBODY)
    project = shared / "project"
    machine.write(project / "pyproject.toml", '[project]\nname = "project"\nversion = "1"\n')
    scratch = shared / "scratch"
    scratch.mkdir()

    # Below a project of its own: uv's project discovery stops there, and so does the policy walk.
    result = machine.uv("cache", "prune", "--ci", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr and "kept 1 entry (16.0KiB) used by 1 environment" in result.stderr
    # No project in between: the walk reaches the planted file and skips it, saying why.
    result = machine.uv("cache", "prune", "--ci", cwd=scratch)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"warning: ignoring the project policy `{planted}`: it is owned by uid {NOBODY}, neither you (uid "
        f"{os.geteuid()}) nor root, and a file another user can change is not your policy")
    assert machine.decisions()[-1]["decided_by"]["layer"] == "built-in"
    shown = machine.uvguard("policy", "show", "--json", cwd=scratch)
    assert [(i["kind"], i["file"]) for i in json.loads(shown.stdout)["ignored"]] == [("foreign", str(planted))]
    refused = machine.uvguard("policy", "trust", str(planted))
    assert refused.returncode == 2 and f"is owned by uid {NOBODY}, neither you" in refused.stderr
    # The same file of our own applies (it tightens), so the skip above was the owner's doing.
    os.chown(planted, os.geteuid(), os.getegid())
    assert machine.uv("cache", "prune", "--ci", cwd=scratch).returncode == 3
    assert machine.imports(venv, "purepkg.hello()")


@needs_root
@pytest.mark.parametrize("change, why", [
    ("owner", f"it is owned by uid {NOBODY}, not root"),
    ("mode", "group or others can write it (mode 0664)"),
])
def test_a_lock_binds_only_from_a_root_owned_file_nobody_else_can_write(machine, change, why):
    venv = machine.symlink_venv("app", "purepkg")
    system = machine.write(Path(machine.env["XDG_CONFIG_DIRS"]) / "uvguard" / "policy.toml",
                           'clean = "refuse"\nlocked = ["clean"]\n')
    system.chmod(0o644)
    repo = machine.sandbox.work / "repo"
    project = machine.write(repo / "uvguard.toml", 'clean = "allow"\n')
    assert machine.uvguard("policy", "trust", cwd=repo).returncode == 0
    before = machine.cache_listing()

    result = machine.uv("cache", "clean", cwd=repo, UVGUARD_POLICY="permissive")
    assert result.returncode == 3, result.stderr
    assert (f'  decided by `clean = "refuse"` in `{system}:1` (system policy), locked by `{system}:2` (system '
            f'policy); `clean = "allow"` in `{project}:1` (project policy) was ignored because the key is locked; '
            '`clean = "warn"` in preset `permissive` (from UVGUARD_POLICY) was ignored because the key is locked'
            ) in result.stderr.splitlines()
    assert "warning" not in result.stderr
    assert machine.cache_listing() == before and machine.imports(venv, "purepkg.hello()")

    if change == "owner":  # e.g. a file of the user's own, under a user-set XDG_CONFIG_DIRS
        os.chown(system, NOBODY, NOBODY)
    else:
        system.chmod(0o664)
    result = machine.uv("cache", "clean", cwd=repo, UVGUARD_POLICY="permissive")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"warning: ignoring `locked` in `{system}`: {why}; a lock binds only in a system policy owned by root and "
        "writable by nobody else, since a lock that a user can change protects nobody")
    assert '  decided by `clean = "warn"` in preset `permissive` (from UVGUARD_POLICY)' in result.stderr.splitlines()
    shown = json.loads(machine.uvguard("policy", "show", "--json", cwd=repo).stdout)
    assert [(i["kind"], i["key"], i["value"]) for i in shown["ignored"]] == [("lock", "locked", ["clean"])]
    assert shown["settings"]["clean"]["locked"] is False


def test_a_project_log_outside_or_through_a_committed_symlink_writes_nothing(machine):
    machine.symlink_venv("app", "purepkg")
    repo = machine.sandbox.work / "repo"
    outside = machine.sandbox.root / "outside"
    outside.mkdir()
    victim = machine.write(machine.sandbox.root / "victim.txt", "precious\n")
    (repo / "decisions.jsonl").parent.mkdir(parents=True)
    (repo / "decisions.jsonl").symlink_to(victim)  # committed in the repository

    for target in (outside / "decisions.jsonl", "decisions.jsonl", outside / "new-dir" / "decisions.jsonl"):
        policy = machine.write(repo / "uvguard.toml", f'log = "{target}"\n')
        result = machine.uv("cache", "clean", cwd=repo)  # untrusted: `log` is ignored
        assert result.returncode == 3, result.stderr
        assert result.stderr.splitlines()[0] == untrusted_warning(
            policy, f'`log = "{repo / target}"` (only a trusted file chooses where uvguard writes)')
    assert sorted(outside.iterdir()) == [] and victim.read_text() == "precious\n"

    # Trusted, the log still never goes through the symlink, nor creates a directory it does not own.
    machine.write(repo / "uvguard.toml", 'log = "decisions.jsonl"\n')
    assert machine.uvguard("policy", "trust", cwd=repo).returncode == 0
    result = machine.uv("cache", "clean", cwd=repo)
    assert result.returncode == 3, result.stderr
    assert (f"warning: could not write the decisions log `{repo / 'decisions.jsonl'}`: it is a symbolic link, "
            "and uvguard never writes through one") in result.stderr.splitlines()
    assert victim.read_text() == "precious\n"
    machine.write(repo / "uvguard.toml", f'log = "{outside / "new-dir" / "decisions.jsonl"}"\n')
    assert machine.uvguard("policy", "trust", cwd=repo).returncode == 0
    result = machine.uv("cache", "clean", cwd=repo)
    assert result.returncode == 3 and "its directory does not exist" in result.stderr
    assert sorted(outside.iterdir()) == []
    os.mkfifo(outside / "fifo")  # logs that are not regular files: refused at once, nothing blocks
    for device in (outside / "fifo", Path("/dev/null")):
        machine.write(repo / "uvguard.toml", f'log = "{device}"\n')
        assert machine.uvguard("policy", "trust", cwd=repo).returncode == 0
        result = machine.uv("cache", "clean", cwd=repo)
        assert result.returncode == 3
        assert f"warning: could not write the decisions log `{device}`: it is not a regular file" \
            in result.stderr.splitlines()
    (outside / "fifo").unlink()
    machine.write(repo / "uvguard.toml", f'log = "{outside / "decisions.jsonl"}"\n')
    assert machine.uvguard("policy", "trust", cwd=repo).returncode == 0
    assert machine.uv("cache", "clean", cwd=repo).returncode == 3
    [copy] = [json.loads(line) for line in (outside / "decisions.jsonl").read_text().splitlines()]
    assert copy == machine.decisions()[-1]


def test_as_a_plain_user_a_lock_in_your_own_file_does_not_bind_and_your_project_file_is_read():
    """The rules for a real non-root user: run `uvguard policy show` as nobody (when we are root)."""
    as_user = unprivileged_command()
    shared = Path(tempfile.mkdtemp(prefix="uvguard-trust-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        system = shared / "xdg" / "uvguard" / "policy.toml"
        system.parent.mkdir(parents=True)
        system.write_text('clean = "refuse"\nlocked = ["clean"]\n')
        project = shared / "proj" / "uvguard.toml"
        project.parent.mkdir()
        project.write_text('prune = "refuse"\n')
        uid = os.geteuid() if not as_user else NOBODY
        for path in (shared, *shared.rglob("*")):
            os.chown(path, uid, uid)
        env = {"PYTHONPATH": str(REPO), "PATH": os.defpath, "HOME": str(shared), "UVGUARD_POLICY": "permissive",
               "XDG_CONFIG_DIRS": str(shared / "xdg"), "XDG_STATE_HOME": str(shared / "state")}
        uvguard = [sys.executable, "-c", "from uvguard.cli import main; raise SystemExit(main())"]
        result = subprocess.run([*as_user, *uvguard, "policy", "show", "--json"], capture_output=True, text=True,
                                cwd=project.parent, env=env)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert [(i["kind"], i["file"], i["reason"].split(";")[0]) for i in data["ignored"]] == \
            [("lock", str(system), f"it is owned by uid {uid}, not root")]
        assert (data["settings"]["clean"]["value"], data["settings"]["clean"]["locked"]) == ("warn", False)
        assert [(f["layer"], f["file"]) for f in data["files"]][2] == ("project", str(project))
    finally:
        shutil.rmtree(shared)
