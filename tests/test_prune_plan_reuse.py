"""A plan worked out once (the decision's) is reused under uv's lock only when the cache is proven
unchanged since; any change between the two, or any doubt, works the plan out again with real uv."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import uv_releases
from uvguard import prune_plan
from uvguard.invocation import parse
from uvguard.prune_plan import removal_plan, unchanged

UV = str(uv_releases.path(uv_releases.LATEST))
SETTLED = 0.25  # seconds: parsed files older than this are not "racy" (`skeleton._RACY_NS` is 0.1 s)


def write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def point(cache: Path, package: str, archive: str) -> Path:
    """A wheel pointer as uv 0.13 writes it: a relative link into `archive-v0`, beside its `.http`."""
    wheel = cache / "wheels-v8" / "pypi" / package
    write(wheel / "1.0-py3-none-any.http", b"\x00" * 64)
    link = wheel / "1.0-py3-none-any"
    link.symlink_to(f"../../../archive-v0/{archive}")
    return link


@pytest.fixture
def cache(sandbox) -> Path:
    """uv 0.13's layout: `used` is pointed at, `dead` and `other` are not (a prune removes them)."""
    root = sandbox.cache
    write(root / "CACHEDIR.TAG", b"Signature: 8a477f597d28d172789f06886806bc55")
    for archive in ("used", "dead", "other"):
        write(root / "archive-v0" / archive / "pkg" / "__init__.py")
    point(root, "usedpkg", "used")
    time.sleep(SETTLED)
    return root


@pytest.fixture
def skeletons(monkeypatch) -> list[Path]:
    """Every skeleton built from here on (each one means real uv ran on it)."""
    built: list[Path] = []
    build = prune_plan.build_skeleton
    monkeypatch.setattr(prune_plan, "build_skeleton",
                        lambda cache, skeleton, outside: built.append(skeleton) or build(cache, skeleton, outside))
    return built


def plan(cache: Path, env: dict, previous=None, args=("cache", "prune"), uv: str = UV):
    config = SimpleNamespace(cache_dir=cache, no_cache=False)
    return removal_plan(parse(list(args)), config, uv, env, previous)


def test_an_unchanged_cache_reuses_the_plan_and_runs_no_uv(cache, sandbox, skeletons):
    first = plan(cache, sandbox.env())
    assert first.remove == ("archive-v0/dead", "archive-v0/other")
    assert len(skeletons) == 1
    assert plan(cache, sandbox.env(), previous=first) is first
    assert len(skeletons) == 1


def _add_pointer(cache: Path) -> None:  # an install finished: `dead` is pointed at now
    point(cache, "deadpkg", "dead")


def _retarget_pointer(cache: Path) -> None:  # uv replaces a link by renaming a new one over it
    link = cache / "wheels-v8" / "pypi" / "usedpkg" / "1.0-py3-none-any"
    fresh = link.with_name("fresh")
    fresh.symlink_to("../../../archive-v0/dead")
    os.replace(fresh, link)


def _add_archive(cache: Path) -> None:  # unpacked, not yet pointed at
    write(cache / "archive-v0" / "new" / "pkg" / "__init__.py")


def _copy_bucket(cache: Path) -> None:  # same names, other inodes (a restore from a backup)
    bucket = cache / "wheels-v8"
    shutil.copytree(bucket, cache / "copy", symlinks=True)
    shutil.rmtree(bucket)
    os.rename(cache / "copy", bucket)
    os.unlink(bucket / "pypi" / "usedpkg" / "1.0-py3-none-any")  # and, in it, `used` no longer pointed at


@pytest.mark.parametrize("change", [_add_pointer, _retarget_pointer, _add_archive, _copy_bucket])
def test_a_change_since_is_seen_and_planned_again(cache, sandbox, skeletons, change):
    first = plan(cache, sandbox.env())
    change(cache)
    second = plan(cache, sandbox.env(), previous=first)
    assert len(skeletons) == 2
    assert second.remove != first.remove
    assert second.remove == plan(cache, sandbox.env()).remove


def test_a_parsed_file_rewritten_in_place_is_a_change(cache, sandbox):
    first = plan(cache, sandbox.env())
    uv = prune_plan._uv_basis(parse(["cache", "prune"]), UV, sandbox.env())
    assert unchanged(first, uv)
    http = cache / "wheels-v8" / "pypi" / "usedpkg" / "1.0-py3-none-any.http"
    with open(http, "r+b") as handle:  # same size, same inode: only its mtime tells
        handle.write(b"\x01")
    assert not unchanged(first, uv)


def test_a_parsed_file_written_just_now_is_never_trusted(sandbox, skeletons):
    """Written within a clock tick of the walk, it could change again with the same timestamps."""
    root = sandbox.cache
    write(root / "archive-v0" / "dead" / "pkg" / "__init__.py")
    point(root, "usedpkg", "used")
    first = plan(root, sandbox.env())
    assert first.basis is None
    plan(root, sandbox.env(), previous=first)
    assert len(skeletons) == 2


def test_a_link_leading_out_of_the_cache_is_never_trusted(cache, sandbox, tmp_path, skeletons):
    """Where it leads depends on directories outside the cache, which the basis does not cover."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (cache / "wheels-v8" / "pypi" / "usedpkg" / "out").symlink_to(outside)
    first = plan(cache, sandbox.env())
    assert first.basis is None
    plan(cache, sandbox.env(), previous=first)
    assert len(skeletons) == 2


def test_another_uv_or_another_line_plans_again(cache, sandbox, skeletons):
    first = plan(cache, sandbox.env())
    plan(cache, sandbox.env(), previous=first, uv=str(uv_releases.path("0.12.24")))
    plan(cache, sandbox.env(), previous=first, args=("cache", "prune", "--ci"))
    plan(cache, sandbox.env(UV_PREVIEW="1"), previous=first)
    assert len(skeletons) == 4


def test_a_full_clean_reuses_its_plan_until_the_cache_top_changes(cache, sandbox, monkeypatch):
    asked = []
    kept_by_clean = prune_plan.kept_by_clean
    monkeypatch.setattr(prune_plan, "kept_by_clean", lambda *args: asked.append(1) or kept_by_clean(*args))
    first = plan(cache, sandbox.env(), args=("cache", "clean"))
    assert plan(cache, sandbox.env(), previous=first, args=("cache", "clean")) is first
    assert len(asked) == 1
    write(cache / "simple-v28" / "index")
    second = plan(cache, sandbox.env(), previous=first, args=("cache", "clean"))
    assert "simple-v28" in second.remove and len(asked) == 2

