"""`uvguard prune` / `uvguard clean`, dry run and real, as a user runs them (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import uv_releases


@pytest.fixture
def project(sandbox, wheelhouse):
    """A symlink-mode .venv (the live environment, found through VIRTUAL_ENV) and a dead archive."""
    venv = sandbox.work / ".venv"
    find = ["--no-index", "--find-links", str(wheelhouse)]
    sandbox.uv("venv", str(venv))
    sandbox.uv("pip", "install", "--python", str(venv), *find, "--link-mode", "symlink", "speedpkg", "sdistpkg")
    scratch = sandbox.work / "scratch"
    sandbox.uv("venv", str(scratch))
    sandbox.uv("pip", "install", "--python", str(scratch), *find, "otherpkg")
    env = sandbox.env(UVGUARD_REAL_UV=str(uv_releases.path(uv_releases.LATEST)), VIRTUAL_ENV=str(venv))
    return venv, env


def uvguard(sandbox, env, *args):
    return subprocess.run([sys.executable, "-c", "import sys; from uvguard.cli import main; sys.exit(main())", *args],
                          env=env, cwd=sandbox.work, capture_output=True, text=True)


def test_dry_run_lists_removals_and_live_entries_and_removes_nothing(sandbox, project):
    venv, env = project
    before = sorted(p.relative_to(sandbox.cache) for p in sandbox.cache.rglob("*"))
    out = uvguard(sandbox, env, "prune", "--ci", "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["operation"] == "prune-ci" and report["cache_dir"] == str(sandbox.cache)
    kept = {item["path"] for item in report["keep"]}
    assert len(kept) == 2 and all(p.startswith("archive-v0/") for p in kept)
    assert all(item["environments"] == [str(venv)] and item["bytes"] > 0 for item in report["keep"])
    removed = {item["path"] for item in report["remove"]}
    assert any(p.startswith("archive-v0/") for p in removed)  # otherpkg's archive, no longer referenced
    assert any(p.startswith("wheels-v") for p in removed) and not kept & removed
    assert sorted(p.relative_to(sandbox.cache) for p in sandbox.cache.rglob("*")) == before
    human = uvguard(sandbox, env, "prune", "--ci", "--dry-run")
    assert "Would keep (live):" in human.stdout and "used by 1 environment" in human.stdout


def test_clean_package_dry_run_takes_uv_global_options(sandbox, project):
    venv, env = project
    env = dict(env)
    del env["UV_CACHE_DIR"]
    out = uvguard(sandbox, env, "clean", "speedpkg", "--cache-dir", str(sandbox.cache), "--no-config",
                  "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["operation"] == "clean-packages"
    assert [item["path"].rsplit("/", 1)[-1] for item in report["remove"]] == ["speedpkg"]
    assert len(report["keep"]) == 1


def test_prune_ci_for_real_keeps_the_environment_working(sandbox, project):
    venv, env = project
    out = uvguard(sandbox, env, "prune", "--ci")
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines()[-1].endswith("kept 2 entries used by 1 environment")
    answer = subprocess.run([str(venv / "bin" / "python"), "-c", "import speedpkg, sdistpkg; print(speedpkg.answer())"],
                            capture_output=True, text=True, env=env)
    assert answer.stdout.strip() == "1.0", answer.stderr
    assert not list(sandbox.cache.glob("wheels-v*/*"))


def test_a_line_uv_would_reject_is_a_usage_error(sandbox, project):
    _, env = project
    out = uvguard(sandbox, env, "prune", "--bogus")
    assert out.returncode == 2
    assert out.stderr.startswith("error: `uv cache prune --bogus` is not a command line uv would accept")


def test_a_line_uv_refuses_is_refused_unchanged_whatever_the_decision(sandbox, project):
    """A plain prune removes nothing live (the policy allows it), yet uv rejects the project's uv.toml."""
    _, env = project
    (sandbox.work / "uv.toml").write_text('resolution = "bogus"\n')
    before = sorted(p.relative_to(sandbox.cache) for p in sandbox.cache.rglob("*"))
    bare = sandbox.uv("cache", "prune", env=env, check=False)
    out = uvguard(sandbox, env, "prune")
    assert out.returncode == bare.returncode == 2
    assert out.stderr.startswith(bare.stderr) and "unknown variant `bogus`" in bare.stderr
    assert sorted(p.relative_to(sandbox.cache) for p in sandbox.cache.rglob("*")) == before
