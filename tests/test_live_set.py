"""The scan, on environments real uv 0.13.9 built offline, and on planted links it must not follow."""

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
from uvguard.live_set import GONE, OK, UNLINKED, UNREADABLE, scan_live_set
from uvguard.roots import Root


def make_env(sandbox, wheelhouse, path: Path, *packages: str, link_mode: str = "symlink") -> Path:
    sandbox.uv("venv", str(path))
    sandbox.uv("pip", "install", "--python", str(path), "--no-index", "--find-links", str(wheelhouse),
               "--link-mode", link_mode, *packages)
    return path


def archive_ids(cache: Path) -> set[str]:
    return {f"archive-v0/{p.name}" for p in (cache / "archive-v0").iterdir()}


def links_into(path: Path, cache: Path) -> set[str]:
    """Independent reference: every absolute link target under `path` that starts with the cache."""
    found = set()
    for link in path.rglob("*"):
        if link.is_symlink() and str(os.readlink(link)).startswith(str(cache) + "/"):
            found.add("/".join(Path(os.readlink(link)).relative_to(cache).parts[:2]))
    return found


def test_symlink_environment_marks_the_archive_entries_it_uses(sandbox, wheelhouse):
    venv = make_env(sandbox, wheelhouse, sandbox.work / "a" / ".venv", "purepkg==1.0", "speedpkg")
    other = make_env(sandbox, wheelhouse, sandbox.work / "b" / ".venv", "otherpkg")
    live = scan_live_set(sandbox.cache, [Root(str(venv), "registry"), Root(str(other), "manual")])
    a, b = live.environments
    assert (a.state, b.state) == (OK, OK)
    assert a.live_entries == links_into(venv, sandbox.cache) and len(a.live_entries) == 2
    assert b.live_entries == links_into(other, sandbox.cache) and len(b.live_entries) == 1
    assert set(live.entries) == archive_ids(sandbox.cache)
    assert all(users == (str(venv),) for entry, users in live.entries.items() if entry in a.live_entries)
    assert not live.uncertain and a.dangling == ()
    json.dumps(live.to_json())


@pytest.mark.parametrize("link_mode", ["hardlink", "copy", "clone"])
def test_environments_that_do_not_link_contribute_nothing(sandbox, wheelhouse, link_mode):
    venv = make_env(sandbox, wheelhouse, sandbox.work / ".venv", "purepkg==1.0", "speedpkg", link_mode=link_mode)
    live = scan_live_set(sandbox.cache, [Root(str(venv), "project")])
    assert live.environments[0].state == UNLINKED
    assert live.entries == {} and not live.uncertain


def test_links_left_dangling_by_a_real_clean_are_reported(sandbox, wheelhouse):
    venv = make_env(sandbox, wheelhouse, sandbox.work / ".venv", "purepkg==1.0")
    sandbox.uv("cache", "clean")
    environment = scan_live_set(sandbox.cache, [Root(str(venv), "project")]).environments[0]
    assert environment.state == OK and environment.live_entries == frozenset()
    init = next(venv.glob("lib/python*/site-packages")) / "purepkg" / "__init__.py"
    assert init.is_symlink() and not init.exists()
    assert str(init) in environment.dangling


def test_cache_named_through_a_symlink_still_matches(sandbox, wheelhouse):
    """uv builds links from the unresolved cache path; compare with realpath on both sides."""
    real_cache = sandbox.root / "real-cache"
    alias = sandbox.root / "alias-cache"
    real_cache.mkdir()
    alias.symlink_to(real_cache)
    venv = sandbox.work / ".venv"
    sandbox.uv("venv", str(venv), env=sandbox.env(UV_CACHE_DIR=str(alias)))
    sandbox.uv("pip", "install", "--python", str(venv), "--no-index", "--find-links", str(wheelhouse),
               "--link-mode", "symlink", "purepkg==1.0", env=sandbox.env(UV_CACHE_DIR=str(alias)))
    assert any(str(os.readlink(p)).startswith(str(alias)) for p in venv.rglob("*.py") if p.is_symlink())
    by_real = scan_live_set(real_cache, [Root(str(venv), "project")]).environments[0]
    by_alias = scan_live_set(alias, [Root(str(venv), "project")]).environments[0]
    assert by_real.live_entries == by_alias.live_entries == archive_ids(real_cache)


def test_a_dot_venv_linked_into_environments_marks_it_and_what_it_uses(sandbox, wheelhouse):
    project = sandbox.work / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1"\nrequires-python = ">=3.8"\ndependencies = ["purepkg==1.0"]\n'
        f'[tool.uv]\nno-index = true\nfind-links = ["{wheelhouse}"]\n')
    sandbox.uv("sync", "--preview-features", "centralized-project-envs", cwd=project,
               env=sandbox.env(UV_LINK_MODE="symlink"))
    assert (project / ".venv").is_symlink()
    environment = scan_live_set(sandbox.cache, [Root(str(project / ".venv"), "project")]).environments[0]
    target = Path(os.readlink(project / ".venv"))
    assert environment.live_entries == {f"environments-v2/{target.name}"} | archive_ids(sandbox.cache)


def test_planted_links_that_escape_the_cache_or_loop_are_not_followed(sandbox, wheelhouse):
    venv = make_env(sandbox, wheelhouse, sandbox.work / ".venv", "purepkg==1.0")
    expected = archive_ids(sandbox.cache)
    outside = sandbox.root / "outside"
    outside.mkdir()
    (sandbox.cache / "archive-v0" / "planted").mkdir()
    # A directory outside the cache full of links into it: reached only through a
    # symlinked directory, so it must not count.
    (outside / "into-cache").symlink_to(sandbox.cache / "archive-v0" / "planted")
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "escape-dir").symlink_to(outside)
    (site / "root-dir").symlink_to("/")
    (site / "escape-relative").symlink_to(os.path.relpath(outside, site))
    (site / "escape-dotdot").symlink_to(f"{sandbox.cache}/archive-v0/../../outside")
    (site / "loop-a").symlink_to(site / "loop-b")
    (site / "loop-b").symlink_to(site / "loop-a")
    (site / "self").symlink_to(".")
    (sandbox.cache / "archive-v0" / "loop").symlink_to("loop")
    (site / "into-loop").symlink_to(sandbox.cache / "archive-v0" / "loop")
    environment = scan_live_set(sandbox.cache, [Root(str(venv), "project")]).environments[0]
    assert environment.state == OK
    assert environment.live_entries == expected | {"archive-v0/loop"}
    assert environment.dangling == ()


def test_a_relative_link_into_the_cache_counts(sandbox):
    entry = sandbox.cache / "archive-v0" / "abc" / "pkg"
    entry.mkdir(parents=True)
    (entry / "mod.py").write_text("")
    env = sandbox.work / "env" / "lib"
    env.mkdir(parents=True)
    (env / "mod.py").symlink_to(os.path.relpath(entry / "mod.py", env))
    (env / "gone.py").symlink_to(os.path.relpath(entry / "gone.py", env))
    environment = scan_live_set(sandbox.cache, [Root(str(sandbox.work / "env"), "manual")]).environments[0]
    assert environment.live_entries == {"archive-v0/abc"}
    assert environment.dangling == (str(env / "gone.py"),)


def test_missing_root_is_gone_and_an_environment_pointing_elsewhere_is_unlinked(sandbox):
    (sandbox.work / "plain").mkdir()
    live = scan_live_set(sandbox.cache, [Root(str(sandbox.work / "missing"), "VIRTUAL_ENV"),
                                        Root(str(sandbox.work / "plain"), "policy")])
    assert [env.state for env in live.environments] == [GONE, UNLINKED]
    assert not live.uncertain


# --- unreadable roots: only meaningful for a user that permissions stop ---------------------------

_SCAN_AS_USER = """
import json, sys
from uvguard.live_set import scan_live_set
from uvguard.roots import Root
cache, *paths = sys.argv[1:]
live = scan_live_set(cache, [Root(p, "registry") for p in paths])
print(json.dumps(live.to_json()))
"""


def _scan_unprivileged(cache: Path, *paths: Path) -> dict:
    command = [*unprivileged_command(), sys.executable]
    out = subprocess.run([*command, "-c", _SCAN_AS_USER, str(cache), *map(str, paths)],
                         capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": os.defpath},
                         cwd="/")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def shared_dir():
    """A directory an unprivileged user can reach (pytest's tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="uvguard-live-set-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for directory, dirs, _ in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(directory, name), 0o755)
    shutil.rmtree(path)


def _world_readable(path: Path) -> None:
    for directory, _dirs, _files in os.walk(path):
        os.chmod(directory, 0o755)


def test_an_unreadable_root_makes_the_live_set_uncertain(shared_dir):
    cache = shared_dir / "cache"
    (cache / "archive-v0" / "abc").mkdir(parents=True)
    (cache / "archive-v0" / "abc" / "mod.py").write_text("")
    for name in ("readable", "locked", "nested"):
        (shared_dir / name / "lib").mkdir(parents=True)
        (shared_dir / name / "lib" / "mod.py").symlink_to(cache / "archive-v0" / "abc" / "mod.py")
    (shared_dir / "parent-locked" / "env").mkdir(parents=True)
    _world_readable(shared_dir)
    roots = [shared_dir / "readable", shared_dir / "locked", shared_dir / "nested",
             shared_dir / "parent-locked" / "env"]

    before = _scan_unprivileged(cache, *roots)
    assert [e["state"] for e in before["environments"]] == ["ok", "ok", "ok", "unlinked"]
    assert not before["uncertain"]

    (shared_dir / "locked").chmod(0o000)
    (shared_dir / "nested" / "lib").chmod(0o000)
    (shared_dir / "parent-locked").chmod(0o000)
    after = _scan_unprivileged(cache, *roots)
    states = {Path(e["path"]).relative_to(shared_dir).as_posix(): e["state"] for e in after["environments"]}
    assert states == {"readable": OK, "locked": UNREADABLE, "nested": UNREADABLE,
                      "parent-locked/env": UNREADABLE}
    assert after["uncertain"] is True
    assert len(after["reasons"]) == 3 and all("ermission denied" in r for r in after["reasons"])
    assert after["entries"] == {"archive-v0/abc": [str(shared_dir / "readable")]}


def test_links_to_the_filesystem_root_or_dot_dot_names_resolve_safely(sandbox):
    entry = sandbox.cache / "archive-v0" / "abc"
    entry.mkdir(parents=True)
    env = sandbox.work / "env"
    env.mkdir()
    (env / "to-root").symlink_to("/")
    (env / "to-top").symlink_to("/tmp")
    (env / "up").symlink_to(f"{entry}/sub/..")
    (env / "dotted").symlink_to(f"{sandbox.cache}/./archive-v0//abc/")
    environment = scan_live_set(sandbox.cache, [Root(str(env), "manual")]).environments[0]
    assert environment.live_entries == {"archive-v0/abc"} and environment.dangling == ()


# --- links inside the cache on the way (uv 0.11.25+ preview: environments-v2/<x>/<y> -> ../../archive-v0/<E>) ---

def cached_environment(cache: Path, name: str = "E") -> Path:
    """A hand-built cache as centralized project environments leave it: the environment is an archive
    entry whose files link (absolutely) into a wheel's entry, reached through `environments-v2/abc/def`."""
    wheel = cache / "archive-v0" / "W" / "pkg"
    wheel.mkdir(parents=True, exist_ok=True)
    (wheel / "mod.py").write_text("")
    site = cache / "archive-v0" / name / "lib" / "python3.12" / "site-packages" / "pkg"
    site.mkdir(parents=True)
    (site / "mod.py").symlink_to(wheel / "mod.py")
    (cache / "environments-v2" / "abc").mkdir(parents=True, exist_ok=True)
    link = cache / "environments-v2" / "abc" / "def"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(f"../../archive-v0/{name}")
    return link


def test_a_dot_venv_reaching_an_archive_through_a_cached_environment_link_keeps_both(sandbox):
    venv = sandbox.work / "proj" / ".venv"
    venv.parent.mkdir()
    venv.symlink_to(cached_environment(sandbox.cache))
    live = scan_live_set(sandbox.cache, [Root(str(venv), "project")])
    assert set(live.entries) == {"archive-v0/W", "archive-v0/E", "environments-v2/abc"}
    assert live.environments[0].state == OK and live.environments[0].dangling == ()


def test_links_inside_an_environment_through_a_cached_environment_link_keep_every_hop(sandbox):
    environment_link = cached_environment(sandbox.cache)
    env = sandbox.work / "env" / "lib"
    env.mkdir(parents=True)
    # A file through the link (its parent resolves elsewhere), and a directory link to the link itself.
    (env / "mod.py").symlink_to(environment_link / "lib" / "python3.12" / "site-packages" / "pkg" / "mod.py")
    (env / "site").symlink_to(environment_link)
    environment = scan_live_set(sandbox.cache, [Root(str(env.parent), "manual")]).environments[0]
    assert environment.live_entries == {"archive-v0/W", "archive-v0/E", "environments-v2/abc"}


def test_a_remembered_scan_notices_a_cached_environment_link_retargeted(sandbox, monkeypatch):
    """The link inside the cache can change while the environment's directories do not: never remembered."""
    from uvguard import scanmemory

    monkeypatch.setattr(scanmemory, "RACY_SECONDS", 0)
    state = str(sandbox.root / "state")
    env = sandbox.work / "env" / "lib"
    env.mkdir(parents=True)
    (env / "site").symlink_to(cached_environment(sandbox.cache))
    first = scan_live_set(sandbox.cache, [Root(str(env.parent), "manual")], state).environments[0]
    assert first.live_entries == {"environments-v2/abc", "archive-v0/E"}
    cached_environment(sandbox.cache, "E2")
    again = scan_live_set(sandbox.cache, [Root(str(env.parent), "manual")], state).environments[0]
    assert again.live_entries == {"environments-v2/abc", "archive-v0/E2"}


def test_a_link_outside_the_cache_leading_into_it_keeps_where_it_ends(sandbox):
    cached_environment(sandbox.cache)
    outside = sandbox.root / "outside"
    outside.mkdir()
    (outside / "hop").symlink_to(sandbox.cache / "archive-v0" / "E")
    env = sandbox.work / "env"
    env.mkdir()
    (env / "site").symlink_to(outside / "hop")
    environment = scan_live_set(sandbox.cache, [Root(str(env), "manual")]).environments[0]
    assert environment.live_entries == {"archive-v0/E"}
