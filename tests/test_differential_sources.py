"""The limited operation on git and URL source distributions, against real uv releases.

uv keeps these in their own parts of the sdists bucket (`git/`, `url/`), finds
a URL sdist's current build through its `revision.http` pointer, and matches
`clean PKG` against the name in each build's `metadata.msgpack`. Each cache
holds a git build (a local repository, `git+file://`), a URL build served from
localhost, and a stale URL build: the served archive changed and uv built it
again, while one environment still links to the first build. Nothing leaves
the machine; only the URL installs go online, to 127.0.0.1.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests import uv_releases
from tests.conftest import make_sandbox
from tests.test_differential import BuiltCache, covered, limited, live_entries, tree
from tests.wheelfactory import build_sdist

pytestmark = pytest.mark.slow

VERSIONS = ["0.5.31", "0.8.24", "0.13.9"]
OPERATIONS = {
    "prune": ["cache", "prune"],
    "prune-ci": ["cache", "prune", "--ci"],
    "clean-packages": ["cache", "clean", "urlpkg", "gitpkg"],
}
ENVIRONMENTS = {"venv-git": "gitpkg", "venv-url-first": "urlpkg", "venv-url-second": "urlpkg"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A directory served over HTTP on 127.0.0.1, and its URL."""
    directory = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield directory, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def git(*args: str, cwd: Path, env: dict) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   cwd=cwd, env=env, check=True, capture_output=True)


def build_source_cache(root: Path, version: str, served, runtime_dir: Path) -> BuiltCache:
    sandbox = make_sandbox(root / "machine")
    env = sandbox.env(UV_CACHE_DIR=str(root / "cache"), XDG_RUNTIME_DIR=str(runtime_dir))
    built = BuiltCache(root, version, "symlink", env)
    online = {k: v for k, v in env.items() if k != "UV_OFFLINE"}  # localhost only
    repo = root / "repo"
    shutil.unpack_archive(build_sdist(root / "sdists", "gitpkg", "1.0"), root / "unpacked", filter="data")
    (root / "unpacked" / "gitpkg-1.0").rename(repo)
    git("init", "-q", cwd=repo, env=env)
    git("add", "-A", cwd=repo, env=env)
    git("commit", "-qm", "gitpkg", cwd=repo, env=env)
    directory, url = served
    archive = directory / version / "urlpkg-1.0.tar.gz"
    build_sdist(archive.parent, "urlpkg", "1.0")
    requirement = {"venv-git": f"gitpkg @ git+file://{repo}",
                   "venv-url-first": f"urlpkg @ {url}/{version}/{archive.name}"}
    requirement["venv-url-second"] = requirement["venv-url-first"]
    for venv, wanted in requirement.items():
        if venv == "venv-url-second":  # the served archive changes: uv builds a new revision
            later = archive.stat().st_mtime + 60
            os.utime(archive, (later, later))  # a new Last-Modified
        built.uv(version, "venv", str(root / venv))
        refresh = ["--refresh-package", "urlpkg"] if venv == "venv-url-second" else []
        subprocess.run([str(uv_releases.path(version)), "pip", "install", "--python", str(root / venv),
                        "--link-mode", "symlink", *refresh, wanted], env=online if "url" in venv else env,
                       cwd=root, check=True, capture_output=True)
    (root / "pristine").mkdir()
    for name in ("cache", *ENVIRONMENTS):
        subprocess.run(["cp", "-a", str(root / name), str(root / "pristine" / name)], check=True)
    return built


@pytest.fixture(scope="module")
def source_caches(tmp_path_factory, served, runtime_dir):
    built: dict[str, BuiltCache] = {}

    def get(version: str) -> BuiltCache:
        if version not in built:
            built[version] = build_source_cache(tmp_path_factory.mktemp(f"sources-{version}"), version, served,
                                                runtime_dir)
        restore(built[version])
        return built[version]

    return get


def restore(built: BuiltCache) -> None:
    for name in ("cache", *ENVIRONMENTS):
        shutil.rmtree(built.root / name, ignore_errors=True)
        subprocess.run(["cp", "-a", str(built.root / "pristine" / name), str(built.root / name)], check=True)


def imports(built: BuiltCache, venv: str) -> str:
    module = ENVIRONMENTS[venv]
    result = subprocess.run([str(built.root / venv / "bin" / "python"), "-c",
                             f"import {module}; print({module}.hello())"], capture_output=True, text=True)
    return result.stdout.strip() or result.stderr.strip().splitlines()[-1]


def test_the_caches_hold_git_url_and_stale_url_builds(source_caches):
    for version in VERSIONS:
        cache = source_caches(version).cache
        assert list(cache.glob("sdists-v*/git/*")), version
        revisions = [p for p in cache.glob("sdists-v*/url/*/*") if p.is_dir()]
        assert len(revisions) >= 2, (version, revisions)  # the stale build and the current one


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("version", VERSIONS)
def test_nothing_live_removes_what_real_uv_removes(source_caches, version, operation):
    built = source_caches(version)
    pristine = tree(built.cache)
    uv_result = built.uv(version, "--cache-dir", str(built.cache), *OPERATIONS[operation])
    expected = tree(built.cache)
    assert expected != pristine, "real uv removed nothing: a vacuous case"
    restore(built)
    output, _ = limited(built, version, OPERATIONS[operation], live={})
    assert tree(built.cache) == expected
    assert output.strip().splitlines()[-1] == uv_result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("version", VERSIONS)
def test_live_builds_survive_and_every_environment_imports(source_caches, version, operation):
    built = source_caches(version)
    pristine = tree(built.cache)
    live: dict[str, list[str]] = {}
    for venv in ENVIRONMENTS:
        for entry, users in live_entries(built.root / venv, built.cache).items():
            live.setdefault(entry, []).extend(users)
    built.uv(version, "--cache-dir", str(built.cache), *OPERATIONS[operation])
    removed_by_uv = pristine - tree(built.cache)
    broken_by_uv = [venv for venv, module in ENVIRONMENTS.items() if imports(built, venv) != f"{module} 1.0"]
    restore(built)
    limited(built, version, OPERATIONS[operation], live)
    assert tree(built.cache) == pristine - {p for p in removed_by_uv if not covered(p, live)}
    assert {venv: imports(built, venv) for venv in ENVIRONMENTS} == {
        venv: f"{module} 1.0" for venv, module in ENVIRONMENTS.items()}
    # Even a plain prune breaks the environment linked to the stale URL build.
    assert broken_by_uv, "real uv broke no environment: a vacuous case"
