"""The limited operation against real uv releases, on real caches built by real installs.

Each cache is built once per module at a fixed path and restored from a
pristine copy before every run, so real uv and the limited operation see the
identical cache at the identical path (absolute links of uv <= 0.11.16 keep
pointing where they did). Then:
1. nothing live: the limited operation leaves exactly what real uv leaves;
2. live environments: it leaves that plus the live entries, and every
   environment still imports (a compiled `.so` and an sdist-built package).
The skeleton is built where uvguard builds it on a machine with /dev/shm (a
memory filesystem, files copied); a few cases build it in the cache instead
(hard links), as when no memory filesystem is usable.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import uv_releases
from tests.conftest import make_sandbox
from uvguard import messages, prune_plan
from uvguard.errors import OperationFailed
from uvguard.invocation import parse
from uvguard.limited import run_limited

pytestmark = pytest.mark.slow

# (uv that writes the cache, link mode); the pruning uv is chosen per scenario.
SAME_VERSION = ["0.5.31", "0.6.4", "0.8.18", "0.8.24", "0.10.12", "0.11.16", "0.11.33", "0.13.9"]
SCENARIOS = (
    [(v, v, "symlink") for v in SAME_VERSION]
    + [("0.13.9", "0.13.9", "copy"), ("0.8.24", "0.8.24", "hardlink")]
    # Written by an older uv, pruned by a newer one: stale buckets, absolute links.
    + [("0.8.18", "0.13.9", "symlink"), ("0.11.16", "0.13.9", "symlink"), ("0.5.31", "0.6.4", "symlink")]
)
OPERATIONS = {
    "prune": ["cache", "prune"],
    "prune-ci": ["cache", "prune", "--ci"],
    "clean-packages": ["cache", "clean", "speedpkg", "sdistpkg"],
}
MARKERS = {"CACHEDIR.TAG", ".gitignore", ".lock"}


@dataclass
class BuiltCache:
    """A cache and a venv built by one uv release, restorable to their pristine state."""

    root: Path
    writer: str
    link_mode: str
    env: dict

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    def restore(self) -> None:
        for name in ("cache", "venv"):
            shutil.rmtree(self.root / name, ignore_errors=True)
            subprocess.run(["cp", "-a", str(self.root / "pristine" / name), str(self.root / name)], check=True)

    def uv(self, version: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(uv_releases.path(version)), *args], env=self.env, cwd=self.root,
                                capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"uv {version} {args}: {result.returncode}\n{result.stderr}")
        return result


def build_cache(root: Path, writer: str, link_mode: str, wheelhouse: Path, runtime_dir: Path) -> BuiltCache:
    """Install wheels (one compiled), a local sdist and a cached `--with` environment with `writer`."""
    sandbox = make_sandbox(root / "machine")
    built = BuiltCache(root, writer, link_mode,
                       sandbox.env(UV_CACHE_DIR=str(root / "cache"), XDG_RUNTIME_DIR=str(runtime_dir)))
    find = ["--no-index", "--find-links", str(wheelhouse)]
    built.uv(writer, "venv", str(built.venv))
    built.uv(writer, "pip", "install", "--python", str(built.venv), *find, "--link-mode", link_mode,
             "speedpkg", "sdistpkg", "purepkg==1.0")
    scratch = root / "scratch-venv"
    built.uv(writer, "venv", str(scratch))
    built.uv(writer, "pip", "install", "--python", str(scratch), *find, "otherpkg", "toolpkg")
    built.uv(writer, "run", "--no-project", *find, "--with", "purepkg==2.0", "python", "-c", "pass")
    # An archive nothing references any more: drop otherpkg's wheel-bucket entry.
    for entry in built.cache.glob("wheels-v*/*/otherpkg"):
        shutil.rmtree(entry)
    (built.cache / "junk-v0" / "deep").mkdir(parents=True)
    (built.cache / "junk-v0" / "deep" / "file.txt").write_text("stale bucket")
    (built.cache / "stray.txt").write_text("stray top-level file")
    (root / "pristine").mkdir()
    for name in ("cache", "venv"):
        subprocess.run(["cp", "-a", str(root / name), str(root / "pristine" / name)], check=True)
    return built


@pytest.fixture(scope="module")
def caches(tmp_path_factory, wheelhouse, runtime_dir):
    """Built caches by (writer, link mode), made on first use and kept for the module."""
    built: dict[tuple[str, str], BuiltCache] = {}

    def get(writer: str, link_mode: str) -> BuiltCache:
        key = (writer, link_mode)
        if key not in built:
            root = tmp_path_factory.mktemp(f"cache-{writer}-{link_mode}")
            built[key] = build_cache(root, writer, link_mode, wheelhouse, runtime_dir)
        built[key].restore()
        return built[key]

    return get


def tree(root: Path) -> set[str]:
    """Every path below `root`, relative, links not followed; uv's lock file left out."""
    paths = set()
    for directory, dirs, files in os.walk(root):
        rel = os.path.relpath(directory, root)
        for name in dirs + files:
            paths.add(name if rel == "." else f"{rel}/{name}")
    return paths - {".lock"}


def live_entries(venv: Path, cache: Path) -> dict[str, list[str]]:
    """Top-level cache entries the venv's symlinks land in (computed here, independently of live_set)."""
    real_cache = Path(os.path.realpath(cache))
    entries: dict[str, list[str]] = {}
    for directory, dirs, files in os.walk(venv):
        for name in dirs + files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                try:
                    rel = Path(os.path.realpath(path)).relative_to(real_cache)
                except ValueError:
                    continue
                entries.setdefault("/".join(rel.parts[:2]), []).append(str(venv))
    return entries


def limited(built: BuiltCache, pruner: str, args: list[str], live: dict) -> tuple[str, object]:
    invocation = parse(["--cache-dir", str(built.cache), *args])
    config = SimpleNamespace(cache_dir=built.cache, no_cache=False)
    stream = io.StringIO()
    result = run_limited(invocation, config, str(uv_releases.path(pruner)), built.env, live,
                         messages.Voice(), stream=stream)
    return stream.getvalue(), result


def assert_imports(built: BuiltCache) -> None:
    out = subprocess.run(
        [str(built.venv / "bin" / "python"), "-c",
         "import speedpkg, sdistpkg, purepkg; print(speedpkg.answer(), sdistpkg.hello(), purepkg.hello())"],
        capture_output=True, text=True, env=built.env)
    assert out.stdout.split() == ["1.0", "sdistpkg", "1.0", "purepkg", "1.0"], out.stderr


def covered(path: str, entries) -> bool:
    """`path` is a live entry, below one, or a directory holding one."""
    return any(path == e or path.startswith(e + "/") or e.startswith(path + "/") for e in entries)


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("writer,pruner,link_mode", SCENARIOS)
def test_nothing_live_removes_what_real_uv_removes(caches, writer, pruner, link_mode, operation):
    built = caches(writer, link_mode)
    uv_result = built.uv(pruner, "--cache-dir", str(built.cache), *OPERATIONS[operation], check=False)
    if uv_result.returncode != 0:
        # uv itself fails here (0.6.4 `prune --ci` on a 0.5.31 cache has no sdists-v8): so do we,
        # before removing anything.
        built.restore()
        with pytest.raises(OperationFailed, match="nothing was removed"):
            limited(built, pruner, OPERATIONS[operation], live={})
        assert tree(built.cache) == tree(built.root / "pristine" / "cache")
        return
    expected, uv_stderr = tree(built.cache), uv_result.stderr
    if writer == pruner or operation != "clean-packages":  # a newer uv cleans no package from stale buckets
        assert expected != tree(built.root / "pristine" / "cache"), "real uv removed nothing: a vacuous case"
    built.restore()
    output, result = limited(built, pruner, OPERATIONS[operation], live={})
    assert tree(built.cache) == expected
    assert not result.kept
    assert not list(built.cache.glob(".uvguard-skeleton-*"))
    # Sizes too: logical up to 0.11, space actually freed since 0.12, as `size_accounting` finds out.
    assert output.strip().splitlines()[-1] == uv_stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("writer,pruner", [("0.13.9", "0.13.9"), ("0.8.18", "0.8.18"), ("0.8.18", "0.13.9")])
def test_a_skeleton_in_the_cache_plans_the_same(caches, writer, pruner, operation, monkeypatch):
    """No memory filesystem usable: the skeleton goes into the cache, with hard links; same plan."""
    built = caches(writer, "symlink")
    uv_result = built.uv(pruner, "--cache-dir", str(built.cache), *OPERATIONS[operation])
    expected = tree(built.cache)
    built.restore()
    monkeypatch.setattr(prune_plan, "memory_dirs", lambda env: [])
    made_in = []
    build_skeleton = prune_plan.build_skeleton
    monkeypatch.setattr(prune_plan, "build_skeleton",
                        lambda cache, skeleton, outside: made_in.append(skeleton)
                        or build_skeleton(cache, skeleton, outside))
    output, _ = limited(built, pruner, OPERATIONS[operation], live={})
    assert [path.parent.parent for path in made_in] == [built.cache]
    assert tree(built.cache) == expected
    assert output.strip().splitlines()[-1] == uv_result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("writer,pruner,link_mode", [s for s in SCENARIOS if s[2] == "symlink"])
def test_live_entries_survive_and_environments_import(caches, writer, pruner, link_mode, operation):
    built = caches(writer, link_mode)
    pristine = tree(built.cache)
    live = live_entries(built.venv, built.cache)
    assert any(entry.startswith("archive-v0/") for entry in live)
    uv_result = built.uv(pruner, "--cache-dir", str(built.cache), *OPERATIONS[operation], check=False)
    if uv_result.returncode != 0:
        pytest.skip("real uv fails on this cache (covered by the nothing-live test)")
    removed_by_uv = pristine - tree(built.cache)
    built.restore()
    output, result = limited(built, pruner, OPERATIONS[operation], live)
    remaining = tree(built.cache)
    assert remaining == pristine - {p for p in removed_by_uv if not covered(p, live)}
    assert set(result.kept) <= set(live)
    if set(result.kept):
        assert f"kept {len(result.kept)} entr" in output and "used by 1 environment" in output
    assert_imports(built)


@pytest.mark.parametrize("writer", SAME_VERSION + ["0.12.24"])
def test_nothing_live_clean_removes_what_real_uv_removes(caches, writer):
    """A full clean: the markers go too, and `.lock` and the cache dir itself up to 0.12.24 (issue 13:
    a limited clean used to leave CACHEDIR.TAG and .gitignore and report fewer files than uv)."""
    built = caches(writer, "symlink")
    uv_result = built.uv(writer, "--cache-dir", str(built.cache), "cache", "clean")
    expected = (built.cache.is_dir(), sorted(os.listdir(built.cache)) if built.cache.is_dir() else None)
    assert expected[1] in (None, [".lock"]), "real uv left more than its lock: a vacuous case"
    built.restore()
    output, result = limited(built, writer, ["cache", "clean"], live={})
    assert (built.cache.is_dir(), sorted(os.listdir(built.cache)) if built.cache.is_dir() else None) == expected
    assert output.strip().splitlines()[-1] == uv_result.stderr.strip().splitlines()[-1]
    assert output.startswith("Clearing cache at: ") and not result.kept


@pytest.mark.parametrize("writer", ["0.8.18", "0.13.9"])
def test_limited_clean_keeps_only_live_entries_and_markers(caches, writer):
    built = caches(writer, "symlink")
    live = live_entries(built.venv, built.cache)
    output, result = limited(built, writer, ["cache", "clean"], live)
    assert {p for p in tree(built.cache) if not covered(p, live)} <= MARKERS
    assert set(result.kept) == set(live)
    assert output.startswith("Clearing cache at: ")
    assert_imports(built)


@pytest.mark.parametrize("version", uv_releases.pinned())
def test_every_uv_prunes_a_skeleton_left_behind_by_a_crash(sandbox, version):
    """The skeleton lives in `<cache>/.uvguard-skeleton-*`: any uv's own prune must remove it."""
    leftover = sandbox.cache / ".uvguard-skeleton-crashed" / "cache" / "archive-v0"
    leftover.mkdir(parents=True)
    (leftover / "entry").write_text("")
    sandbox.uv("--cache-dir", str(sandbox.cache), "cache", "prune", version=version)
    assert not (sandbox.cache / ".uvguard-skeleton-crashed").exists()


@pytest.mark.parametrize("suffix", ["/", "/."])
def test_an_archive_linked_with_a_trailing_slash_stays_as_real_uv_keeps_it(caches, suffix):
    """uv <= 0.11.16 writes absolute links; one ending in `/` still references its archive."""
    built = caches("0.11.16", "symlink")

    def add_trailing_slash() -> None:
        link = next(built.cache.glob("wheels-v*/*/*/toolpkg/1.0-py3-none-any"))
        text = os.readlink(link)
        link.unlink()
        link.symlink_to(text + suffix)

    add_trailing_slash()
    built.uv("0.11.16", "--cache-dir", str(built.cache), "cache", "prune")
    expected = tree(built.cache)
    built.restore()
    add_trailing_slash()
    limited(built, "0.11.16", ["cache", "prune"], live={})
    assert tree(built.cache) == expected
