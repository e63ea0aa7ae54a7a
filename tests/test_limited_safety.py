"""Safety of the limited operation with real uv: concurrent installs, links planted to outside the cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from types import SimpleNamespace

import pytest

from tests import uv_releases
from tests.test_differential import assert_imports, build_cache, limited, live_entries
from uvguard import messages
from uvguard.invocation import parse
from uvguard.limited import run_limited

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def caches(tmp_path_factory, wheelhouse, runtime_dir):
    built = {}

    def get(writer: str):
        if writer not in built:
            built[writer] = build_cache(tmp_path_factory.mktemp(f"safety-{writer}"), writer, "symlink", wheelhouse,
                                         runtime_dir)
        built[writer].restore()
        return built[writer]

    return get


def python_says(venv, code, env) -> str:
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env)
    return out.stdout.strip() or out.stderr


@pytest.mark.parametrize("version", ["0.8.24", "0.13.9"])
@pytest.mark.parametrize("delay", [0.0, 0.03, 0.15])
def test_concurrent_install_during_limited_prune_leaves_no_broken_environment(caches, wheelhouse, version, delay):
    """Whoever gets uv's lock first, both environments work afterwards.

    If the install holds the shared lock, the prune waits and rescans the live
    set under the lock (as the guard does); if the prune holds it, the install
    waits and then refills the cache.
    """
    built = caches(version)
    venv2 = built.root / "venv2"
    shutil.rmtree(venv2, ignore_errors=True)
    built.uv(version, "venv", str(venv2))
    install = subprocess.Popen(
        [str(uv_releases.path(version)), "pip", "install", "--python", str(venv2), "--no-index",
         "--find-links", str(wheelhouse), "--link-mode", "symlink", "otherpkg", "purepkg==2.0"],
        env=built.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)

    def rescan():
        found = live_entries(built.venv, built.cache)
        if venv2.exists():
            for entry, envs in live_entries(venv2, built.cache).items():
                found.setdefault(entry, []).extend(envs)
        return found

    invocation = parse(["--cache-dir", str(built.cache), "cache", "prune", "--ci"])
    config = SimpleNamespace(cache_dir=built.cache, no_cache=False)
    run_limited(invocation, config, str(uv_releases.path(version)), built.env, rescan(),
                messages.Voice(quiet=1), rescan=rescan)
    assert install.wait(timeout=120) == 0, install.stderr.read()
    assert_imports(built)
    assert python_says(venv2, "import otherpkg, purepkg; print(otherpkg.hello(), purepkg.hello())",
                       built.env) == "otherpkg 1.0 purepkg 2.0"


def plant_escapes(cache, outside):
    """Links to directories and files outside the cache, in every bucket uv prunes, absolute and relative."""
    targets = {}
    for name in ("top", "wheels", "sdists", "envs", "archive", "relative", "file"):
        target = outside / name
        target.mkdir(parents=True)
        (target / "payload.txt").write_text(name)
        targets[name] = target
    wheels = next(cache.glob("wheels-v*"))
    sdists = next(cache.glob("sdists-v*"))
    envs = next(cache.glob("environments-v*"), cache / "environments-v2")
    envs.mkdir(exist_ok=True)
    os.symlink(targets["top"], cache / "escape-top")
    os.symlink(targets["wheels"], wheels / "escape")
    os.symlink(targets["sdists"], sdists / "escape")
    os.symlink(targets["envs"], envs / "escape")
    os.symlink(targets["archive"], cache / "archive-v0" / "escape")
    os.symlink(os.path.relpath(targets["relative"], wheels), wheels / "escape-relative")
    os.symlink(targets["file"] / "payload.txt", cache / "archive-v0" / "escape-file")
    return targets


@pytest.mark.parametrize("operation", [["cache", "prune", "--ci"], ["cache", "prune"],
                                       ["cache", "clean", "speedpkg", "purepkg"], ["cache", "clean"]])
@pytest.mark.parametrize("version", ["0.10.12", "0.11.16", "0.13.9"])
def test_targets_of_links_planted_outside_the_cache_survive(caches, tmp_path, version, operation):
    """0.10.12 and 0.11.16 themselves follow such links while deleting; the skeleton gives them stand-ins."""
    built = caches(version)
    targets = plant_escapes(built.cache, tmp_path / "outside")
    live = live_entries(built.venv, built.cache)
    limited(built, version, operation, live)
    for name, target in targets.items():
        assert (target / "payload.txt").read_text() == name
    assert_imports(built)


def test_real_uv_0_10_12_follows_such_links(caches, tmp_path):
    """Why the skeleton gives outside links stand-ins: this uv empties their targets itself."""
    built = caches("0.10.12")
    targets = plant_escapes(built.cache, tmp_path / "outside")
    built.uv("0.10.12", "--cache-dir", str(built.cache), "cache", "prune", "--ci")
    assert [name for name, target in targets.items() if not (target / "payload.txt").exists()]
