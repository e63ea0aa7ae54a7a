"""`uvguard prune` / `uvguard clean`, dry run and real, as a user runs them (a subprocess)."""

from __future__ import annotations

import json
import os
import re
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
    kept = {item["path"] for item in report["kept"]}
    assert len(kept) == 2 and all(p.startswith("archive-v0/") for p in kept)
    assert all(item["environments"] == [str(venv)] and item["bytes"] > 0 for item in report["kept"])
    removed = {item["path"] for item in report["removed"]}
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
    assert [item["path"].rsplit("/", 1)[-1] for item in report["removed"]] == ["speedpkg"]
    assert len(report["kept"]) == 1


def test_prune_ci_for_real_keeps_the_environment_working(sandbox, project):
    venv, env = project
    out = uvguard(sandbox, env, "prune", "--ci")
    assert out.returncode == 0, out.stderr
    summary = out.stderr.splitlines()[-1]
    assert re.fullmatch(r"Removed \d+ files \(.+\), kept 2 entries \([\d.]+[KM]iB\) used by 1 environment", summary)
    answer = subprocess.run([str(venv / "bin" / "python"), "-c", "import speedpkg, sdistpkg; print(speedpkg.answer())"],
                            capture_output=True, text=True, env=env)
    assert answer.stdout.strip() == "1.0", answer.stderr
    assert not list(sandbox.cache.glob("wheels-v*/*"))


def test_a_line_uv_would_reject_is_a_usage_error(sandbox, project):
    _, env = project
    out = uvguard(sandbox, env, "prune", "--bogus")
    assert out.returncode == 2
    assert out.stderr.startswith("error: `uv cache prune --bogus` is not a command line uv would accept")


def test_the_dry_run_counts_sizes_as_the_real_run_does(sandbox, project):
    """One way of counting: uv 0.13.9 reports the space freed (blocks), so the dry run does too."""
    _, env = project
    dry = json.loads(uvguard(sandbox, env, "prune", "--ci", "--dry-run", "--json").stdout)
    real = json.loads(uvguard(sandbox, env, "prune", "--ci", "--json").stdout)
    assert dry["size_accounting"] == real["size_accounting"] == "physical"
    assert dry["removed_bytes"] == real["removed_bytes"] > 0
    assert dry["kept_bytes"] == real["kept_bytes"] > 0
    assert (dry["files"], dry["directories"]) == (real["files"], real["directories"])
    assert {e["path"]: e["bytes"] for e in dry["kept"]} == {e["path"]: e["bytes"] for e in real["kept"]}


def test_a_bucket_holding_live_entries_is_sized_without_them(sandbox, project):
    _, env = project
    out = uvguard(sandbox, env, "clean", "--dry-run", "--json")  # everything: archive-v0 holds the live entries
    report = json.loads(out.stdout)
    archive = next(item for item in report["removed"] if item["path"] == "archive-v0")
    from uvguard.sizes import measure

    whole = measure(sandbox.cache / "archive-v0", physical=True).bytes
    assert archive["bytes"] == whole - report["kept_bytes"] and report["kept_bytes"] > 0
    human = uvguard(sandbox, env, "clean", "--dry-run").stdout
    assert "archive-v0" in human and "(all but 2 live entries, below)" in human


def test_every_long_phase_reports_progress(sandbox, project, monkeypatch, capsys):
    """Scan, plan, measure and removal each run inside a progress phase (drawn only on a terminal)."""
    import os
    from unittest.mock import patch

    from uvguard import progress
    from uvguard.cli import main

    _, env = project
    labels = []
    enter = progress.Progress.__enter__

    def record(self):
        labels.append(self.label)
        return enter(self)

    monkeypatch.setattr(progress.Progress, "__enter__", record)
    monkeypatch.chdir(sandbox.work)
    with patch.dict(os.environ, env, clear=True):
        assert main(["prune", "--ci", "--dry-run", "--json"]) == 0
        assert labels == ["Scanning environments", "Planning what to remove", "Measuring"]  # the decision's plan
        labels.clear()
        assert main(["prune", "--ci"]) == 0
        assert labels == ["Scanning environments", "Planning what to remove", "Planning what to remove",
                          "Removing cache entries"]
        labels.clear()
        assert main(["live"]) == 0
        assert labels == ["Scanning environments", "Measuring"]
    capsys.readouterr()


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


def test_prune_keeps_a_cached_environment_a_dot_venv_reaches_through_a_link(sandbox, wheelhouse):
    """uv 0.11.25+ (preview): `.venv` -> `environments-v2/<x>/<y>` -> `../../archive-v0/<E>`, whose files link
    into wheels' entries. Nothing in the cache points at E, so uv's prune would take it; uvguard keeps it."""
    environment = sandbox.cache / "archive-v0" / "E"
    sandbox.uv("venv", str(environment))
    sandbox.uv("pip", "install", "--python", str(environment), "--no-index", "--find-links", str(wheelhouse),
               "--link-mode", "symlink", "speedpkg")
    # A venv's own relative links (`lib64 -> lib`, `bin/python3 -> python`) would mark E live by themselves;
    # without them only the way the `.venv` reaches E says it is used.
    for own in [environment / "lib64", *(p for p in (environment / "bin").iterdir() if p.name != "python")]:
        if own.is_symlink() and not os.readlink(own).startswith("/"):
            own.unlink()
    (sandbox.cache / "environments-v2" / "abc").mkdir(parents=True)
    (sandbox.cache / "environments-v2" / "abc" / "def").symlink_to("../../archive-v0/E")
    venv = sandbox.work / ".venv"
    venv.symlink_to(sandbox.cache / "environments-v2" / "abc" / "def")
    env = sandbox.env(UVGUARD_REAL_UV=str(uv_releases.path(uv_releases.LATEST)), VIRTUAL_ENV=str(venv))
    dry = json.loads(uvguard(sandbox, env, "prune", "--dry-run", "--json").stdout)
    assert "archive-v0/E" in {item["path"] for item in dry["kept"]}
    out = uvguard(sandbox, env, "prune")
    assert out.returncode == 0, out.stderr
    assert environment.is_dir()
    answer = subprocess.run([str(venv / "bin" / "python"), "-c", "import speedpkg; print(speedpkg.answer())"],
                            capture_output=True, text=True, env=env)
    assert answer.stdout.strip() == "1.0", answer.stderr
