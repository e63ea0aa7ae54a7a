"""`uvguard setup` from a tool install, and what install.sh now leaves to it.

A tool install here is what `uv tool install` does: the real uv 0.13.9
installs uvguard (from the session's offline wheelhouse) into its own
virtualenv under UV_TOOL_DIR and links the `uvguard` command into
UV_TOOL_BIN_DIR. Then `uvguard setup` must give a working guard; upgrading
the tool (a reinstall) must keep it working.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import uv_releases
from tests.installer import default_prefix, install_env, is_shim, real_uv_dir, run_install, uv_wheel
from tests.test_install import snapshot
from uvguard import shellinit

REAL_VERSION = f"uv {uv_releases.LATEST}"


def run(args, env, cwd, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def tool_install(sandbox, wheelhouse: Path, env: dict, *extra: str) -> Path:
    """`uv tool install uvguard` with the real uv, offline; the tool's `uvguard` command."""
    run([uv_releases.path(uv_releases.LATEST), "tool", "install", "--no-index", "--find-links", wheelhouse,
         *extra, "uvguard"], env, sandbox.work)
    return Path(env["UV_TOOL_BIN_DIR"]) / "uvguard"


def imports_speedpkg(venv: Path) -> subprocess.CompletedProcess:
    """The compiled submodule: a package whose files are gone still imports as a namespace."""
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import speedpkg._speed, purepkg; purepkg.hello()"],
                          capture_output=True, text=True)


def symlinked_env(uv: Path, env: dict, cwd: Path, wheelhouse: Path) -> Path:
    """A venv with a compiled and a pure package linking into the cache, made through `uv`."""
    run([uv, "venv", "-q", ".venv"], env, cwd)
    run([uv, "pip", "install", "-q", "--link-mode", "symlink", "--no-index", "--find-links", wheelhouse,
         "--python", cwd / ".venv", "purepkg", "speedpkg"], env, cwd)
    assert imports_speedpkg(cwd / ".venv").returncode == 0
    return cwd / ".venv"


def test_tool_install_then_setup_prefix_guards_a_prune_and_survives_an_upgrade(
        sandbox, install_wheelhouse, wheelhouse):
    tools = sandbox.root / "tools"
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)],
                      UV_TOOL_DIR=str(tools / "envs"), UV_TOOL_BIN_DIR=str(tools / "bin"))
    uvguard = tool_install(sandbox, install_wheelhouse, env)
    home_before = snapshot(sandbox.home)
    prefix = sandbox.root / "guard"

    result = run([uvguard, "setup", "--prefix", prefix], env, sandbox.work)
    assert is_shim(prefix / "bin" / "uv") and is_shim(prefix / "bin" / "uvx")
    assert os.path.samefile(prefix / "bin" / "uvguard", uvguard)
    assert "PATH left unchanged (--prefix)" in result.stdout
    assert snapshot(sandbox.home) == home_before  # --prefix: nothing outside it, no rc lines
    # Started as PREFIX/bin/uvguard, the tool's uvguard knows its installation.
    init = run([prefix / "bin" / "uvguard", "shell-init", "bash"], env, sandbox.work)
    assert init.stdout == shellinit.render("bash", prefix / "bin")

    guarded = dict(env, PATH=f"{prefix / 'bin'}{os.pathsep}{env['PATH']}")
    shim = prefix / "bin" / "uv"
    venv = symlinked_env(shim, guarded, sandbox.work, wheelhouse)
    pruned = run([shim, "cache", "prune", "--ci"], guarded, sandbox.work)
    assert "kept" in pruned.stderr, pruned.stderr
    assert imports_speedpkg(venv).returncode == 0, imports_speedpkg(venv).stderr

    # An upgrade reinstalls the tool's environment; the shim written before still guards.
    tool_install(sandbox, install_wheelhouse, env, "--reinstall")
    assert run([shim, "--version"], guarded, sandbox.work).stdout.startswith(REAL_VERSION)
    cleaned = run([shim, "cache", "clean", "speedpkg"], guarded, sandbox.work)
    assert imports_speedpkg(venv).returncode == 0, cleaned.stderr
    doctor = run([prefix / "bin" / "uvguard", "doctor"], guarded, sandbox.work, check=False)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr

    # The control: the real uv's clean breaks the environment.
    run([uv_releases.path(uv_releases.LATEST), "cache", "clean"], env, sandbox.work)
    assert imports_speedpkg(venv).returncode != 0


def test_tool_install_then_default_setup_links_next_to_the_tools_uvguard(sandbox, install_wheelhouse):
    tools = sandbox.root / "tools"
    local_bin = sandbox.home / ".local" / "bin"
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)],
                      UV_TOOL_DIR=str(tools / "envs"), UV_TOOL_BIN_DIR=str(local_bin))
    uvguard = tool_install(sandbox, install_wheelhouse, env)
    tool_link = os.readlink(uvguard)

    first = run([uvguard, "setup"], env, sandbox.work)
    run([uvguard, "setup"], env, sandbox.work)
    prefix = default_prefix(env)
    assert os.readlink(uvguard) == tool_link  # uv tool's own link is left as it is, silently
    assert "not uvguard's" not in first.stderr
    assert os.readlink(local_bin / "uv") == str(prefix / "bin" / "uv")
    shell = subprocess.run(["bash", "-i", "-c", "type -P uv; uvguard shell-init bash"], env=env, cwd=sandbox.home,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    lines = shell.stdout.splitlines()
    assert lines[0] == str(prefix / "bin" / "uv"), shell.stderr
    assert str(prefix / "bin") in lines[-2]  # shell-init finds the shim setup wrote

    run([uvguard, "setup", "--uninstall"], env, sandbox.work)
    assert not prefix.exists() and not (local_bin / "uv").exists()
    assert os.readlink(uvguard) == tool_link
    assert ". " not in (sandbox.home / ".bashrc").read_text() if (sandbox.home / ".bashrc").exists() else True


def test_setup_with_no_real_uv_says_how_to_get_one(sandbox, install_wheelhouse):
    tools = sandbox.root / "tools"
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)],
                      UV_TOOL_DIR=str(tools / "envs"), UV_TOOL_BIN_DIR=str(tools / "bin"))
    uvguard = tool_install(sandbox, install_wheelhouse, env)
    bare = dict(env, PATH=os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if "real-uv-bin" not in p))
    result = run([uvguard, "setup", "--prefix", sandbox.root / "guard"], bare, sandbox.work, check=False)
    assert result.returncode == 127
    assert "error: no real uv found" in result.stderr and "Traceback" not in result.stderr
    assert not (sandbox.root / "guard" / "bin" / "uv").exists()


@pytest.mark.skipif(uv_wheel() is None,
                    reason="no cached uv wheel; ./scripts/test fetches it into .test-cache/uv-wheels")
def test_install_sh_without_uv_on_path_exposes_uvx(sandbox, install_wheelhouse, tmp_path):
    wheelhouse = tmp_path / "with-uv"
    wheelhouse.mkdir()
    for wheel in [*install_wheelhouse.glob("*.whl"), uv_wheel()]:
        (wheelhouse / wheel.name).symlink_to(wheel)
    env = install_env(sandbox, wheelhouse)
    assert shutil.which("uvx", path=env["PATH"]) is None
    run_install(env)
    prefix = default_prefix(env)
    for uvx in (prefix / "bin" / "uvx", sandbox.home / ".local" / "bin" / "uvx"):
        version = run([uvx, "--version"], env, sandbox.work)
        assert version.stdout.startswith(f"uvx {uv_releases.LATEST}"), version.stderr
    login = subprocess.run(["bash", "-i", "-c", "uvx --version"], env=env, cwd=sandbox.home,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert login.stdout.startswith(f"uvx {uv_releases.LATEST}"), login.stderr


def test_uvx_without_a_real_uvx_runs_uv_tool_uvx_through_the_shim(sandbox, install_wheelhouse):
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)])  # a uv with no uvx beside it
    prefix = sandbox.root / "guard"
    run_install(env, "--prefix", str(prefix))
    version = run([prefix / "bin" / "uvx", "--version"], env, sandbox.work)
    assert version.stdout.startswith(f"uvx {uv_releases.LATEST}")


def test_prefix_install_edits_nothing_outside_the_prefix(sandbox, install_wheelhouse):
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)])
    (sandbox.home / ".bashrc").write_text("# mine\n")
    before = snapshot(sandbox.home)
    for prefix in (sandbox.root / "one", sandbox.root / "two"):
        result = run_install(env, "--prefix", str(prefix))
        assert "PATH left unchanged (--prefix)" in result.stdout
        assert "Added a line" not in result.stdout
    assert snapshot(sandbox.home) == before
    run_install(env, "--prefix", str(sandbox.root / "one"), "--uninstall")
    assert not (sandbox.root / "one").exists()


def test_takeover_and_policy_messages(sandbox, install_wheelhouse):
    image_bin = real_uv_dir(sandbox.root, copy=True)
    env = install_env(sandbox, install_wheelhouse, [image_bin])
    result = run_install(env, "--takeover", str(image_bin / "uv"), "--no-modify-path", "--policy", "ci")
    assert "PATH left unchanged" not in result.stdout
    assert f"Every caller of {image_bin / 'uv'} is guarded" in result.stdout
    output = result.stdout + result.stderr
    assert output.count("policy.toml") == 1, output  # one line about the policy file, in one style
    assert "Wrote the 'ci' policy to " in result.stdout
