"""Registry records resolved at read time to the environment the command wrote to.

The cross-check runs real uv 0.13.9 through the rendered shim and asserts that
the resolved path is exactly the environment uv created.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from uvguard import registry, uvcli
from uvguard.roots import read_command_line, read_registry, record_targets

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
    assert record_targets(record(cwd, *args)) == (str(sandbox.work / expected),)


def test_pip_prefers_virtual_env_then_conda_then_the_nearest_dot_venv(sandbox):
    venv_at(sandbox.work / ".venv")
    args = ("pip", "install", "x")
    assert record_targets(record(sandbox.work, *args, VIRTUAL_ENV="/opt/v", CONDA_PREFIX="/opt/c")) == ("/opt/v",)
    assert record_targets(record(sandbox.work, *args, CONDA_PREFIX="/opt/c")) == ("/opt/c",)
    assert record_targets(record(sandbox.work, *args)) == (str(sandbox.work / ".venv"),)
    inside = venv_at(sandbox.work / "other")
    (inside / "lib").mkdir()
    assert record_targets(record(inside / "lib", *args)) == (str(inside),)
    # A version request, not a path: uv still looks at the active and nearby environments.
    assert record_targets(record(sandbox.work, "pip", "install", "--python", "3.12", "x")) == \
        (str(sandbox.work / ".venv"),)


def test_project_commands_use_the_workspace_root_environment(sandbox):
    root = write_project(sandbox.work / "ws", "ws", '[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    member = write_project(root / "packages" / "m", "m")
    (member / "src").mkdir()
    nested = write_project(root / "examples" / "ex", "ex")
    for args in (("sync",), ("run", "python", "-c", "1"), ("add", "x"), ("remove", "x"),
                 ("--quiet", "sync", "--frozen")):
        assert record_targets(record(member / "src", *args)) == (str(root / ".venv"),)
    assert record_targets(record(nested, "sync")) == (str(nested / ".venv"),)
    assert record_targets(record(sandbox.work, "sync", "--project", "ws/packages/m")) == (str(root / ".venv"),)
    assert record_targets(record(sandbox.work, "--directory", "ws/examples/ex", "sync")) == (str(nested / ".venv"),)
    assert record_targets(record(member, "sync", UV_PROJECT_ENVIRONMENT="env")) == (str(root / "env"),)
    assert record_targets(record(member, "sync", UV_PROJECT_ENVIRONMENT="/abs/env")) == ("/abs/env",)
    assert record_targets(record(member, "sync", "--active", VIRTUAL_ENV="/act")) == ("/act",)
    assert record_targets(record(member, "sync", VIRTUAL_ENV="/act")) == (str(root / ".venv"),)
    assert record_targets(record(member, "add", "--script", "s.py", "x")) == ()
    assert record_targets(record(sandbox.work, "sync")) == ()


def test_excluded_unmanaged_or_broken_projects(sandbox):
    root = write_project(sandbox.work / "ws", "ws",
                         '[tool.uv.workspace]\nmembers = ["packages/*"]\nexclude = ["packages/skip"]\n')
    skipped = write_project(root / "packages" / "skip", "skip")
    assert record_targets(record(skipped, "sync")) == (str(skipped / ".venv"),)
    # Where uv's discovery fails, the nearest project's .venv stands in: more, never less.
    unmanaged = write_project(sandbox.work / "unmanaged", "u", "[tool.uv]\nmanaged = false\n")
    assert record_targets(record(unmanaged, "sync")) == (str(unmanaged / ".venv"),)
    broken = sandbox.work / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text("[project\n")
    assert record_targets(record(broken, "run", "x")) == (str(broken / ".venv"),)


def test_uv_run_options_after_the_command_are_not_uvs(sandbox):
    write_project(sandbox.work, "p")
    line = read_command_line(("run", "--with", "x", "python", "--active", "-p", "y"))
    assert line.command == ("run",) and line.options == {"with": "x"} and line.positionals == ()
    assert record_targets(record(sandbox.work, "run", "python", "--active", VIRTUAL_ENV="/act")) == \
        (str(sandbox.work / ".venv"),)


def test_venv_paths(sandbox):
    root = write_project(sandbox.work / "ws", "ws", '[tool.uv.workspace]\nmembers = ["m"]\n')
    member = write_project(root / "m", "m")
    assert record_targets(record(sandbox.work, "venv", "x")) == (str(sandbox.work / "x"),)
    assert record_targets(record(sandbox.work, "venv", "--prompt", "p", "-c", "x")) == (str(sandbox.work / "x"),)
    assert record_targets(record(sandbox.work, "--directory", "ws", "venv", "x")) == (str(root / "x"),)
    assert record_targets(record(sandbox.work, "venv")) == (str(sandbox.work / ".venv"),)
    assert record_targets(record(root, "venv", UV_PROJECT_ENVIRONMENT="e")) == (str(root / "e"),)
    # Only from the workspace root does `uv venv` use the project environment.
    assert record_targets(record(member, "venv", UV_PROJECT_ENVIRONMENT="e")) == (str(member / ".venv"),)
    assert record_targets(record(root, "venv", "--no-project", UV_PROJECT_ENVIRONMENT="e")) == (str(root / ".venv"),)


def test_tool_commands_stand_for_every_tool_environment(sandbox):
    tools = sandbox.work / "tools"
    for name in ("black", "ruff"):
        venv_at(tools / name)
    (tools / ".lock").write_text("")
    env = sandbox.env()
    registry.append(str(sandbox.work), {**env, "UV_TOOL_DIR": "tools"}, ["tool", "install", "ruff"])
    assert read_registry(env).paths == (str(tools / "black"), str(tools / "ruff"))
    data = sandbox.work / "data"
    venv_at(data / "uv" / "tools" / "t")
    assert record_targets(record(sandbox.work, "tool", "upgrade", "t", XDG_DATA_HOME=str(data))) == \
        ("tools:" + str(data / "uv" / "tools"),)
    assert record_targets(record(sandbox.work, "tool", "install", "t", HOME="/h")) == \
        ("tools:/h/.local/share/uv/tools",)


@pytest.mark.parametrize("args", [("lock",), ("tool", "run", "x"), ("pip", "list"), ("cache", "dir"), ()])
def test_commands_that_write_no_environment(sandbox, args):
    write_project(sandbox.work, "p")
    assert record_targets(record(sandbox.work, *args)) == ()


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
    assert record_targets(last) == tuple(str(p) for p in created)


# --- every recorded command group, against real uv ---------------------------------------------

FIND_LINKS_PROJECT = ('[project]\nname = "p"\nversion = "0.1"\nrequires-python = ">=3.8"\ndependencies = [{deps}]\n'
                      '[tool.uv]\nno-index = true\nfind-links = ["{wheelhouse}"]\n')


def group_scenario(words: tuple[str, ...], sandbox, wheelhouse) -> tuple[tuple[str, ...], Path, Path]:
    """(the line run through the shim, its cwd, the environment uv writes) for one recorded group.

    What must exist first is made with real uv directly, so only the line itself is recorded.
    """
    links = ("--no-index", "--find-links", str(wheelhouse))
    work = sandbox.work
    if words in (("sync",), ("run",), ("add",), ("remove",), ("version",)):
        deps = '"purepkg"' if words == ("remove",) else ""
        (work / "pyproject.toml").write_text(FIND_LINKS_PROJECT.format(deps=deps, wheelhouse=wheelhouse))
        line = {("sync",): ("sync",), ("run",): ("run", "python", "-c", "pass"), ("add",): ("add", "purepkg"),
                ("remove",): ("remove", "purepkg"), ("version",): ("version", "--bump", "minor")}[words]
        return line, work, work / ".venv"
    if words in (("venv",), ("virtualenv",), ("v",)):
        return (*words, "--prompt", "x", "env"), work, work / "env"
    if words[0] == "pip":
        sandbox.uv("venv", "env", cwd=work)
        (work / "req.txt").write_text("purepkg\n")
        if words == ("pip", "uninstall"):
            sandbox.uv("pip", "install", "-p", "env", *links, "purepkg", cwd=work)
        line = {("pip", "install"): ("pip", "install", "-p", "env", *links, "purepkg"),
                ("pip", "sync"): ("pip", "sync", "--python", "env", *links, "req.txt"),
                ("pip", "uninstall"): ("pip", "uninstall", "-p", "env", "purepkg")}[words]
        return line, work, work / "env"
    if words[0] == "tool":
        tool = Path(sandbox.env()["XDG_DATA_HOME"]) / "uv" / "tools" / "toolpkg"
        if words == ("tool", "upgrade"):
            sandbox.uv("tool", "install", *links, "toolpkg", cwd=work)
            return ("tool", "upgrade", *links, "toolpkg"), work, tool
        return ("tool", "install", *links, "toolpkg"), work, tool
    raise KeyError(f"no scenario for the recorded group {words}")


@pytest.mark.parametrize("words", sorted(uvcli.RECORDED), ids=" ".join)
def test_every_recorded_group_resolves_to_the_environment_uv_writes(sandbox, shim, wheelhouse, words):
    line, cwd, environment = group_scenario(words, sandbox, wheelhouse)
    before = {p: p.stat().st_mtime_ns for p in environment.rglob("*")} if environment.exists() else {}
    run_shim(shim, sandbox, *line, cwd=cwd, UV_LINK_MODE="symlink")
    after = {p: p.stat().st_mtime_ns for p in environment.rglob("*")}
    assert (environment / "pyvenv.cfg").is_file() and after != before  # uv wrote this environment
    with open(registry.registry_path(sandbox.env())) as handle:
        records = [registry.parse_record(text) for text in handle.read().splitlines()]
    assert [record.args for record in records] == [line]  # the shim recorded the line, once
    assert read_registry(sandbox.env()).paths == (str(environment),)
