"""The remembered scan never costs a live entry: every way real uv (0.6.4, 0.13.9) or a hand changes an
environment makes the next scan read it again, and what it reports is what a full scan reports.

Each case scans with memory (cold, then proven warm: nothing walked), changes the environment, then
compares the scan with memory against a full scan without it. Where the change alters the entries the
environment links to, a stale memory would give the old entries, so the comparison can fail.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.wheelfactory import build_wheel
from uvguard import live_set, scanmemory
from uvguard.live_set import GONE, OK, UNLINKED, scan_live_set
from uvguard.roots import Root

VERSIONS = ["0.6.4", "0.13.9"]


@pytest.fixture
def walks(monkeypatch):
    """The roots each scan walked (read link by link) rather than reused."""
    walked: list[str] = []
    real_walk = live_set._walk

    def spy(top, cache, walk):
        walked.append(top)
        return real_walk(top, cache, walk)

    monkeypatch.setattr(live_set, "_walk", spy)
    return walked


@pytest.fixture
def exact_ctimes(monkeypatch):
    """uv's writes and these scans are milliseconds apart: trust ctimes at once (the window has its own test)."""
    monkeypatch.setattr(scanmemory, "RACY_SECONDS", 0)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("wheels")
    for name, version, options in [("purepkg", "1.0", {}), ("purepkg", "2.0", {}), ("otherpkg", "1.0", {}),
                                   ("speedpkg", "1.0", {"extension": True}),
                                   ("toolpkg", "1.0", {"scripts": {"toolpkg": "toolpkg:hello"}})]:
        build_wheel(dest, name, version, **options)
    return dest


class World:
    def __init__(self, sandbox, wheels: Path, version: str, walked: list[str]) -> None:
        self.sandbox, self.wheels, self.version, self.walked = sandbox, wheels, version, walked
        self.state = str(sandbox.root / "state" / "uvguard")
        self.env = sandbox.env(UV_LINK_MODE="symlink")

    def uv(self, *args: str, cwd: Path | None = None) -> None:
        self.sandbox.uv(*args, version=self.version, env=self.env, cwd=cwd)

    def pip(self, venv: Path, *args: str) -> None:
        self.uv("pip", *args[:1], "--python", str(venv), "--no-index", "--find-links", str(self.wheels), *args[1:])

    def venv(self, path: Path, *packages: str) -> Path:
        self.uv("venv", str(path))
        if packages:
            self.pip(path, "install", *packages)
        return path

    def scan(self, path: Path, remember: bool = True) -> live_set.Environment:
        del self.walked[:]
        live = scan_live_set(self.sandbox.cache, [Root(str(path), "manual")], self.state if remember else None)
        return live.environments[0]


@pytest.fixture(params=VERSIONS)
def world(request, sandbox, wheels, walks, exact_ctimes) -> World:
    return World(sandbox, wheels, request.param, walks)


def snapshot(environment: live_set.Environment) -> tuple:
    return environment.state, environment.live_entries, environment.dangling


def assert_rescanned_and_exact(world: World, path: Path, before: live_set.Environment, changes_entries: bool) -> None:
    remembered = world.scan(path)
    walked = list(world.walked)
    fresh = world.scan(path, remember=False)
    assert snapshot(remembered) == snapshot(fresh)
    if fresh.state != GONE:
        assert walked == [str(path)], "the check did not notice the change"
    if changes_entries:
        assert fresh.live_entries != before.live_entries  # a stale memory would have failed the line above


def cold_then_warm(world: World, path: Path) -> live_set.Environment:
    cold = world.scan(path)
    assert world.walked == [str(path)]
    warm = world.scan(path)
    assert world.walked == [] and snapshot(warm) == snapshot(cold)
    return warm


CHANGES = {
    "install": (lambda w, v: w.pip(v, "install", "otherpkg"), True),
    "uninstall": (lambda w, v: w.uv("pip", "uninstall", "--python", str(v), "purepkg"), True),
    "upgrade": (lambda w, v: w.pip(v, "install", "purepkg==2.0"), True),
    "reinstall": (lambda w, v: w.pip(v, "install", "--reinstall", "purepkg==1.0", "speedpkg"), False),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_pip_changes_are_noticed(world, change):
    venv = world.venv(world.sandbox.work / "app" / ".venv", "purepkg==1.0", "speedpkg")
    before = cold_then_warm(world, venv)
    assert before.state == OK and len(before.live_entries) == 2
    action, changes_entries = CHANGES[change]
    action(world, venv)
    assert_rescanned_and_exact(world, venv, before, changes_entries)


def test_a_downgrade_is_noticed(world):
    venv = world.venv(world.sandbox.work / "app" / ".venv", "purepkg==2.0")
    before = cold_then_warm(world, venv)
    world.pip(venv, "install", "purepkg==1.0")
    assert_rescanned_and_exact(world, venv, before, True)


def test_sync_removing_a_package_is_noticed(world):
    project = world.sandbox.work / "proj"
    project.mkdir()
    pyproject = project / "pyproject.toml"

    def write(*dependencies: str) -> None:
        pyproject.write_text(f'[project]\nname = "proj"\nversion = "0.1"\nrequires-python = ">=3.8"\n'
                             f'dependencies = {list(dependencies)!r}\n'
                             f'[tool.uv]\nno-index = true\nfind-links = ["{world.wheels}"]\n'.replace("'", '"'))

    write("purepkg==1.0", "otherpkg")
    world.uv("sync", cwd=project)
    venv = project / ".venv"
    before = cold_then_warm(world, venv)
    assert len(before.live_entries) == 2
    write("purepkg==1.0")
    world.uv("sync", cwd=project)
    assert_rescanned_and_exact(world, venv, before, True)


def test_venv_clear_is_noticed(world):
    venv = world.venv(world.sandbox.work / "app" / ".venv", "purepkg==1.0")
    before = cold_then_warm(world, venv)
    world.uv("venv", *(["--clear"] if world.version != "0.6.4" else []), str(venv))  # 0.6.4 clears by default
    assert_rescanned_and_exact(world, venv, before, True)
    assert world.scan(venv, remember=False).state == UNLINKED


def test_tool_upgrade_is_noticed(world, tmp_path):
    newer = tmp_path / "newer"
    shutil.copytree(world.wheels, newer)
    find = ["--no-index", "--find-links", str(newer)]
    world.uv("tool", "install", *find, "toolpkg")
    tool = Path(world.env["XDG_DATA_HOME"]) / "uv" / "tools" / "toolpkg"
    before = cold_then_warm(world, tool)
    build_wheel(newer, "toolpkg", "2.0", scripts={"toolpkg": "toolpkg:hello"})
    world.uv("tool", "upgrade", *find, "toolpkg")
    assert_rescanned_and_exact(world, tool, before, True)


def test_deletion_is_noticed(world):
    venv = world.venv(world.sandbox.work / "app" / ".venv", "purepkg==1.0")
    cold_then_warm(world, venv)
    shutil.rmtree(venv)
    assert world.scan(venv).state == GONE


@pytest.mark.parametrize("replacement", ["link-to-another-entry", "copy"])
def test_a_file_replaced_by_hand_deep_inside_is_noticed(world, replacement):
    venv = world.venv(world.sandbox.work / "app" / ".venv", "purepkg==1.0")
    world.venv(world.sandbox.work / "other" / ".venv", "otherpkg")
    before = cold_then_warm(world, venv)
    [module] = [p for p in venv.rglob("purepkg/__init__.py")]
    other = os.readlink(next(venv.parent.parent.joinpath("other", ".venv").rglob("otherpkg/__init__.py")))
    module.unlink()
    if replacement == "copy":
        module.write_text("def hello():\n    return 'by hand'\n")
    else:
        module.symlink_to(other)
    assert_rescanned_and_exact(world, venv, before, replacement != "copy")


def test_an_archive_entry_removed_from_the_cache_is_noticed(world):
    venv = world.venv(world.sandbox.work / "app" / ".venv", "purepkg==1.0", "speedpkg")
    before = cold_then_warm(world, venv)
    shutil.rmtree(world.sandbox.cache / sorted(before.live_entries)[0])
    remembered = world.scan(venv)
    assert snapshot(remembered) == snapshot(world.scan(venv, remember=False))
    assert remembered.dangling and len(remembered.live_entries) == 1


# --- the memory itself is a hint --------------------------------------------------------------------


@pytest.fixture
def warm(sandbox, wheels, walks, exact_ctimes):
    world = World(sandbox, wheels, VERSIONS[-1], walks)
    venv = world.venv(sandbox.work / "app" / ".venv", "purepkg==1.0", "speedpkg")
    before = cold_then_warm(world, venv)
    return world, venv, before, Path(scanmemory.memory_path(world.state))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped-byte", "entries-edited", "empty"])
def test_a_damaged_memory_means_a_full_scan(warm, damage):
    world, venv, before, memory = warm
    data = memory.read_bytes()
    if damage == "garbage":
        memory.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        memory.write_bytes(data[:len(data) // 2])
    elif damage == "flipped-byte":
        memory.write_bytes(data[:40] + bytes([data[40] ^ 1]) + data[41:])
    elif damage == "entries-edited":  # one live entry dropped, the CRC left as it was
        entry = sorted(before.live_entries)[0].encode()
        memory.write_bytes(data.replace(entry + b"\x1e", b"").replace(b"\x1e" + entry, b""))
    else:
        memory.write_bytes(b"")
    again = world.scan(venv)
    assert world.walked == [str(venv)] and snapshot(again) == snapshot(before)


def test_a_memory_others_can_write_is_ignored(warm):
    world, venv, before, memory = warm
    memory.chmod(0o666)
    assert snapshot(world.scan(venv)) == snapshot(before) and world.walked == [str(venv)]


def test_a_memory_that_is_a_symlink_is_ignored(warm):
    world, venv, before, memory = warm
    moved = memory.with_name("elsewhere")
    memory.rename(moved)
    memory.symlink_to(moved)
    assert snapshot(world.scan(venv)) == snapshot(before) and world.walked == [str(venv)]


def test_directories_changed_just_before_the_scan_are_not_trusted(sandbox, wheels, walks):
    """Within RACY_SECONDS a second change could leave a ctime as it was: the next scan walks again."""
    world = World(sandbox, wheels, VERSIONS[-1], walks)
    venv = world.venv(sandbox.work / "app" / ".venv", "purepkg==1.0")
    world.scan(venv)
    assert world.walked == [str(venv)]
    world.scan(venv)
    assert world.walked == [str(venv)]


def test_a_memory_is_kept_per_cache(warm):
    world, venv, before, _ = warm
    other_cache = world.sandbox.root / "other-cache"
    other_cache.mkdir()
    live = scan_live_set(other_cache, [Root(str(venv), "manual")], world.state)
    assert live.environments[0].state == UNLINKED and world.walked == [str(venv)]
    assert snapshot(world.scan(venv)) == snapshot(before)


def test_the_memory_file_is_private(warm):
    *_, memory = warm
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600


def test_a_moved_cache_linked_back_from_its_old_place_is_noticed(sandbox, wheels, walks, exact_ctimes):
    """Links into an old cache location count once that location leads into this cache again."""
    world = World(sandbox, wheels, VERSIONS[-1], walks)
    venv = world.venv(sandbox.work / "app" / ".venv", "purepkg==1.0")
    moved = sandbox.root / "bigdisk" / "cache"
    moved.parent.mkdir()
    sandbox.cache.rename(moved)
    cold = scan_live_set(moved, [Root(str(venv), "manual")], world.state).environments[0]
    assert cold.state == UNLINKED  # its links lead nowhere now
    sandbox.cache.symlink_to(moved)
    again = scan_live_set(moved, [Root(str(venv), "manual")], world.state).environments[0]
    fresh = scan_live_set(moved, [Root(str(venv), "manual")]).environments[0]
    assert snapshot(again) == snapshot(fresh) and len(fresh.live_entries) == 1


def test_environments_deleted_since_are_forgotten_when_the_memory_is_written(warm):
    world, venv, before, memory = warm
    other = world.venv(world.sandbox.work / "other" / ".venv", "otherpkg")
    world.scan(other)
    assert str(other) in memory.read_text()
    shutil.rmtree(other)
    world.venv(world.sandbox.work / "third" / ".venv")
    world.scan(world.sandbox.work / "third" / ".venv")  # a change: the memory is written again
    assert str(other) not in memory.read_text() and str(venv) in memory.read_text()
