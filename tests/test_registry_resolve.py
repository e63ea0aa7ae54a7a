"""Registry records resolved at read time to the environment the command wrote to.

The cross-check runs real uv 0.13.9 through the rendered shim and asserts that
the resolved path is exactly the environment uv created.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from uvguard import registry
from uvguard.roots import read_command_line, record_targets, resolve_record

PROJECT = '[project]\nname = "{name}"\nversion = "0.1"\nrequires-python = ">=3.8"\ndependencies = []\n'


def record(cwd, *args, **env) -> registry.Record:
    """A record exactly as the shim writes and the reader parses it."""
    line = registry.format_record(str(cwd), env, args)
    return registry.parse_record(line)


def venv_at(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return path


def write_project(directory: Path, name: str, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(PROJECT.format(name=name) + extra)
    return directory


@pytest.mark.parametrize("args, expected", [
    (("pip", "install", "-p", "envs/a", "x"), "envs/a"),
    (("pip", "install", "-penvs/a", "x"), "envs/a"),
    (("pip", "install", "--python=envs/a/bin/python", "x"), "envs/a"),
    (("--directory", "envs", "pip", "install", "--python", "a", "x"), "envs/a"),
    (("pip", "install", "--target", "tgt", "x"), "tgt"),
    (("pip", "install", "-t", "tgt", "--python", "envs/a", "x"), "tgt"),
    (("pip", "sync", "--prefix", "pfx", "r.txt"), "pfx"),
    (("pip", "uninstall", "x"), "sub/.venv"),
])
def test_pip_commands(sandbox, args, expected):
    venv_at(sandbox.work / "envs" / "a")
    (sandbox.work / "envs" / "a" / "bin").mkdir()
    venv_at(sandbox.work / "sub" / ".venv")
    (sandbox.work / "sub" / "deeper").mkdir()
    cwd = sandbox.work / "sub" / "deeper" if expected == "sub/.venv" else sandbox.work
    assert resolve_record(record(cwd, *args)) == (str(sandbox.work / expected),)


def test_pip_prefers_virtual_env_then_conda_then_the_nearest_dot_venv(sandbox):
    venv_at(sandbox.work / ".venv")
    args = ("pip", "install", "x")
    assert resolve_record(record(sandbox.work, *args, VIRTUAL_ENV="/opt/v", CONDA_PREFIX="/opt/c")) == ("/opt/v",)
    assert resolve_record(record(sandbox.work, *args, CONDA_PREFIX="/opt/c")) == ("/opt/c",)
    assert resolve_record(record(sandbox.work, *args)) == (str(sandbox.work / ".venv"),)
    inside = venv_at(sandbox.work / "other")
    (inside / "lib").mkdir()
    assert resolve_record(record(inside / "lib", *args)) == (str(inside),)
    # A version request, not a path: uv still looks at the active and nearby environments.
    assert (resolve_record(record(sandbox.work, "pip", "install", "--python", "3.12", "x"))
            == (str(sandbox.work / ".venv"),))


def test_project_commands_use_the_workspace_root_environment(sandbox):
    root = write_project(sandbox.work / "ws", "ws", '[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    member = write_project(root / "packages" / "m", "m")
    (member / "src").mkdir()
    nested = write_project(root / "examples" / "ex", "ex")
    for args in (("sync",), ("run", "python", "-c", "1"), ("add", "x"), ("remove", "x"),
                 ("--quiet", "sync", "--frozen")):
        assert resolve_record(record(member / "src", *args)) == (str(root / ".venv"),)
    assert resolve_record(record(nested, "sync")) == (str(nested / ".venv"),)
    assert resolve_record(record(sandbox.work, "sync", "--project", "ws/packages/m")) == (str(root / ".venv"),)
    assert resolve_record(record(sandbox.work, "--directory", "ws/examples/ex", "sync")) == (str(nested / ".venv"),)
    assert resolve_record(record(member, "sync", UV_PROJECT_ENVIRONMENT="env")) == (str(root / "env"),)
    assert resolve_record(record(member, "sync", UV_PROJECT_ENVIRONMENT="/abs/env")) == ("/abs/env",)
    assert resolve_record(record(member, "sync", "--active", VIRTUAL_ENV="/act")) == ("/act",)
    assert resolve_record(record(member, "sync", VIRTUAL_ENV="/act")) == (str(root / ".venv"),)
    assert resolve_record(record(member, "add", "--script", "s.py", "x")) == ()
    assert resolve_record(record(sandbox.work, "sync")) == ()


def test_excluded_unmanaged_or_broken_projects(sandbox):
    root = write_project(sandbox.work / "ws", "ws",
                         '[tool.uv.workspace]\nmembers = ["packages/*"]\nexclude = ["packages/skip"]\n')
    skipped = write_project(root / "packages" / "skip", "skip")
    assert resolve_record(record(skipped, "sync")) == (str(skipped / ".venv"),)
    # Where uv's discovery fails, the nearest project's .venv stands in: more, never less.
    unmanaged = write_project(sandbox.work / "unmanaged", "u", "[tool.uv]\nmanaged = false\n")
    assert resolve_record(record(unmanaged, "sync")) == (str(unmanaged / ".venv"),)
    broken = sandbox.work / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text("[project\n")
    assert resolve_record(record(broken, "run", "x")) == (str(broken / ".venv"),)


def test_uv_run_options_after_the_command_are_not_uvs(sandbox):
    write_project(sandbox.work, "p")
    line = read_command_line(("run", "--with", "x", "python", "--active", "-p", "y"))
    assert line.words == ("run", "python") and "active" not in line.options and "python" not in line.options
    assert resolve_record(record(sandbox.work, "run", "python", "--active", VIRTUAL_ENV="/act")) == \
        (str(sandbox.work / ".venv"),)


def test_venv_paths(sandbox):
    root = write_project(sandbox.work / "ws", "ws", '[tool.uv.workspace]\nmembers = ["m"]\n')
    member = write_project(root / "m", "m")
    assert resolve_record(record(sandbox.work, "venv", "x")) == (str(sandbox.work / "x"),)
    assert resolve_record(record(sandbox.work, "venv", "--prompt", "p", "-c", "x")) == (str(sandbox.work / "x"),)
    assert resolve_record(record(sandbox.work, "--directory", "ws", "venv", "x")) == (str(root / "x"),)
    assert resolve_record(record(sandbox.work, "venv")) == (str(sandbox.work / ".venv"),)
    assert resolve_record(record(root, "venv", UV_PROJECT_ENVIRONMENT="e")) == (str(root / "e"),)
    # Only from the workspace root does `uv venv` use the project environment.
    assert resolve_record(record(member, "venv", UV_PROJECT_ENVIRONMENT="e")) == (str(member / ".venv"),)
    assert resolve_record(record(root, "venv", "--no-project", UV_PROJECT_ENVIRONMENT="e")) == (str(root / ".venv"),)


def test_tool_commands_stand_for_every_tool_environment(sandbox):
    tools = sandbox.work / "tools"
    for name in ("black", "ruff"):
        venv_at(tools / name)
    (tools / ".lock").write_text("")
    assert resolve_record(record(sandbox.work, "tool", "install", "ruff", UV_TOOL_DIR="tools")) == \
        (str(tools / "black"), str(tools / "ruff"))
    data = sandbox.work / "data"
    venv_at(data / "uv" / "tools" / "t")
    assert resolve_record(record(sandbox.work, "tool", "upgrade", "t", XDG_DATA_HOME=str(data))) == \
        (str(data / "uv" / "tools" / "t"),)
    assert record_targets(record(sandbox.work, "tool", "install", "t", HOME="/h")) == \
        ("tools:/h/.local/share/uv/tools",)


@pytest.mark.parametrize("args", [("lock",), ("tool", "run", "x"), ("pip", "list"), ("cache", "dir"), ()])
def test_commands_that_write_no_environment(sandbox, args):
    write_project(sandbox.work, "p")
    assert resolve_record(record(sandbox.work, *args)) == ()


# --- cross-check against real uv through the shim ---------------------------------------------


def run_shim(shim: Path, sandbox, *args: str, cwd: Path, **env: str) -> None:
    out = subprocess.run([str(shim), *args], cwd=cwd, env=sandbox.env(**env), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def environments_under(path: Path) -> set[Path]:
    return {p.parent for p in path.rglob("pyvenv.cfg")}


@pytest.mark.parametrize("scenario", ["venv-in-member", "venv-directory", "sync-member", "sync-env-var",
                                      "pip-nearest", "venv-path", "venv-path-from-a-linked-cwd",
                                      "venv-directory-link-dotdot"])
def test_resolution_matches_where_real_uv_created_the_environment(sandbox, shim, wheelhouse, scenario):
    root = write_project(sandbox.work / "ws", "ws", '[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    member = write_project(root / "packages" / "m", "m")
    (member / "src").mkdir()
    find_links = ("--no-index", "--find-links", str(wheelhouse))
    if scenario == "venv-in-member":
        run_shim(shim, sandbox, "venv", cwd=member)
    elif scenario == "venv-directory":
        run_shim(shim, sandbox, "venv", "--directory", str(root), cwd=sandbox.work)
    elif scenario == "sync-member":
        run_shim(shim, sandbox, "sync", *find_links, cwd=member / "src")
    elif scenario == "sync-env-var":
        run_shim(shim, sandbox, "sync", *find_links, cwd=member, UV_PROJECT_ENVIRONMENT="envs/custom")
    elif scenario == "pip-nearest":
        run_shim(shim, sandbox, "venv", "--no-project", str(member / "src" / ".venv"), cwd=sandbox.work)
        (member / "src" / "deep").mkdir()
        run_shim(shim, sandbox, "pip", "install", *find_links, "purepkg", cwd=member / "src" / "deep",
                 UV_PYTHON="")
    elif scenario == "venv-path":
        run_shim(shim, sandbox, "venv", "-p", sandbox.env()["UV_PYTHON"], "../../elsewhere", cwd=member)
    elif scenario == "venv-path-from-a-linked-cwd":
        # A shell that entered the member through a link keeps that path in $PWD; uv's cwd is physical.
        (sandbox.work / "link").symlink_to(member / "src")
        run_shim(shim, sandbox, "venv", "../env", cwd=sandbox.work / "link", PWD=str(sandbox.work / "link"))
    else:
        # `link/..` is the parent of the link's target, as the OS reads it after uv's chdir.
        (sandbox.work / "link").symlink_to(member / "src")
        run_shim(shim, sandbox, "--directory", "link/..", "venv", "--no-project", "here", cwd=sandbox.work)
    created = environments_under(sandbox.work)
    assert len(created) == 1, created
    with open(registry.registry_path(sandbox.env())) as handle:
        last = registry.parse_record(handle.read().splitlines()[-1])
    assert resolve_record(last) == tuple(str(p) for p in created)
