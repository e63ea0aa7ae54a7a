"""uvguard's own paths follow one rule: an XDG variable that is not an absolute path is ignored (the XDG spec),
and the default under HOME applies. One check per place that builds such a path, the sh front included."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from uvguard import decisionlog, installation, paths, policy, realuv, registry, roots, setup, shellinit, trust
from uvguard.installation import Receipt

HOME = "/home/someone"
# (what builds the path, the variable it reads, the default directory under HOME, the path below that directory)
CALLERS = [
    (lambda env: registry.registry_path(env), "XDG_STATE_HOME", ".local/state", "uvguard/registry"),
    (lambda env: decisionlog.user_log_path(env), "XDG_STATE_HOME", ".local/state", "uvguard/decisions.jsonl"),
    (lambda env: trust.store_path(env), "XDG_STATE_HOME", ".local/state", "uvguard/trusted.json"),
    (lambda env: roots.manual_roots_path(env), "XDG_STATE_HOME", ".local/state", "uvguard/roots"),
    (lambda env: realuv.verdict_path("/usr/bin/uv", env), "XDG_STATE_HOME", ".local/state",
     "uvguard/uv-takes-lock/usr/bin/uv"),
    (lambda env: policy.user_policy_path(env), "XDG_CONFIG_HOME", ".config", "uvguard/policy.toml"),
    (lambda env: shellinit.rc_file("fish", env), "XDG_CONFIG_HOME", ".config", "fish/config.fish"),
    (lambda env: shellinit.rc_file("powershell", env), "XDG_CONFIG_HOME", ".config",
     "powershell/Microsoft.PowerShell_profile.ps1"),
    (lambda env: installation.default_prefix(env), "XDG_DATA_HOME", ".local/share", "uvguard"),
    (lambda env: installation.default_link_dir(env), "XDG_BIN_HOME", ".local/bin", ""),
]
IDS = ["registry", "decisions-log", "trust-store", "manual-roots", "uv-takes-lock", "user-policy", "fish-rc",
       "powershell-rc", "install-prefix", "link-dir"]


@pytest.mark.parametrize("build, variable, default, below", CALLERS, ids=IDS)
@pytest.mark.parametrize("value", ["relative/dir", "./here", "", None])
def test_an_xdg_value_that_is_not_absolute_is_ignored(build, variable, default, below, value):
    env = {"HOME": HOME} if value is None else {"HOME": HOME, variable: value}
    assert os.path.normpath(build(env)) == os.path.normpath(os.path.join(HOME, default, below))


@pytest.mark.parametrize("build, variable, default, below", CALLERS, ids=IDS)
def test_an_absolute_xdg_value_is_used(build, variable, default, below):
    env = {"HOME": HOME, variable: "/elsewhere/dir"}
    assert os.path.normpath(build(env)) == os.path.normpath(os.path.join("/elsewhere/dir", below))


def test_relative_xdg_config_dirs_entries_are_ignored():
    assert paths.config_dirs({"XDG_CONFIG_DIRS": f"rel{os.pathsep}/etc/a{os.pathsep}{os.pathsep}./b"}) == ["/etc/a"]
    assert paths.config_dirs({}) == ["/etc/xdg"]


def test_a_system_policy_in_a_relative_xdg_config_dir_is_not_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel" / "uvguard").mkdir(parents=True)
    (tmp_path / "rel" / "uvguard" / "policy.toml").write_text('clean = "allow"\n')
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_DIRS": "rel"}
    loaded = policy.load_policy(env, tmp_path, system_file=tmp_path / "no-system-file")
    assert [f.source.file for f in loaded.files if f.source.layer == "system"] == []
    absolute = dict(env, XDG_CONFIG_DIRS=str(tmp_path / "rel"))
    loaded = policy.load_policy(absolute, tmp_path, system_file=tmp_path / "no-system-file")
    assert [f.source.layer for f in loaded.files] == ["built-in", "system"]


def test_setup_puts_the_fish_line_under_home_when_xdg_config_home_is_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    (home / ".config" / "fish").mkdir(parents=True)
    (tmp_path / "rel" / "fish").mkdir(parents=True)
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": "rel", "PATH": ""}
    setup.modify_rc_files(setup.Layout(prefix, None), env, Receipt(prefix / "receipt"), say=lambda text: None)
    assert (home / ".config" / "fish" / "conf.d" / "uvguard.env.fish").is_file()
    assert not (tmp_path / "rel" / "fish" / "conf.d").exists()


def test_the_sh_front_records_under_home_when_xdg_state_home_is_relative(sandbox, shim):
    """The sh front writes the registry itself: it must find it where the Python side reads it."""
    env = sandbox.env(XDG_STATE_HOME="rel-state")
    subprocess.run([shim, "pip", "uninstall", "--python", "/nonexistent/python", "x"], env=env, cwd=sandbox.work,
                   capture_output=True, timeout=60)
    assert not (sandbox.work / "rel-state").exists()
    registry_file = Path(sandbox.home, ".local", "state", "uvguard", "registry")
    assert registry_file == Path(registry.registry_path(env))
    assert registry.parse_record(registry_file.read_text(encoding="utf-8")).args[:2] == ("pip", "uninstall")
