"""install.sh end to end: a real install into an empty HOME, real uv behind the shim."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import uv_releases
from tests.installer import (
    ENV_MARKER,
    default_prefix,
    install_env,
    interactive,
    is_shim,
    real_uv_dir,
    receipt,
    run_install,
    uv_wheel,
)
from uvguard import __version__
from uvguard.installation import RECEIPT_HEADER, recorded_real_uv

REAL_VERSION = f"uv {uv_releases.LATEST}"


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under `root` with its content (files) or link target (symlinks)."""
    tree: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            key = str(path.relative_to(root))
            if path.is_symlink():
                tree[key] = "-> " + os.readlink(path)
            elif path.is_file():
                tree[key] = path.read_bytes()
            else:
                tree[key] = "dir"
    return tree


def outside_venv(tree: dict) -> dict:
    return {k: v for k, v in tree.items() if "/venv/" not in k and not k.endswith("/venv")}


def test_install_twice_then_uninstall_leaves_no_trace(sandbox, install_wheelhouse):
    home = sandbox.home
    (home / ".bashrc").write_text("alias ll='ls -l'\n# no newline at the end")
    (home / ".profile").write_text("umask 022\n")
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)])
    before = snapshot(home)

    first = run_install(env)
    after_first = snapshot(home)
    second = run_install(env)
    after_second = snapshot(home)

    assert "Added a line sourcing" in first.stdout
    assert "already source" in second.stdout
    assert outside_venv(after_second) == outside_venv(after_first)
    for rc in (".bashrc", ".profile"):
        text = (home / rc).read_text()
        assert text.count(ENV_MARKER) == 1, rc
    assert (home / ".bashrc").read_text().startswith("alias ll='ls -l'\n# no newline at the end\n. ")
    prefix = default_prefix(env)
    assert os.readlink(home / ".local/bin/uv") == str(prefix / "bin/uv")
    assert os.readlink(home / ".local/bin/uvguard") == str(prefix / "bin/uvguard")

    gone = run_install(env, "--uninstall")
    assert "Uninstalled uvguard" in gone.stdout
    assert snapshot(home) == before
    again = run_install(env, "--uninstall")
    assert "Nothing to uninstall" in again.stdout


def test_rc_edits_make_interactive_shells_resolve_uv_to_the_shim(shared_install):
    env = shared_install.env
    shim = shared_install.prefix / "bin" / "uv"
    assert is_shim(shim)

    bash = interactive("bash", "type -P uv; uv --version", env)
    lines = bash.stdout.splitlines()
    assert lines[0] == str(shim), bash.stderr
    assert lines[1].startswith(REAL_VERSION)
    login = interactive("bash", "command -v uv", env, login=True)
    assert login.stdout.strip() == str(shim), login.stderr
    dash_login = subprocess.run(["sh", "-c", ". ~/.profile; command -v uv"], env=env, capture_output=True, text=True)
    assert dash_login.stdout.strip() == str(shim)
    if shutil.which("zsh"):
        zsh = interactive("zsh", "whence -p uv", env)
        assert zsh.stdout.strip() == str(shim), zsh.stderr
    if shutil.which("fish"):
        fish = subprocess.run(["fish", "-i", "-c", "command -s uv"], env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        assert fish.stdout.strip() == str(shim), fish.stderr


def test_without_the_rc_edits_uv_is_the_real_one(shared_install):
    """The control for the test above: the same shell with no rc files finds the real uv."""
    bash = subprocess.run(["bash", "--norc", "--noprofile", "-i", "-c", "type -P uv"], env=shared_install.env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert bash.stdout.strip() == str(shared_install.real_uv)


def test_installed_uvguard_runs_and_the_shim_records_the_real_uv(shared_install):
    env, prefix = shared_install.env, shared_install.prefix
    home = shared_install.sandbox.home
    version = subprocess.run([str(home / ".local/bin/uvguard"), "--version"], env=env,
                             capture_output=True, text=True)
    assert version.stdout.strip() == f"uvguard {__version__}"
    assert ("real_uv", str(shared_install.real_uv)) in receipt(prefix)
    assert f"Real uv: {shared_install.real_uv} (found on PATH; {REAL_VERSION}" in shared_install.output
    # The shim runs the recorded uv even where PATH has none.
    bare = shared_install.sandbox.env(PATH="/usr/bin:/bin")
    shim = subprocess.run([str(prefix / "bin/uv"), "--version"], env=bare, capture_output=True, text=True)
    assert shim.returncode == 0, shim.stderr
    assert shim.stdout.startswith(REAL_VERSION)


def test_a_shim_on_path_is_not_taken_for_the_real_uv(sandbox, install_wheelhouse, shared_install):
    real_dir = shared_install.real_uv.parent
    env = install_env(sandbox, install_wheelhouse, [shared_install.prefix / "bin", real_dir])
    second = sandbox.root / "second"
    run_install(env, "--prefix", str(second), "--no-modify-path")
    assert ("real_uv", str(real_dir / "uv")) in receipt(second)


def test_no_modify_path_and_a_user_policy(sandbox, install_wheelhouse):
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)])
    before = snapshot(sandbox.home)
    result = run_install(env, "--no-modify-path", "--policy", "strict")
    assert not (sandbox.home / ".bashrc").exists()
    assert not (sandbox.home / ".profile").exists()
    assert "shell-init" in result.stdout
    policy_file = Path(env["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml"
    assert f"Wrote the 'strict' policy to {policy_file}" in result.stdout
    show = subprocess.run([str(sandbox.home / ".local/bin/uvguard"), "policy", "show", "--json"], env=env,
                          capture_output=True, text=True, cwd=sandbox.work)
    assert str(policy_file) in show.stdout, show.stderr

    again = run_install(env, "--no-modify-path", "--policy", "strict")
    assert "already written by an earlier install" in again.stdout
    run_install(env, "--uninstall")
    assert snapshot(sandbox.home) == before


def test_uninstall_keeps_a_policy_file_the_user_changed(sandbox, install_wheelhouse):
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)])
    run_install(env, "--no-modify-path", "--policy", "default")
    policy_file = Path(env["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml"
    policy_file.write_text(policy_file.read_text() + 'log = "/tmp/x.jsonl"\n')
    result = run_install(env, "--uninstall")
    assert f"{policy_file} changed since install; left in place" in result.stderr
    assert policy_file.read_text().endswith('log = "/tmp/x.jsonl"\n')
    assert not default_prefix(env).exists()


def test_takeover_guards_the_path_and_uninstall_restores_the_binary(sandbox, install_wheelhouse):
    image_bin = real_uv_dir(sandbox.root, copy=True)  # stands for /bin in a Docker image
    target = image_bin / "uv"
    original = target.stat()
    env = install_env(sandbox, install_wheelhouse, [image_bin])

    result = run_install(env, "--takeover", str(target), "--no-modify-path")
    assert f"Moved the real uv {target} aside" in result.stdout
    assert is_shim(target)
    aside = image_bin / "uv.uvguard-real"
    assert aside.stat().st_ino == original.st_ino
    assert ("real_uv", str(aside)) in receipt(default_prefix(env))
    run = subprocess.run(["uv", "--version"], env=env, capture_output=True, text=True, cwd=sandbox.work)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(REAL_VERSION)
    cache_dir = subprocess.run([str(target), "cache", "dir"], env=env, capture_output=True, text=True)
    assert cache_dir.stdout.strip() == str(sandbox.cache)

    again = run_install(env, "--takeover", str(target), "--no-modify-path")
    assert "Took over" in again.stdout and is_shim(target)

    run_install(env, "--uninstall")
    assert not aside.exists()
    assert target.stat().st_ino == original.st_ino
    assert not is_shim(target)
    assert subprocess.run([str(target), "--version"], capture_output=True, text=True).stdout.startswith(REAL_VERSION)


def test_takeover_refuses_what_is_not_uv(sandbox, install_wheelhouse):
    impostor = sandbox.root / "bin" / "uv"
    impostor.parent.mkdir()
    impostor.write_text("#!/bin/sh\necho hello\n")
    impostor.chmod(0o755)
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)])
    before = snapshot(sandbox.home)
    result = run_install(env, "--takeover", str(impostor), "--no-modify-path", check=False)
    assert result.returncode == 2
    assert "does not print a uv version" in result.stderr
    assert impostor.read_text() == "#!/bin/sh\necho hello\n"
    assert snapshot(sandbox.home) == before  # a refused first install leaves nothing behind


def test_never_overwrites_a_uv_that_is_not_ours(sandbox, install_wheelhouse):
    real_dir = real_uv_dir(sandbox.root)
    env = install_env(sandbox, install_wheelhouse, [real_dir])
    prefix = sandbox.root / "prefix"
    (prefix / "bin").mkdir(parents=True)
    foreign = prefix / "bin" / "uv"
    foreign.symlink_to(real_dir / "uv")
    refused = run_install(env, "--prefix", str(prefix), check=False)
    assert refused.returncode != 0
    assert "not a uvguard shim; not overwriting it" in refused.stderr
    assert os.readlink(foreign) == str(real_dir / "uv")

    # In the shared bin dir a foreign uv stays; the env file still puts the shim first.
    local_bin = sandbox.home / ".local" / "bin"
    (local_bin / "uv").symlink_to(real_dir / "uv")
    result = run_install(env)
    assert f"{local_bin / 'uv'} exists and is not uvguard's; left alone" in result.stderr
    assert os.readlink(local_bin / "uv") == str(real_dir / "uv")
    bash = interactive("bash", "type -P uv", env)
    assert bash.stdout.strip() == str(default_prefix(env) / "bin" / "uv")
    run_install(env, "--uninstall")
    assert os.readlink(local_bin / "uv") == str(real_dir / "uv")


@pytest.mark.skipif(uv_wheel() is None,
                    reason="no cached uv wheel; ./scripts/test fetches it into .test-cache/uv-wheels")
def test_without_uv_on_path_installs_uv_from_pypi_into_the_venv(sandbox, install_wheelhouse, tmp_path):
    wheelhouse = tmp_path / "with-uv"
    wheelhouse.mkdir()
    for wheel in [*install_wheelhouse.glob("*.whl"), uv_wheel()]:
        (wheelhouse / wheel.name).symlink_to(wheel)
    env = install_env(sandbox, wheelhouse)
    assert shutil.which("uv", path=env["PATH"]) is None

    result = run_install(env, "--uv-version", uv_releases.LATEST)
    prefix = default_prefix(env)
    venv_uv = prefix / "venv" / "bin" / "uv"
    assert f"installing uv {uv_releases.LATEST} from PyPI" in result.stdout
    assert ("real_uv", str(venv_uv)) in receipt(prefix)
    shim = subprocess.run([str(prefix / "bin/uv"), "--version"], env=env, capture_output=True, text=True)
    assert shim.stdout.startswith(REAL_VERSION), shim.stderr
    assert shutil.which("uv", path=env["PATH"]) is None  # the venv's uv is not on PATH as `uv`
    # The uvguard command finds that uv through the receipt, as the shim does.
    check = subprocess.run([str(sandbox.home / ".local/bin/uvguard"), "check", "--json", "cache", "prune", "--ci"],
                           env=env, capture_output=True, text=True, cwd=sandbox.work)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["operation"] == "prune-ci"


def test_recorded_real_uv_is_read_only_from_an_install_receipt(tmp_path, sandbox):
    env = sandbox.env()
    venv = tmp_path / "venv"
    venv.mkdir()
    assert recorded_real_uv(env, venv) is None
    (tmp_path / "receipt").write_text("real_uv=/somewhere/uv\n")  # no header: not ours
    assert recorded_real_uv(env, venv) is None
    (tmp_path / "receipt").write_text(f"{RECEIPT_HEADER}\nreal_uv=/old/uv\nlink=/x\nreal_uv=/new/uv\n")
    assert recorded_real_uv(env, venv) == "/new/uv"
    (tmp_path / ".venv").mkdir()
    assert recorded_real_uv(env, tmp_path / ".venv") is None  # a project's .venv is no install.sh virtualenv
    # A uvguard outside install.sh's layout (a tool install) reads the default prefix `uvguard setup` wrote.
    default = sandbox.home / ".local" / "share" / "uvguard"
    default.mkdir(parents=True)
    (default / "receipt").write_text(f"{RECEIPT_HEADER}\nreal_uv=/setup/uv\n")
    assert recorded_real_uv(env, tmp_path / ".venv") == "/setup/uv"


def test_a_receipt_that_is_not_ours_stops_the_installer(sandbox, install_wheelhouse):
    prefix = sandbox.root / "prefix"
    prefix.mkdir()
    (prefix / "receipt").write_text("link=/etc/passwd\n")
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)])
    for args in ((), ("--uninstall",)):
        result = run_install(env, "--prefix", str(prefix), *args, check=False)
        assert result.returncode == 2
        assert "is not a uvguard install receipt" in result.stderr
    assert sorted(p.name for p in prefix.iterdir()) == ["receipt"]


def test_usage_errors_exit_2(sandbox, install_wheelhouse):
    env = install_env(sandbox, install_wheelhouse)
    for args, message in ((["--system"], "--system goes with --policy"),
                          (["--bogus"], "unexpected argument '--bogus'"),
                          (["--prefix"], "--prefix needs a value"),
                          (["--uninstall", "--takeover", "/x"], "--uninstall takes no other option")):
        result = run_install(env, *args, check=False)
        assert result.returncode == 2, args
        assert message in result.stderr
    assert not default_prefix(env).exists()
