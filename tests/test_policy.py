"""The layered policy: presets, each layer, the lock, and every kind of malformed input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from uvguard import trust
from uvguard.errors import PolicyError
from uvguard.policy import ACTION_KEYS, PRESETS, load_policy
from uvguard.tomlfile import tomllib_module


class Machine:
    """Policy files at every layer of a sandbox; `/etc/uvguard` is a tmp dir passed to the loader."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.env = sandbox.env()
        self.xdg = Path(self.env["XDG_CONFIG_DIRS"]) / "uvguard" / "policy.toml"
        self.etc = sandbox.root / "etc-uvguard" / "policy.toml"
        self.user = Path(self.env["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml"
        self.project = sandbox.work / "proj"
        self.project.mkdir()

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def trust(self, path: Path) -> None:
        trust.trust(path, trust.digest(path.read_bytes()), self.env)

    def load(self, **env):
        return load_policy({**self.env, **env}, self.sandbox.work, self.project, system_file=self.etc)

    def error(self, **env) -> str:
        with pytest.raises(PolicyError) as caught:
            self.load(**env)
        return caught.value.message


@pytest.fixture
def machine(sandbox):
    return Machine(sandbox)


def values(policy):
    return {key: policy.action(key) for key in ACTION_KEYS}


def test_builtin_default(machine):
    policy = machine.load()
    assert values(policy) == {"prune": "limit", "prune-ci": "limit", "clean": "refuse",
                              "clean-packages": "limit", "uncertain": "refuse", "unknown": "warn", "gc": "limit"}
    assert {s.source.layer for s in policy.settings.values()} == {"built-in"}
    assert policy.roots == () and policy.log is None


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_set_every_action_key(machine, preset):
    policy = machine.load(UVGUARD_POLICY=preset)
    shipped = tomllib_module().loads(
        (Path(__file__).parent.parent / "policies" / f"{preset}.toml").read_text())
    assert values(policy) == shipped
    assert {policy.settings[key].source.layer for key in ACTION_KEYS} == {"env"}
    assert {policy.settings[key].source.preset for key in ACTION_KEYS} == {preset}


def test_preset_meanings(machine):
    assert set(values(machine.load(UVGUARD_POLICY="strict")).values()) == {"refuse"}
    assert set(values(machine.load(UVGUARD_POLICY="ci")).values()) == {"limit"}
    permissive = values(machine.load(UVGUARD_POLICY="permissive"))
    assert permissive.pop("gc") == "limit"  # gc never removes what is in use: nothing to warn about
    assert set(permissive.values()) == {"warn"}


def test_gc_takes_only_limit_or_refuse_and_can_be_locked(machine):
    machine.write(machine.user, 'gc = "warn"\n')
    assert 'gc` = "warn" is not an action; expected one of limit, refuse' in machine.error()
    machine.write(machine.user, 'gc = "limit"\n')
    machine.write(machine.etc, 'gc = "refuse"\nlocked = ["gc"]\n')
    setting = machine.load().settings["gc"]
    assert (setting.value, setting.locked) == ("refuse", True)
    assert [value for value, _ in setting.ignored] == ["limit"]


def test_each_layer_overrides_the_one_below(machine):
    machine.write(machine.xdg, 'prune = "warn"\nprune-ci = "warn"\nclean = "warn"\nclean-packages = "warn"\n')
    machine.write(machine.etc, 'prune-ci = "refuse"\nclean = "refuse"\nclean-packages = "refuse"\n')
    machine.write(machine.user, 'clean = "allow"\nclean-packages = "allow"\n')
    machine.write(machine.project / "uvguard.toml", 'clean-packages = "limit"\n')
    policy = machine.load()
    assert [policy.action(k) for k in ("prune", "prune-ci", "clean", "clean-packages")] == \
        ["warn", "refuse", "allow", "limit"]
    sources = {k: (policy.settings[k].source.layer, policy.settings[k].source.file)
               for k in ("prune", "prune-ci", "clean", "clean-packages", "unknown")}
    assert sources == {
        "prune": ("system", str(machine.xdg)),
        "prune-ci": ("system", str(machine.etc)),
        "clean": ("user", str(machine.user)),
        "clean-packages": ("project", str(machine.project / "uvguard.toml")),
        "unknown": ("built-in", None),
    }
    env_file = machine.write(machine.sandbox.work / "team.toml", 'clean-packages = "warn"\n')
    assert machine.load(UVGUARD_POLICY=str(env_file)).settings["clean-packages"].source.layer == "env"
    assert machine.load(UVGUARD_POLICY="team.toml").action("clean-packages") == "warn"


def test_first_xdg_config_dir_with_a_policy_wins(machine):
    first, second = machine.sandbox.root / "xdg-a", machine.sandbox.root / "xdg-b"
    machine.write(second / "uvguard" / "policy.toml", 'prune = "warn"\n')
    env = {"XDG_CONFIG_DIRS": f"relative:{first}:{second}"}
    assert machine.load(**env).settings["prune"].source.file == str(second / "uvguard" / "policy.toml")
    machine.write(first / "uvguard" / "policy.toml", 'prune = "refuse"\n')
    assert machine.load(**env).action("prune") == "refuse"


def test_user_layer_falls_back_to_home_config(machine):
    path = machine.write(machine.sandbox.home / ".config" / "uvguard" / "policy.toml", 'prune = "warn"\n')
    env = {k: v for k, v in machine.env.items() if k != "XDG_CONFIG_HOME"}
    policy = load_policy(env, machine.sandbox.work, machine.project, system_file=machine.etc)
    assert policy.settings["prune"].source.file == str(path)


def test_project_walk_finds_pyproject_tool_uvguard_in_an_ancestor(machine):
    nested = machine.project / "src" / "pkg"
    nested.mkdir(parents=True)
    machine.write(machine.project / "pyproject.toml", '[project]\nname = "p"\n\n[tool.uvguard]\nprune = "refuse"\n')
    policy = load_policy(machine.env, machine.sandbox.work, nested, system_file=machine.etc)
    setting = policy.settings["prune"]
    assert (setting.value, setting.source.file, setting.source.line) == \
        ("refuse", str(machine.project / "pyproject.toml"), 5)


def test_project_walk_stops_at_the_nearest_pyproject_as_uvs_project_discovery_does(machine):
    """A parent directory's policy is not the project's: uv's discovery stops at the nearest pyproject.toml."""
    nested = machine.project / "src" / "pkg"
    nested.mkdir(parents=True)
    machine.write(machine.project / "src" / "pyproject.toml", '[project]\nname = "x"\n')
    machine.write(machine.project / "pyproject.toml", '[project]\nname = "p"\n\n[tool.uvguard]\nprune = "refuse"\n')
    machine.write(machine.project / "uvguard.toml", 'clean-packages = "refuse"\n')
    policy = load_policy(machine.env, machine.sandbox.work, nested, system_file=machine.etc)
    assert {setting.source.layer for setting in policy.settings.values()} == {"built-in"}
    assert [f.source.layer for f in policy.files] == ["built-in"]
    machine.write(machine.project / "src" / "uvguard.toml", 'prune = "refuse"\n')
    policy = load_policy(machine.env, machine.sandbox.work, nested, system_file=machine.etc)
    assert policy.settings["prune"].source.file == str(machine.project / "src" / "uvguard.toml")


def test_uvguard_toml_wins_over_pyproject_in_the_same_directory(machine):
    machine.write(machine.project / "pyproject.toml", '[tool.uvguard]\nprune = "refuse"\n')
    machine.trust(machine.write(machine.project / "uvguard.toml", 'prune = "warn"\n'))
    assert machine.load().action("prune") == "warn"


def test_nearest_project_file_wins(machine):
    inner = machine.project / "inner"
    machine.write(machine.project / "uvguard.toml", 'prune = "warn"\n')
    machine.write(inner / "uvguard.toml", 'prune = "refuse"\n')
    policy = load_policy(machine.env, machine.sandbox.work, inner, system_file=machine.etc)
    assert policy.action("prune") == "refuse"


def test_locked_key_keeps_its_system_value(machine):
    machine.write(machine.etc, 'clean = "refuse"\nprune-ci = "limit"\nlocked = ["clean", "prune-ci"]\n')
    user = machine.write(machine.user, 'clean = "allow"\nprune = "warn"\n')
    policy = machine.load(UVGUARD_POLICY="permissive")
    clean = policy.settings["clean"]
    assert (clean.value, clean.source.file, clean.locked_by.file, clean.locked_by.line) == \
        ("refuse", str(machine.etc), str(machine.etc), 3)
    assert [(value, source.layer, source.file) for value, source in clean.ignored] == \
        [("allow", "user", str(user)), ("warn", "env", None)]
    assert policy.action("prune-ci") == "limit"
    assert policy.action("prune") == "warn"  # not locked: permissive wins
    assert policy.settings["prune"].source.layer == "env"


def test_lock_without_a_value_holds_the_builtin_default_not_the_xdg_file(machine):
    machine.write(machine.etc, 'locked = ["clean"]\n')
    machine.write(machine.xdg, 'clean = "allow"\nlocked = []\n')
    machine.write(machine.user, 'clean = "warn"\n')
    setting = machine.load().settings["clean"]
    assert (setting.value, setting.source.layer, setting.locked) == ("refuse", "built-in", True)


def test_xdg_system_file_can_lock_too(machine):
    machine.write(machine.xdg, 'prune = "refuse"\nlocked = ["prune"]\n')
    machine.write(machine.user, 'prune = "allow"\n')
    setting = machine.load(UVGUARD_POLICY="permissive").settings["prune"]
    assert (setting.value, setting.locked_by.file, len(setting.ignored)) == ("refuse", str(machine.xdg), 2)


def test_same_value_in_a_higher_layer_is_not_an_attempt(machine):
    machine.write(machine.etc, 'clean = "refuse"\nlocked = ["clean"]\n')
    machine.write(machine.user, 'clean = "refuse"\n')
    assert machine.load().settings["clean"].ignored == ()


def test_roots_add_up_and_resolve_against_their_file(machine):
    machine.write(machine.etc, 'roots = ["/app/.venv", "/opt/venvs/*"]\n')
    machine.write(machine.user, 'roots = ["~/venvs/a", "/app/.venv"]\n')
    machine.write(machine.project / "uvguard.toml", 'roots = ["envs/b"]\n')
    policy = machine.load()
    assert policy.root_paths == ("/app/.venv", "/opt/venvs/*", str(machine.sandbox.home / "venvs" / "a"),
                                 str(machine.project / "envs" / "b"))
    assert [source.layer for _, source in policy.roots] == ["system", "system", "user", "project"]


def test_log_from_the_highest_layer_and_empty_turns_it_off(machine):
    machine.write(machine.etc, 'log = "/srv/team.jsonl"\n')
    assert machine.load().log == "/srv/team.jsonl"
    machine.trust(machine.write(machine.project / "uvguard.toml", 'log = "decisions.jsonl"\n'))
    assert machine.load().log == str(machine.project / "decisions.jsonl")
    machine.write(machine.user, 'log = ""\n')
    assert machine.load().log == str(machine.project / "decisions.jsonl")
    (machine.project / "uvguard.toml").unlink()
    assert machine.load().log is None


def test_a_locked_log_cannot_be_redirected(machine):
    machine.write(machine.etc, 'log = "/srv/team.jsonl"\nlocked = ["log"]\n')
    machine.write(machine.user, 'log = ""\n')
    assert machine.load().log == "/srv/team.jsonl"


# Malformed input: every class, exact messages.

def test_bad_toml(machine):
    machine.write(machine.user, 'prune = "limit"\nclean = \n')
    assert machine.error() == f"Failed to parse `{machine.user}`: line 2, column 9: invalid value"


def test_unknown_key(machine):
    machine.write(machine.user, '\nprnue = "limit"\n')
    assert machine.error() == (
        f"Invalid policy `{machine.user}`: line 2: unknown key `prnue`; expected one of prune, prune-ci, "
        "clean, clean-packages, uncertain, unknown, gc, roots, log, locked")


def test_unknown_key_in_pyproject(machine):
    path = machine.write(machine.project / "pyproject.toml", '[tool.uvguard]\nprune = "limit"\nclear = "refuse"\n')
    assert machine.error().startswith(f"Invalid policy `{path}`: line 3: unknown key `tool.uvguard.clear`; ")


def test_bad_value(machine):
    machine.write(machine.user, 'prune-ci = "delete"\n')
    assert machine.error() == (f'Invalid policy `{machine.user}`: line 1: `prune-ci` = "delete" is not an action; '
                               "expected one of allow, warn, limit, refuse")


def test_wrong_type(machine):
    machine.write(machine.etc, "clean = true\n")
    assert machine.error() == (f"Invalid policy `{machine.etc}`: line 1: `clean` must be a string, not a boolean; "
                               "expected one of allow, warn, limit, refuse")


@pytest.mark.parametrize("text, message", [
    ('roots = "/app/.venv"\n', "`roots` must be an array of strings, not a string; expected paths or globs"),
    ("roots = [1]\n", "`roots` must be an array of strings, not an array holding an integer; expected paths or globs"),
    ("log = 0\n", '`log` must be a string, not an integer; expected a file path, or "" for none'),
    ("[prune]\nci = 1\n", "`prune` must be a string, not a table; expected one of allow, warn, limit, refuse"),
])
def test_wrong_types_of_other_keys(machine, text, message):
    machine.write(machine.user, text)
    assert machine.error().endswith(message)


def test_lock_in_a_non_system_layer(machine):
    machine.write(machine.user, 'clean = "refuse"\nlocked = ["clean"]\n')
    assert machine.error() == (
        f"Invalid policy `{machine.user}`: line 2: `locked` is honoured only in a system policy "
        "(/etc/uvguard/policy.toml or $XDG_CONFIG_DIRS/uvguard/policy.toml), not in this user policy; remove it")


def test_lock_in_the_env_layer(machine):
    path = machine.write(machine.sandbox.work / "mine.toml", 'locked = ["prune"]\n')
    assert "not in this env policy" in machine.error(UVGUARD_POLICY=str(path))


def test_locking_a_key_that_cannot_be_locked(machine):
    machine.write(machine.etc, 'locked = ["roots"]\n')
    assert machine.error() == (
        f"Invalid policy `{machine.etc}`: line 1: `locked` lists `roots`, which cannot be locked; expected keys "
        "from prune, prune-ci, clean, clean-packages, uncertain, unknown, gc, log")


def test_unknown_preset(machine):
    assert machine.error(UVGUARD_POLICY="lenient") == (
        "UVGUARD_POLICY=lenient: unknown preset; expected one of default, strict, ci, permissive, "
        "or a path to a policy file")


def test_missing_policy_file_named_by_env(machine):
    assert machine.error(UVGUARD_POLICY="./nope.toml") == (
        f"UVGUARD_POLICY=./nope.toml: no such policy file (`{machine.sandbox.work / 'nope.toml'}`)")


def test_unreadable_policy_is_an_error_not_skipped(machine):
    machine.user.mkdir(parents=True)  # a directory where the file should be
    assert machine.error() == f"Failed to read `{machine.user}`: Is a directory"


def test_broken_pyproject_on_the_walk_fails_closed(machine):
    path = machine.write(machine.project / "pyproject.toml", "[tool.uvguard\n")
    assert machine.error().startswith(f"Failed to parse `{path}`: line 1")


def test_empty_env_var_is_unset(machine):
    assert values(machine.load(UVGUARD_POLICY="")) == values(machine.load())


# The `uvguard policy` command.

UVGUARD = str(Path(sys.executable).parent / "uvguard")


def cli(machine, *args, cwd=None, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([UVGUARD, "policy", *args], env={**machine.env, **extra}, cwd=cwd or machine.project,
                          capture_output=True, text=True)


def test_show_json_gives_value_and_source_per_key(machine):
    machine.write(machine.xdg, 'clean = "refuse"\nlocked = ["clean"]\nroots = ["/app/.venv"]\n')
    user = machine.write(machine.user, 'clean = "allow"\nprune = "warn"\n')
    result = cli(machine, "show", "--json", UVGUARD_POLICY="ci")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["settings"]["prune"]["value"] == "limit" and data["settings"]["prune"]["layer"] == "env"
    clean = data["settings"]["clean"]
    assert (clean["value"], clean["file"], clean["locked"], clean["locked_by"]["line"]) == \
        ("refuse", str(machine.xdg), True, 2)
    assert [(i["value"], i["file"], i["layer"]) for i in clean["ignored"]] == \
        [("allow", str(user), "user"), ("limit", None, "env")]
    assert data["roots"] == [{"path": "/app/.venv", "layer": "system", "file": str(machine.xdg), "preset": None,
                              "line": 3}]
    assert [f["layer"] for f in data["files"]] == ["built-in", "system", "user", "env"]


def test_show_reads_the_project_layer_from_the_cwd(machine):
    machine.write(machine.project / "pyproject.toml", '[project]\nname = "p"\nversion = "1"\n\n'
                                                      '[tool.uvguard]\nclean-packages = "refuse"\n')
    nested = machine.project / "src"
    nested.mkdir()
    result = cli(machine, "show", cwd=nested)
    assert result.returncode == 0, result.stderr
    assert (f'clean-packages = "refuse"  from `{machine.project / "pyproject.toml"}:6` (project policy)'
            in result.stdout.splitlines())


def test_show_with_a_broken_policy_exits_2(machine):
    machine.write(machine.user, "prune = 1\n")
    result = cli(machine, "show")
    assert result.returncode == 2 and "must be a string, not an integer" in result.stderr


def test_validate(machine):
    good = machine.write(machine.sandbox.work / "team.toml", 'clean = "refuse"\nlocked = ["clean"]\n')
    result = cli(machine, "validate", str(good))
    assert (result.returncode, result.stdout) == (0, f"`{good}` is a valid uvguard policy (clean, locked)\n")
    assert result.stderr.startswith("note: `locked` takes effect only in a system policy")
    bad = machine.write(machine.sandbox.work / "bad.toml", 'clean = "refuse"\nprune = "nuke"\n')
    result = cli(machine, "validate", str(bad))
    assert result.returncode == 2
    assert result.stderr == (f'error: Invalid policy `{bad}`: line 2: `prune` = "nuke" is not an action; '
                             "expected one of allow, warn, limit, refuse\n")
    project = machine.write(machine.project / "uvguard.toml", 'locked = ["clean"]\n')
    assert "not in this project policy" in cli(machine, "validate", str(project)).stderr
    pyproject = machine.write(machine.project / "pyproject.toml", '[project]\nname = "p"\n')
    result = cli(machine, "validate", str(pyproject))
    assert (result.returncode, result.stderr) == (2, f"error: `{pyproject}` has no `[tool.uvguard]` table\n")
    assert cli(machine, "validate", str(machine.sandbox.work / "missing.toml")).returncode == 2


@pytest.mark.parametrize("preset", PRESETS)
def test_init_user_writes_a_preset_that_loads_back(machine, preset):
    result = cli(machine, "init", "--preset", preset)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Wrote preset `{preset}` to `{machine.user}`\n"
    assert machine.user.read_text().startswith(f"# uvguard policy, from preset `{preset}`")
    assert values(machine.load()) == values(machine.load(UVGUARD_POLICY=preset))
    assert machine.load().settings["prune"].source.file == str(machine.user)


def test_init_refuses_to_overwrite_without_force(machine):
    machine.write(machine.user, 'prune = "warn"\n')
    result = cli(machine, "init", "--preset", "strict")
    assert result.returncode == 2
    assert result.stderr == f"error: `{machine.user}` already exists\nhint: pass --force to overwrite it\n"
    assert machine.user.read_text() == 'prune = "warn"\n'
    assert cli(machine, "init", "--preset", "strict", "--force").returncode == 0
    assert machine.load().action("prune") == "refuse"


def test_init_project_and_bad_arguments(machine):
    assert cli(machine, "init", "--project", "--preset", "ci").returncode == 0
    assert machine.load().settings["clean"].source.file == str(machine.project / "uvguard.toml")
    result = cli(machine, "init", "--preset", "lax")
    assert (result.returncode, result.stderr) == \
        (2, "error: unknown preset `lax`; expected one of default, strict, ci, permissive\n")
    result = cli(machine, "init", "--user", "--project")
    assert (result.returncode, result.stderr) == (2, "error: --system, --user and --project exclude each other\n")


def test_init_system_writes_the_system_file(machine, monkeypatch):
    from typer.testing import CliRunner

    from uvguard import policy as policies
    from uvguard.cli import app

    monkeypatch.setattr(policies, "SYSTEM_POLICY_FILE", str(machine.etc))
    monkeypatch.chdir(machine.project)
    result = CliRunner().invoke(app, ["policy", "init", "--system", "--preset", "strict"])
    assert result.exit_code == 0, result.output
    assert set(values(machine.load()).values()) == {"refuse"}
    assert {s.source.file for s in machine.load().settings.values()} == {str(machine.etc)}


# Trust: an untrusted project file only tightens (see tests/test_trust.py for the same through the shim).

def test_untrusted_project_file_only_tightens_what_the_layers_below_set(machine):
    machine.write(machine.user, 'prune = "refuse"\nuncertain = "warn"\n')
    project = machine.write(machine.project / "uvguard.toml",
                            'prune = "limit"\nprune-ci = "refuse"\nclean = "refuse"\nuncertain = "limit"\n'
                            'unknown = "allow"\nroots = ["envs/a"]\nlog = ""\n')
    policy = machine.load()
    assert values(policy) == {"prune": "refuse", "prune-ci": "refuse", "clean": "refuse", "clean-packages": "limit",
                              "uncertain": "limit", "unknown": "warn", "gc": "limit"}
    assert {key for key, s in policy.settings.items() if s.source.file == str(project)} == \
        {"prune-ci", "clean", "uncertain"}  # `clean = "refuse"` as below: the same value applies too
    assert [(i.kind, i.key, i.value, i.source.line) for i in policy.ignored] == \
        [("untrusted", "prune", "limit", 1), ("untrusted", "unknown", "allow", 5), ("untrusted", "log", "", 7)]
    assert policy.ignored[0].reason == f'"limit" is weaker than "refuse" from `{machine.user}:1` (user policy)'
    assert policy.root_paths == (str(machine.project / "envs" / "a"),)
    [warning] = policy.warnings
    assert warning.startswith(f"ignoring keys of the untrusted project policy `{project}`")
    assert warning.endswith(f"if you trust the file: `uvguard policy trust {project}`")
    machine.trust(project)
    policy = machine.load()
    assert (policy.action("prune"), policy.action("unknown"), policy.ignored, policy.warnings) == \
        ("limit", "allow", (), [])


def test_an_untrusted_project_may_refuse_gc_but_not_allow_it_back(machine):
    project = machine.write(machine.project / "uvguard.toml", 'gc = "refuse"\n')
    policy = machine.load()
    assert (policy.action("gc"), policy.settings["gc"].source.file, policy.ignored) == ("refuse", str(project), ())
    machine.write(machine.user, 'gc = "refuse"\n')
    project.write_text('gc = "limit"\n')
    policy = machine.load()
    assert (policy.action("gc"), policy.settings["gc"].source.file) == ("refuse", str(machine.user))
    assert [(i.kind, i.key, i.value) for i in policy.ignored] == [("untrusted", "gc", "limit")]
    assert policy.ignored[0].reason == f'"limit" is weaker than "refuse" from `{machine.user}:1` (user policy)'


def test_user_and_env_layers_stay_trusted_and_env_beats_an_untrusted_project(machine):
    machine.write(machine.user, 'clean = "allow"\n')
    machine.write(machine.project / "uvguard.toml", 'clean = "limit"\n')
    env_file = machine.write(machine.sandbox.work / "mine.toml", 'prune = "allow"\nlog = "mine.jsonl"\n')
    policy = machine.load(UVGUARD_POLICY=str(env_file))
    assert (policy.action("clean"), policy.settings["clean"].source.layer) == ("limit", "project")
    assert (policy.action("prune"), policy.log, policy.ignored) == \
        ("allow", str(machine.sandbox.work / "mine.jsonl"), ())
    assert machine.load(UVGUARD_POLICY="permissive").action("clean") == "warn"


def test_trust_is_for_one_real_path_and_one_content(machine):
    project = machine.write(machine.project / "uvguard.toml", 'clean = "warn"\n')
    machine.trust(project)
    assert machine.load().action("clean") == "warn"
    link = machine.sandbox.work / "link"
    link.symlink_to(machine.project)
    assert load_policy(machine.env, machine.sandbox.work, link, system_file=machine.etc).action("clean") == "warn"
    copy = machine.write(machine.sandbox.work / "copy" / "uvguard.toml", 'clean = "warn"\n')
    assert load_policy(machine.env, machine.sandbox.work, copy.parent, system_file=machine.etc).action("clean") == \
        "refuse"
    project.write_text('clean = "warn"\n\n')
    assert machine.load().action("clean") == "refuse"
    trust.store_path(machine.env).write_text("{garbled")
    project.write_text('clean = "warn"\n')
    assert machine.load().action("clean") == "refuse"  # a store that cannot be read trusts nothing


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_project_file_is_read_only_when_the_user_or_root_owns_it(machine):
    project = machine.write(machine.project / "uvguard.toml", 'prune = "refuse"\n')
    os.chown(project, 65534, 65534)
    assert machine.load().action("prune") == "limit"  # running as root: uid 65534 is another user
    assert load_policy(machine.env, machine.sandbox.work, machine.project, system_file=machine.etc,
                       uid=65534).action("prune") == "refuse"  # the user's own file
    policy = load_policy(machine.env, machine.sandbox.work, machine.project, system_file=machine.etc, uid=1000)
    assert policy.action("prune") == "limit"
    assert [(i.kind, i.source.file) for i in policy.ignored] == [("foreign", str(project))]
    os.chown(project, 0, 0)
    assert load_policy(machine.env, machine.sandbox.work, machine.project, system_file=machine.etc,
                       uid=1000).action("prune") == "refuse"  # root's file


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_lock_in_a_file_users_can_change_does_not_bind(machine):
    machine.write(machine.etc, 'clean = "refuse"\nlocked = ["clean"]\n').chmod(0o644)
    machine.write(machine.user, 'clean = "warn"\n')
    assert machine.load().settings["clean"].locked
    os.chown(machine.etc, 1000, 1000)
    policy = machine.load()
    assert (policy.action("clean"), policy.settings["clean"].locked) == ("warn", False)
    assert [(i.kind, i.reason.split(";")[0]) for i in policy.ignored] == [("lock", "it is owned by uid 1000, not root")]
    os.chown(machine.etc, 0, 0)
    machine.etc.chmod(0o646)
    assert machine.load().ignored[0].reason.startswith("group or others can write it (mode 0646)")
