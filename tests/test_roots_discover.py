"""`uvguard roots discover`: environments made with bare uv, found and then kept by the guard.

Real uv 0.13.9 makes the environments directly (no shim, so the registry
never hears of them), in symlink mode, from local wheels, offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import REPO, unprivileged_command, uv_path
from uvguard.discover import MAX_DEPTH, discover

UVGUARD = (sys.executable, "-c", "from uvguard.cli import main; raise SystemExit(main())")


def uvguard(sandbox, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*UVGUARD, *args], env=sandbox.env(UVGUARD_REAL_UV=str(uv_path())), cwd=sandbox.work,
                          capture_output=True, text=True)


def bare_env(sandbox, wheelhouse: Path, path: Path, link_mode: str = "symlink") -> Path:
    """An environment with a compiled package, made by the real uv with no shim in between."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sandbox.uv("venv", "-q", str(path))
    sandbox.uv("pip", "install", "-q", "--link-mode", link_mode, "--no-index", "--find-links", str(wheelhouse),
               "--python", str(path), "speedpkg", "purepkg")
    return path


def imports(venv: Path) -> subprocess.CompletedProcess:
    """The compiled submodule: a package whose files are gone would still import as a namespace."""
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import speedpkg._speed, purepkg; purepkg.hello()"],
                          capture_output=True, text=True)


def clean_decision(sandbox) -> dict:
    return json.loads(uvguard(sandbox, "check", "--json", "cache", "clean", "speedpkg").stdout)


def test_discovered_environment_survives_the_next_guarded_clean(sandbox, wheelhouse, shim):
    projects = sandbox.work / "projects"
    found = bare_env(sandbox, wheelhouse, projects / "app" / ".venv")
    copied = bare_env(sandbox, wheelhouse, projects / "copied" / ".venv", link_mode="copy")
    elsewhere = sandbox.work / "elsewhere"
    shutil.copytree(found, elsewhere / ".venv", symlinks=True)
    (projects / "link-to-elsewhere").symlink_to(elsewhere)  # a symlinked directory is never followed
    # The control: before discovery the guard knows no environment; the clean would take everything.
    before = clean_decision(sandbox)
    assert before["live_environments"] == [] and before["protected_entries"] == []

    dry = uvguard(sandbox, "roots", "discover", "--dry-run", "--json", str(projects))
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert [e["path"] for e in report["environments"]] == [str(found)]
    assert report["environments"][0]["cache_dir"] == str(sandbox.cache)
    assert report["environments"][0]["registered"] is False
    assert str(found) not in uvguard(sandbox, "roots", "--json").stdout  # a dry run registers nothing

    result = uvguard(sandbox, "roots", "discover", str(projects))
    assert result.returncode == 0, result.stderr
    assert f"{found}  registered  (links into {sandbox.cache})" in result.stdout
    again = uvguard(sandbox, "roots", "discover", str(projects))
    assert f"{found}  already registered" in again.stdout
    roots = json.loads(uvguard(sandbox, "roots", "--json").stdout)["roots"]
    assert {"path": str(found), "origins": ["manual"]}.items() <= next(
        r for r in roots if r["path"] == str(found)).items()
    assert str(copied) not in {r["path"] for r in roots}

    clean = subprocess.run([str(shim), "cache", "clean", "speedpkg"], env=sandbox.env(), cwd=sandbox.work,
                           capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert imports(found).returncode == 0, imports(found).stderr
    assert imports(copied).returncode == 0
    assert clean_decision(sandbox)["live_environments"]


def test_the_walk_is_bounded_and_stops_at_an_environment(sandbox, wheelhouse):
    root = sandbox.work / "tree"
    deep = root.joinpath(*[f"d{i}" for i in range(MAX_DEPTH - 1)], ".venv")  # MAX_DEPTH below `root`
    too_deep = root.joinpath(*[f"d{i}" for i in range(MAX_DEPTH)], ".venv")
    for venv in (deep, too_deep):
        bare_env(sandbox, wheelhouse, venv)
    nested = deep / "inner" / ".venv"  # inside an environment: not looked at
    shutil.copytree(deep, nested, symlinks=True)
    found = discover([str(root)], str(sandbox.work))
    assert [f.path for f in found.found] == [str(deep)]
    assert discover(["missing"], str(sandbox.work)).skipped[0].reason == "not a directory"


def test_a_venv_that_is_a_link_is_found_under_its_own_name(sandbox, wheelhouse):
    """uv writes through a `.venv` link; walking through other links stays off."""
    real = bare_env(sandbox, wheelhouse, sandbox.work / "fast-disk" / "app-venv")
    project = sandbox.work / "projects" / "app"
    project.mkdir(parents=True)
    (project / ".venv").symlink_to(real)
    (sandbox.work / "projects" / "to-fast-disk").symlink_to(real.parent)  # not an environment: not followed
    found = discover([str(sandbox.work / "projects")], str(sandbox.work))
    assert [(f.path, f.cache_dir) for f in found.found] == [(str(project / ".venv"), str(sandbox.cache))]


def test_an_unreadable_directory_is_skipped_with_a_note():
    """Only meaningful for a user that permissions stop: run as nobody when we are root."""
    as_user = unprivileged_command()
    shared = Path(tempfile.mkdtemp(prefix="uvguard-discover-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        locked = shared / "locked"
        locked.mkdir()
        locked.chmod(0)
        result = subprocess.run([*as_user, *UVGUARD, "roots", "discover", "--dry-run", str(shared)],
                                capture_output=True, text=True, cwd="/",
                                env={"PYTHONPATH": str(REPO), "PATH": os.defpath, "HOME": str(shared)})
        assert result.returncode == 0, result.stderr
        assert f"warning: skipped `{locked}`: Permission denied" in result.stderr
        assert "no environments linking into a uv cache found" in result.stdout
    finally:
        locked.chmod(0o755)
        shutil.rmtree(shared)
