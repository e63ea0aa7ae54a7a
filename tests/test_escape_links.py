"""Links leading out of the cache, under uv releases that follow them while removing (< 0.11.20).

Through the shim, with the `default` and `ci` presets, each operation runs on
a real cache (a registered symlink-mode environment, an unregistered one)
where links lead to directories outside it. Whatever the decision, the
outside directories survive, and what is removed inside the cache is what
real uv of that release removes from an identical cache without those links
(minus the live entries, where the decision limits the operation).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import path_with_shim, put_shim, uv_path
from tests.test_differential import covered, live_entries, tree

pytestmark = pytest.mark.slow

OPERATIONS = {
    "prune": ["cache", "prune"],
    "prune-ci": ["cache", "prune", "--ci"],
    "clean-packages": ["cache", "clean", "otherpkg", "evilpkg"],
    "clean": ["cache", "clean"],
}
MARKERS = {"CACHEDIR.TAG", ".gitignore"}


class Machine:
    def __init__(self, sandbox, wheelhouse, version: str) -> None:
        self.sandbox = sandbox
        self.version = version
        self.shim = put_shim(sandbox.root / "bin", uv_path(version))
        self.env = sandbox.env(PATH=path_with_shim(self.shim))
        self.find = ["--no-index", "--find-links", str(wheelhouse)]
        self.elsewhere = sandbox.root / "elsewhere"
        self.elsewhere.mkdir()

    def run(self, program, *args, cwd=None, **extra) -> subprocess.CompletedProcess:
        return subprocess.run([str(program), *args], env={**self.env, **extra}, cwd=cwd or self.elsewhere,
                              capture_output=True, text=True)

    def build(self) -> Path:
        """A registered symlink-mode venv (live) and an unregistered copy-mode one; returns the live venv."""
        live = self.sandbox.work / "live" / ".venv"
        live.parent.mkdir()
        for args in (["venv", str(live)],
                     ["pip", "install", "--python", str(live), *self.find, "--link-mode", "symlink", "speedpkg"]):
            assert self.run(self.shim, *args, cwd=live.parent).returncode == 0
        other = self.sandbox.root / "other-venv"
        bare = uv_path(self.version)
        assert self.run(bare, "venv", str(other)).returncode == 0
        result = self.run(bare, "pip", "install", "--python", str(other), *self.find, "--link-mode", "copy",
                          "otherpkg", "purepkg==1.0", "sdistpkg")
        assert result.returncode == 0, result.stderr
        return live

    def plant(self, outside: Path) -> dict[str, Path]:
        """Links to outside directories where uv < 0.11.20 follows them: returns link path -> target."""
        cache = self.sandbox.cache
        wheels = next(cache.glob("wheels-v*"))
        sdists = next(cache.glob("sdists-v*"))
        environments = next(cache.glob("environments-v*"), cache / "environments-v2")
        links = {
            cache / "archive-v0" / "evil": outside / "archive",
            environments / "evil": outside / "environment",
            wheels / "escape": outside / "wheels",
            wheels / "pypi" / "evilpkg": outside / "wheel-entry",
            sdists / "pypi" / "evilpkg": outside / "sdist-entry",
        }
        for link, target in links.items():
            target.mkdir(parents=True)
            (target / "payload.txt").write_text(target.name)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
        return links


def restore(source: Path, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)


@pytest.mark.parametrize("preset", ["default", "ci"])
@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("version", ["0.6.4", "0.10.12", "0.11.16"])
def test_no_directory_outside_the_cache_is_deleted(sandbox, wheelhouse, version, operation, preset):
    machine = Machine(sandbox, wheelhouse, version)
    live_venv = machine.build()
    cache = sandbox.cache
    pristine = sandbox.root / "pristine"
    subprocess.run(["cp", "-a", str(cache), str(pristine)], check=True)
    args = OPERATIONS[operation]
    # What real uv removes from this cache without the links.
    bare = machine.run(uv_path(version), *args)
    assert bare.returncode == 0, bare.stderr
    removed_by_uv = tree(pristine) - tree(cache)
    restore(pristine, cache)

    links = machine.plant(sandbox.root / "outside")
    planted = tree(cache) - tree(pristine)  # the links, and any directory made to hold one
    result = machine.run(machine.shim, *args, UVGUARD_POLICY=preset)
    decision = json.loads((Path(machine.env["XDG_STATE_HOME"]) / "uvguard" / "decisions.jsonl")
                          .read_text().splitlines()[-1])
    for link, target in links.items():
        assert (target / "payload.txt").read_text() == target.name, f"{link} was followed: {result.stderr}"
    remaining = {path for path in tree(cache) if path not in planted} - MARKERS
    if decision["action"] == "refuse":
        assert result.returncode == 3
        assert remaining == tree(pristine) - MARKERS
        return
    assert result.returncode == 0, result.stderr
    live = live_entries(live_venv, cache) if decision["action"] == "limit" else {}
    assert remaining == {p for p in tree(pristine) if p not in removed_by_uv or covered(p, live)} - MARKERS
    if decision["action"] in ("allow", "warn") and operation != "clean":
        assert "follows symlinks while removing" in result.stderr
    check = subprocess.run([str(live_venv / "bin" / "python"), "-c", "import speedpkg; print(speedpkg.answer())"],
                           capture_output=True, text=True)
    assert check.stdout.strip() == "1.0", check.stderr


def test_real_uv_0_6_4_deletes_outside_the_cache_on_an_allowed_prune(sandbox, wheelhouse):
    """Why: bare 0.6.4 follows the link the guard now keeps from it."""
    machine = Machine(sandbox, wheelhouse, "0.6.4")
    machine.build()
    links = machine.plant(sandbox.root / "outside")
    assert machine.run(uv_path("0.6.4"), "cache", "prune").returncode == 0
    assert not (links[sandbox.cache / "archive-v0" / "evil"] / "payload.txt").exists()


def test_a_warned_operation_removes_what_uv_would_live_entries_included(sandbox, wheelhouse):
    """`permissive` warns and lets uv break the live environment; uvguard removes as uv would, outside kept."""
    machine = Machine(sandbox, wheelhouse, "0.10.12")
    live_venv = machine.build()
    live = live_entries(live_venv, sandbox.cache)
    links = machine.plant(sandbox.root / "outside")
    result = machine.run(machine.shim, "cache", "prune", "--ci", UVGUARD_POLICY="permissive")
    assert result.returncode == 0, result.stderr
    assert "running it anyway" in result.stderr and "follows symlinks while removing" in result.stderr
    assert all((target / "payload.txt").exists() for target in links.values())
    assert live and not any((sandbox.cache / entry).exists() for entry in live)


def plant_climb_through_a_link(cache: Path, outside: Path) -> Path:
    """`archive-v0/Z -> Y/evil/../../X`: reads as the entry `archive-v0/X`, leads to `outside/X`; returns it."""
    archive = cache / "archive-v0"
    (archive / "X").mkdir()
    (archive / "Y").mkdir()
    (outside / "a" / "b").mkdir(parents=True)
    (outside / "X").mkdir()
    (outside / "X" / "payload.txt").write_text("X")
    (archive / "Y" / "evil").symlink_to(outside / "a" / "b")
    (archive / "Z").symlink_to("Y/evil/../../X")
    return outside / "X"


@pytest.mark.parametrize("preset", ["default", "ci"])
@pytest.mark.parametrize("version", ["0.6.4", "0.10.12", "0.11.16"])
def test_a_link_climbing_out_through_another_link_is_not_followed(sandbox, wheelhouse, version, preset):
    """Releases that lock (0.10.12, 0.11.16) get the cache only when no link leads out: here uvguard removes.

    (0.6.4 takes no lock, so uvguard removes anyway; the warning shows the link was seen.)
    """
    machine = Machine(sandbox, wheelhouse, version)
    live_venv = machine.build()
    target = plant_climb_through_a_link(sandbox.cache, sandbox.root / "t")
    result = machine.run(machine.shim, "cache", "prune", UVGUARD_POLICY=preset)
    assert result.returncode == 0, result.stderr
    assert (target / "payload.txt").read_text() == "X", result.stderr
    assert f"`{sandbox.cache / 'archive-v0' / 'Z'}` leads out of the cache" in result.stderr
    check = subprocess.run([str(live_venv / "bin" / "python"), "-c", "import speedpkg; print(speedpkg.answer())"],
                           capture_output=True, text=True)
    assert check.stdout.strip() == "1.0", check.stderr


@pytest.mark.parametrize("version", ["0.6.4", "0.10.12", "0.11.16"])
def test_real_uv_follows_a_link_climbing_out_through_another(sandbox, wheelhouse, version):
    """Why: bare uv < 0.11.20 deletes what `archive-v0/Z -> Y/evil/../../X` leads to, outside the cache."""
    machine = Machine(sandbox, wheelhouse, version)
    machine.build()
    target = plant_climb_through_a_link(sandbox.cache, sandbox.root / "t")
    assert machine.run(uv_path(version), "cache", "prune").returncode == 0
    assert not (target / "payload.txt").exists()
