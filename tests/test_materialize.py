"""`uvguard materialize`: after it, a real `uv cache clean` no longer breaks the environment."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.test_doctor import SPEED_WORKS, build_data_wheel, doctor_json, run_python, symlink_env, tool_output, uvguard


def links_into(env: Path, cache: Path) -> list[Path]:
    real_cache = os.path.realpath(cache)
    return [path for path in env.rglob("*")
            if path.is_symlink() and os.path.realpath(path).startswith(real_cache + os.sep)]


def test_materialized_environment_survives_a_real_cache_clean(sandbox, wheelhouse, tmp_path):
    build_data_wheel(tmp_path)
    shutil.copy(next(wheelhouse.glob("speedpkg-*.whl")), tmp_path)
    shutil.copy(next(wheelhouse.glob("toolpkg-*.whl")), tmp_path)
    env = symlink_env(sandbox, tmp_path, ".venv", "speedpkg", "toolpkg", "datapkg")
    links = links_into(env, sandbox.cache)
    targets = [os.path.realpath(path) for path in links]
    expected_bytes = sum(path.stat().st_size for path in links)
    assert len(links) > 8

    result = uvguard(sandbox, "materialize", str(env))
    assert result.returncode == 0, result.stderr
    assert f"materialized {len(links)} files" in result.stdout
    if expected_bytes >= 1024:
        assert f"({expected_bytes / 1024:.1f}KiB now held by the environment" in result.stdout
    assert links_into(env, sandbox.cache) == []
    assert all(path.is_file() and not path.is_symlink() for path in links)
    # The interpreter link leads out of the environment but not into the cache: left alone.
    assert (env / "bin" / "python").is_symlink()
    assert not list(env.rglob("*.uvguard-materialize"))

    sandbox.uv("cache", "clean")
    assert not any(os.path.exists(target) for target in targets)
    assert run_python(sandbox, env, SPEED_WORKS + "; import datapkg").returncode == 0
    assert tool_output(sandbox, env).strip() == "toolpkg 1.0"
    assert (env / "share" / "datapkg" / "notes.txt").read_text() == "notes\n"
    assert doctor_json(sandbox, env)[0] == 0


def test_same_filesystem_gives_hard_links_to_the_cache_files(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg")
    links = {path: os.path.realpath(path) for path in links_into(env, sandbox.cache)}
    result = uvguard(sandbox, "materialize", str(env))
    assert result.returncode == 0 and f"{len(links)} hard links, 0 copied" in result.stdout
    assert all(os.path.samefile(path, target) for path, target in links.items())


def test_other_filesystem_gives_copies(sandbox, wheelhouse):
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(sandbox.root).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm) to put the environment on")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        env = Path(other) / "venv"
        sandbox.uv("venv", str(env))
        sandbox.uv("pip", "install", "--python", str(env), "--no-index", "--find-links", str(wheelhouse),
                   "--link-mode", "symlink", "speedpkg")
        count = len(links_into(env, sandbox.cache))
        result = uvguard(sandbox, "materialize", str(env))
        assert result.returncode == 0 and f"0 hard links, {count} copied" in result.stdout
        sandbox.uv("cache", "clean")
        assert run_python(sandbox, env, SPEED_WORKS).returncode == 0


def test_stale_temporary_hard_linked_to_the_cache_is_never_written_through(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg")
    init = next(env.glob("lib/python*/site-packages/speedpkg/__init__.py"))
    cached = Path(os.path.realpath(init))
    original = cached.read_bytes()
    os.link(cached, init.parent / f".{init.name}.uvguard-materialize")  # as an interrupted run leaves it
    result = uvguard(sandbox, "materialize", str(env))
    assert result.returncode == 0, result.stderr
    assert cached.read_bytes() == original and init.read_bytes() == original and not init.is_symlink()
    assert not list(env.rglob("*.uvguard-materialize"))


def test_dangling_links_are_left_for_repair(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg", "purepkg==1.0")
    sandbox.uv("cache", "clean", "speedpkg")
    result = uvguard(sandbox, "materialize", str(env))
    assert result.returncode == 1
    assert "4 links into the cache already dangle" in result.stderr
    assert f"uvguard repair {env}" in result.stderr
    site = next(env.glob("lib/python*/site-packages"))
    assert not (site / "purepkg" / "__init__.py").is_symlink()
    sandbox.uv("cache", "clean")
    assert run_python(sandbox, env, "import purepkg; purepkg.hello()").returncode == 0


def test_not_an_environment_exits_2(sandbox):
    (sandbox.work / "plain").mkdir()
    result = uvguard(sandbox, "materialize", str(sandbox.work / "plain"))
    assert result.returncode == 2 and "is not a Python environment" in result.stderr
    assert "Traceback" not in result.stderr


def test_materialize_needs_an_environment_named(sandbox):
    result = uvguard(sandbox, "materialize")
    assert result.returncode == 2 and "name at least one environment" in result.stderr
