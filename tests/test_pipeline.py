"""One pipeline per command line: the shim and every `uvguard` command see the same policy, roots and
live set, and each TOML file is read once per command.

Real uv 0.13.9 through the rendered shim, real symlink-mode environments made from local wheels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import path_with_shim, put_shim, uv_path
from uvguard import guard, tomlfile
from uvguard.invocation import parse
from uvguard.realuv import uv_version

UVGUARD = str(Path(sys.executable).parent / "uvguard")


class World:
    """A sandbox with the shim on PATH, and projects synced through it in symlink mode."""

    def __init__(self, sandbox, wheelhouse) -> None:
        self.sandbox = sandbox
        self.shim = put_shim(sandbox.root / "shim-bin", uv_path())
        self.env = sandbox.env(PATH=path_with_shim(self.shim), UV_LINK_MODE="symlink", UVGUARD_REAL_UV=str(uv_path()),
                               UV_NO_INDEX="1", UV_FIND_LINKS=str(wheelhouse))
        self.elsewhere = sandbox.root / "elsewhere"
        self.elsewhere.mkdir()

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def project(self, directory: Path, extra: str = "") -> Path:
        self.write(directory / "pyproject.toml",
                   f'[project]\nname = "{directory.name}"\nversion = "0.1"\nrequires-python = ">=3.8"\n'
                   f'dependencies = ["purepkg==1.0"]\n{extra}')
        return directory

    def uv(self, *args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.shim), *args], cwd=cwd, env=self.env, capture_output=True, text=True)

    def sync(self, cwd: Path) -> None:
        result = self.uv("sync", cwd=cwd)
        assert result.returncode == 0, result.stderr

    def uvguard(self, *args: str, cwd: Path) -> dict:
        result = subprocess.run([UVGUARD, *args], cwd=cwd, env=self.env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def shim_decision(self, *args: str, cwd: Path) -> dict:
        """What the shim itself decided for `uv ARGS`, from the decisions log."""
        result = self.uv(*args, cwd=cwd)
        assert result.returncode == 3, result.stderr  # the default policy refuses a full clean
        log = Path(self.env["XDG_STATE_HOME"]) / "uvguard" / "decisions.jsonl"
        return json.loads(log.read_text().splitlines()[-1])

    def workspace(self) -> tuple[Path, Path]:
        """A workspace whose root has `uvguard.toml` and whose member has `[tool.uvguard]`; (root, member)."""
        root = self.project(self.sandbox.work / "ws", '[tool.uv.workspace]\nmembers = ["packages/*"]\n')
        self.write(root / "uvguard.toml", 'clean = "refuse"\nroots = ["/from-root"]\n')
        member = self.project(root / "packages" / "a", '[tool.uvguard]\nclean = "allow"\nroots = ["/from-member"]\n')
        self.project(root / "packages" / "b")
        return root, member


class Layout(NamedTuple):
    cwd: Path
    options: tuple[str, ...]  # uv's global options, given to the shim and to uvguard alike
    venv: Path  # the project's environment, the one that links into the cache
    policy_roots: set[str]  # the project policy's roots: only the file the shim's walk finds
    policy_file: Path


def plain(world: World) -> Layout:
    project = world.project(world.sandbox.work / "plain", '[tool.uvguard]\nroots = ["/from-plain"]\n')
    world.sync(project)
    return Layout(project, (), project / ".venv", {"/from-plain"}, project / "pyproject.toml")


def member(world: World) -> Layout:
    root, member = world.workspace()
    world.sync(member)
    return Layout(member, (), root / ".venv", {"/from-root"}, root / "uvguard.toml")


def nested(world: World) -> Layout:
    outer = world.project(world.sandbox.work / "outer")
    world.write(outer / "uvguard.toml", 'roots = ["/from-outer"]\n')
    inner = world.project(outer / "inner", '[tool.uvguard]\nroots = ["/from-inner"]\n')
    world.sync(inner)
    (inner / "src").mkdir()
    return Layout(inner / "src", (), inner / ".venv", {"/from-inner"}, inner / "pyproject.toml")


def directory(world: World) -> Layout:
    layout = plain(world)
    return layout._replace(cwd=world.elsewhere, options=("--directory", str(layout.cwd)))


def project_option(world: World) -> Layout:
    layout = member(world)
    return layout._replace(cwd=world.elsewhere, options=("--project", str(layout.cwd)))


def symlinked(world: World) -> Layout:
    real = world.project(world.sandbox.work / "real" / "app", '[tool.uvguard]\nroots = ["/from-linked"]\n')
    link = world.sandbox.root / "link"
    link.symlink_to(real.parent, target_is_directory=True)
    world.sync(link / "app")
    return Layout(world.elsewhere, ("--project", str(link / "app")), link / "app" / ".venv", {"/from-linked"},
                  link / "app" / "pyproject.toml")


LAYOUTS = [plain, member, nested, directory, project_option, symlinked]


def real(paths) -> set[str]:
    return {os.path.realpath(path) for path in paths}


@pytest.mark.parametrize("make", LAYOUTS, ids=[make.__name__ for make in LAYOUTS])
def test_the_shim_and_every_command_agree_on_policy_roots_and_live_set(sandbox, wheelhouse, make):
    world = World(sandbox, wheelhouse)
    layout = make(world)
    options = list(layout.options)
    shim = world.shim_decision(*options, "cache", "clean", cwd=layout.cwd)
    check = world.uvguard(*options, "check", "--json", "cache", "clean", cwd=layout.cwd)
    roots = world.uvguard(*options, "roots", "--json", "--all", cwd=layout.cwd)
    live = world.uvguard(*options, "live", "--json", cwd=layout.cwd)
    policy = world.uvguard(*options, "policy", "show", "--json", cwd=layout.cwd)

    # The policy: the project file the shim's walk finds, and nothing from any other file.
    assert {root["path"] for root in policy["roots"]} == layout.policy_roots
    project_files = [f["file"] for f in policy["files"] if f["layer"] == "project"]
    assert real(project_files) == real([layout.policy_file])
    assert {r["path"] for r in roots["roots"] if "policy" in r["origins"]} == layout.policy_roots
    for decision in (shim, check):
        assert decision["action"] == "refuse"
        assert decision["decided_by"]["key"] == "clean"
        assert decision["decided_by"]["file"] == policy["settings"]["clean"]["file"]

    # The roots that link into the cache: the project's environment, for everyone.
    linked = [r["path"] for r in roots["roots"] if r["live_entries"]]
    assert real(linked) == real([layout.venv])
    users = {user for entry in live["entries"] for user in entry["environments"]}
    assert real(users) == real(shim["live_environments"]) == real(check["live_environments"]) == real(linked)

    # The live set: what a full clean would take from that environment.
    entries = sorted(entry["path"] for entry in live["entries"])
    assert entries and sorted(shim["protected_entries"]) == sorted(check["protected_entries"]) == entries


def test_in_a_workspace_member_the_policy_is_the_workspace_roots_for_every_command(sandbox, wheelhouse):
    """The member's `[tool.uvguard]` lies below where uv's config walk starts (the workspace root), so
    the policy's walk never sees it: its `clean = "allow"` and its roots apply nowhere."""
    world = World(sandbox, wheelhouse)
    layout = member(world)
    roots = world.uvguard("roots", "--json", "--all", cwd=layout.cwd)
    origins = {r["path"]: r["origins"] for r in roots["roots"]}
    assert "policy" in origins["/from-root"] and "/from-member" not in origins
    policy = world.uvguard("policy", "show", "--json", cwd=layout.cwd)
    assert policy["settings"]["clean"]["file"] == str(layout.policy_file)
    assert world.shim_decision("cache", "clean", cwd=layout.cwd)["decided_by"]["file"] == str(layout.policy_file)


TOML_NAMES = ("pyproject.toml", "uv.toml", "uvguard.toml", "policy.toml")


def test_a_guarded_command_reads_each_toml_file_once_including_the_rescan_under_the_lock(
        sandbox, wheelhouse, monkeypatch, capsys):
    world = World(sandbox, wheelhouse)
    root, member_dir = world.workspace()
    world.write(root / "uv.toml", 'link-mode = "symlink"\n')
    user_policy = world.write(Path(world.env["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml", 'prune = "limit"\n')
    world.sync(member_dir)
    world.sync(root / "packages" / "b")  # the second registry record, naming the same workspace
    reads: list[str] = []
    reader = tomlfile.read_regular

    def counted(path):
        reads.append(os.fspath(path))
        return reader(path)

    rescans = []
    rescan = guard.Pipeline.rescan_live_entries

    def counted_rescan(self):
        rescans.append(self)
        return rescan(self)

    monkeypatch.setattr(tomlfile, "read_regular", counted)
    monkeypatch.setattr(guard.Pipeline, "rescan_live_entries", counted_rescan)
    monkeypatch.setattr(guard, "exec_uv", lambda *args: pytest.fail(f"exec'd uv: {args}"))
    env = world.env
    args = ["cache", "clean", "purepkg"]  # clean-packages = "limit": the limited operation, in this process
    version = uv_version(str(uv_path()), env)
    code = guard.run(parse(args, version), str(uv_path()), env, str(member_dir), version)
    assert code == 0, capsys.readouterr().err
    assert len(rescans) == 1
    tomls = [path for path in reads if os.path.basename(path) in TOML_NAMES]
    expected = {str(root / "pyproject.toml"), str(root / "uv.toml"), str(root / "uvguard.toml"),
                str(member_dir / "pyproject.toml"), str(root / "packages" / "b" / "pyproject.toml"), str(user_policy)}
    assert expected <= set(tomls)
    assert sorted(tomls) == sorted(set(tomls)), f"read more than once: {sorted(p for p in tomls if tomls.count(p) > 1)}"


def test_prune_dry_run_plans_once_reusing_the_decisions_plan(sandbox, wheelhouse, monkeypatch):
    """Something is live, so the decision asks uv on a skeleton what a clean removes; the dry run
    reports from that same plan instead of asking again."""
    from uvguard import prune_plan
    from uvguard.commands.prune import limited_command

    world = World(sandbox, wheelhouse)
    layout = plain(world)
    plans = []
    removal_plan = prune_plan.removal_plan

    def counted(*args):
        plans.append(args)
        return removal_plan(*args)

    monkeypatch.setattr(prune_plan, "removal_plan", counted)
    monkeypatch.setattr("uvguard.commands.prune.removal_plan", counted, raising=False)  # a name imported early
    report = limited_command(["cache", "clean"], True, world.env, str(layout.cwd))
    assert len(plans) == 1
    assert report["kept"] and report["environments"] == [str(layout.venv)]
