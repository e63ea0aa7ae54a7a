"""Root discovery: environments real uv made through the shim, found again from anywhere.

Real uv 0.13.9, symlink mode, local wheels, offline. The registry is written
by the rendered shim itself (sh `>>`), exactly as on a user's machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import uv_releases
from tests.conftest import put_shim, uv_path
from uvguard import paths, registry
from uvguard.invocation import parse
from uvguard.live_set import OK, scan_live_set
from uvguard.registry import GONE_GRACE_SECONDS, ROTATED_KEEP_SECONDS
from uvguard.roots import Root, find_roots, merge_roots, read_registry
from uvguard.uvconfig import effective_config

UVGUARD = str(Path(sys.executable).with_name("uvguard"))


def run(shim: Path, sandbox, *args: str, cwd: Path, **env: str) -> None:
    out = subprocess.run([str(shim), *args], cwd=cwd, env=sandbox.env(UV_LINK_MODE="symlink", **env),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def roots_from(sandbox, cwd: Path, *uv_args: str, policy_roots=(), **extra) -> list[Root]:
    env = sandbox.env(**extra)
    invocation = parse(list(uv_args or ("cache", "prune")))
    config = effective_config(invocation, env, cwd)
    return find_roots(invocation, config, env, cwd, policy_roots)


def write_project(directory: Path, wheelhouse: Path, dependency: str = "purepkg==1.0") -> Path:
    directory.mkdir(parents=True)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{directory.name}"\nversion = "0.1"\nrequires-python = ">=3.8"\n'
        f'dependencies = ["{dependency}"]\n[tool.uv]\nno-index = true\nfind-links = ["{wheelhouse}"]\n')
    return directory


def tool_env(sandbox) -> Path:
    return Path(sandbox.env()["XDG_DATA_HOME"]) / "uv" / "tools" / "toolpkg"


@pytest.fixture
def machine(sandbox, shim, wheelhouse):
    """Environments in several directories, all made through the shim in symlink mode."""
    find_links = ("--no-index", "--find-links", str(wheelhouse))
    a = sandbox.work / "a"
    a.mkdir()
    run(shim, sandbox, "venv", cwd=a)
    run(shim, sandbox, "pip", "install", *find_links, "speedpkg", cwd=a, UV_PYTHON="")
    b = sandbox.root / "srv" / "b"
    b.mkdir(parents=True)
    run(shim, sandbox, "venv", "envs/one", cwd=b)
    run(shim, sandbox, "pip", "install", "-p", "envs/one", *find_links, "otherpkg", cwd=b)
    project = write_project(sandbox.work / "proj", wheelhouse)
    run(shim, sandbox, "sync", cwd=project)
    run(shim, sandbox, "tool", "install", *find_links, "toolpkg", cwd=sandbox.work)
    return {"a": a / ".venv", "b": b / "envs" / "one", "project": project / ".venv", "tool": tool_env(sandbox)}


def test_environments_made_through_the_shim_are_found_from_an_unrelated_directory(sandbox, machine):
    elsewhere = sandbox.root / "elsewhere"
    elsewhere.mkdir()
    roots = roots_from(sandbox, elsewhere)
    by_path = {root.path: root.origins for root in roots}
    assert by_path == {str(machine["a"]): ("registry",), str(machine["b"]): ("registry",),
                       str(machine["project"]): ("registry",), str(machine["tool"]): ("tools", "registry")}
    live = scan_live_set(sandbox.cache, roots)
    assert all(env.state == OK for env in live.environments)
    archives = {f"archive-v0/{p.name}" for p in (sandbox.cache / "archive-v0").iterdir()}
    assert set(live.entries) == archives and len(archives) == 4
    # The tool really runs through its entry point, and the CLI reports the same set.
    tool = subprocess.run([str(machine["tool"] / "bin" / "toolpkg")], capture_output=True, text=True)
    assert tool.stderr == "toolpkg 1.0\n"  # hello() returns the string, which sys.exit prints
    out = subprocess.run([UVGUARD, "live", "--json"], cwd=elsewhere, env=sandbox.env(),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert {e["path"] for e in report["entries"]} == archives and report["kept_bytes"] > 0 and not report["uncertain"]


def index_lines(env: dict) -> list[str]:
    """The records the index keeps, one per environment."""
    text = Path(os.path.join(paths.state_dir(env), registry.INDEX)).read_bytes().decode("utf-8", "surrogateescape")
    return [entry[0] for entry in json.loads(text)["entries"]]


def test_an_environment_deleted_after_registration_drops_out(sandbox, machine):
    shutil.rmtree(machine["b"])
    paths = {root.path for root in roots_from(sandbox, sandbox.work)}
    assert str(machine["b"]) not in paths and str(machine["a"]) in paths
    env = sandbox.env()
    assert any("envs/one" in line for line in index_lines(env))  # first seen gone: kept for the grace period
    read_registry(env, now=time.time() + GONE_GRACE_SECONDS + 1)
    assert not any("envs/one" in line for line in index_lines(env))
    assert any(str(machine["a"].parent) in line for line in index_lines(env))
    assert {root.path for root in roots_from(sandbox, sandbox.work)} == paths


def test_project_virtual_env_and_project_environment_roots(sandbox, wheelhouse):
    project = write_project(sandbox.work / "proj", wheelhouse)
    (project / "src").mkdir()
    roots = roots_from(sandbox, project / "src", VIRTUAL_ENV=str(project / ".venv"))
    assert [(r.path, r.origins) for r in roots] == [(str(project / ".venv"), ("project", "VIRTUAL_ENV"))]
    roots = roots_from(sandbox, sandbox.work, "--project", "proj", "cache", "prune", UV_PROJECT_ENVIRONMENT="env")
    assert [(r.path, r.origins) for r in roots] == [(str(project / "env"), ("UV_PROJECT_ENVIRONMENT",))]
    roots = roots_from(sandbox, sandbox.work, "--directory", "proj/src", "cache", "prune", VIRTUAL_ENV="../v")
    assert [(r.path, r.origins) for r in roots] == [(str(project / ".venv"), ("project",)),
                                                    (str(project / "v"), ("VIRTUAL_ENV",))]


def test_policy_globs_and_manual_roots(sandbox):
    for name in ("one", "two"):
        (sandbox.root / "opt" / "venvs" / name).mkdir(parents=True)
    policy = [str(sandbox.root / "opt" / "venvs" / "*"), str(sandbox.root / "app" / ".venv")]
    env = sandbox.env()
    manual = sandbox.root / "manual-env"
    manual.mkdir()
    cli = lambda *args: subprocess.run([UVGUARD, "roots", *args], cwd=sandbox.work, env=env,  # noqa: E731
                                       capture_output=True, text=True)
    assert cli("add", str(manual)).returncode == 0
    assert cli("add", str(manual)).returncode == 0
    roots = roots_from(sandbox, sandbox.work, policy_roots=policy)
    assert [(Path(r.path).relative_to(sandbox.root).as_posix(), r.origins) for r in roots] == [
        ("app/.venv", ("policy",)), ("manual-env", ("manual",)),
        ("opt/venvs/one", ("policy",)), ("opt/venvs/two", ("policy",))]
    listed = json.loads(cli("--all", "--json").stdout)
    assert [(r["path"], r["origins"], r["state"]) for r in listed["roots"]] == [(str(manual), ["manual"], "unlinked")]
    # By default only the roots that matter: one with no links into this cache is counted, not listed.
    default = json.loads(cli("--json").stdout)
    assert (default["roots"], default["not_shown"]) == ([], 1)
    human = cli().stdout
    assert str(manual) not in human and "1 root with no links into this cache not shown" in human
    assert str(manual) in cli("--all").stdout
    assert cli("remove", str(manual)).returncode == 0
    missing = cli("remove", str(manual))
    assert missing.returncode == 2 and "is not a manual root" in missing.stderr
    assert roots_from(sandbox, sandbox.work) == []


def test_merge_keeps_one_root_per_environment(sandbox):
    real = sandbox.work / "real"
    (real / ".venv").mkdir(parents=True)
    (sandbox.work / "alias").symlink_to(real)
    merged = merge_roots([Root(str(real / ".venv"), "project"), Root(str(sandbox.work / "alias" / ".venv"), "manual"),
                          Root(str(real / ".venv") + "/", "registry")])
    assert merged == [Root(str(real / ".venv"), "project", ("project", "manual", "registry"))]


# --- the registry file --------------------------------------------------------------------------


def append_venv_records(env: dict, paths, cwd: Path) -> None:
    for path in paths:
        registry.append(str(cwd), env, ["venv", str(path)])


def registry_files(env: dict) -> list[str]:
    return sorted(p.name for p in Path(registry.state_dir(env)).glob("registry*") if p.name != "registry.lock")


def test_corrupt_lines_make_the_live_set_uncertain_with_one_warning(sandbox, capsys):
    env = sandbox.env()
    good = sandbox.work / "good"
    good.mkdir()
    path = Path(registry.registry_path(env))
    path.parent.mkdir(parents=True)
    path.write_text("garbage without separators\n")
    append_venv_records(env, [good], sandbox.work)
    with open(path, "a") as handle:
        handle.write("u1\x1ftruncated\n")
    roots = roots_from(sandbox, sandbox.root)
    kept = Path(registry.state_dir(env)) / registry_files(env)[0]
    assert registry_files(env) == [kept.name] and kept.name.startswith("registry.unreadable.")
    assert {r.path: bool(r.error) for r in roots} == {str(good): False, str(kept): True}
    assert "2 unreadable records in the uvguard registry" in roots[0].error
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and f"2 unreadable records in the uvguard registry `{kept}`" in err
    # Still uncertain at the next decision, whose records are read from the index; deleting the file ends it.
    append_venv_records(env, [good], sandbox.work)
    assert {r.path for r in roots_from(sandbox, sandbox.root)} == {str(good), str(kept)}
    kept.unlink()
    assert [r.path for r in roots_from(sandbox, sandbox.root)] == [str(good)]
    assert capsys.readouterr().err.count("warning:") == 1


def test_garbage_without_a_newline_is_unreadable_once_settled(sandbox):
    """A shim's record always ends with a newline; a tail without one is a write in flight only briefly."""
    env = sandbox.env()
    path = Path(registry.registry_path(env))
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(range(11, 256)) * 40)
    assert read_registry(env).unknown == ()  # may still be a write in flight
    view = read_registry(env, now=time.time() + registry.SETTLED_SECONDS)
    [(kept, why)] = view.unknown
    assert Path(kept).name.startswith("registry.unreadable.") and why.startswith("1 unreadable record ")


def test_an_unreadable_index_is_set_aside_and_makes_the_live_set_uncertain(sandbox, capsys):
    env = sandbox.env()
    envs = [sandbox.work / f"env{i}" for i in range(3)]
    for path in envs:
        path.mkdir()
    append_venv_records(env, envs, sandbox.work)
    assert set(read_registry(env).paths) == {str(p) for p in envs}
    index = Path(os.path.join(paths.state_dir(env), registry.INDEX))
    index.write_bytes(os.urandom(200))
    view = read_registry(env)
    assert set(view.paths) == {str(p) for p in envs}  # rebuilt from the registry files still there
    [(aside, why)] = view.unknown
    assert Path(aside).name.startswith("index.unreadable.") and "an unreadable uvguard index" in why
    assert read_registry(env).unknown == view.unknown
    Path(aside).unlink()
    assert read_registry(env).unknown == ()


@pytest.mark.parametrize("odd", ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\udcff"])
def test_a_record_holding_a_line_break_other_than_newline_stays_one_record(sandbox, odd):
    """Writers split records on newline only; a reader that also splits on \\r & co loses the record."""
    env = sandbox.env()
    venv = sandbox.work / f"env{odd}here"
    venv.mkdir()
    append_venv_records(env, [venv], sandbox.work)
    view = read_registry(env)
    assert view.paths == (str(venv),) and not view.unknown
    assert read_registry(env).paths == (str(venv),)  # from the index this time
    assert index_lines(env)[0].endswith(str(venv))


def test_the_index_keeps_one_entry_per_environment_and_removes_folded_files(sandbox, monkeypatch):
    monkeypatch.setattr(registry, "ROTATE_BYTES", 2000)
    env = sandbox.env()
    envs = [sandbox.work / f"env{i}" for i in range(4)]
    for path in envs:
        path.mkdir()
    for _ in range(30):
        append_venv_records(env, envs, sandbox.work)
    assert set(read_registry(env).paths) == {str(p) for p in envs}
    assert len(index_lines(env)) == 4
    assert [name.split(".")[1] for name in registry_files(env)] == ["rotated"]  # large: rotated
    append_venv_records(env, envs[:1], sandbox.work)
    assert set(read_registry(env).paths) == {str(p) for p in envs}
    read_registry(env, now=time.time() + ROTATED_KEEP_SECONDS)
    assert registry_files(env) == ["registry"] and len(index_lines(env)) == 4


def test_a_registry_rewritten_in_place_is_read_again_whole(sandbox):
    """Same inode, at least as long: only the bytes before the folded offset tell it apart."""
    env = sandbox.env()
    one, two = sandbox.work / "one", sandbox.work / "two-with-a-longer-name"
    one.mkdir()
    two.mkdir()
    append_venv_records(env, [one], sandbox.work)
    assert read_registry(env).paths == (str(one),)
    path = Path(registry.registry_path(env))
    line = registry.format_record(str(sandbox.work), env, ["venv", str(two)])
    with open(path, "r+") as handle:  # truncate and rewrite: the inode stays
        handle.truncate(0)
        handle.write(line)
    assert set(read_registry(env).paths) == {str(one), str(two)}


def test_a_fold_interrupted_after_rotating_loses_nothing(sandbox, monkeypatch):
    """A crash between renaming `registry` and writing the index: the next fold reads the rotated file."""
    monkeypatch.setattr(registry, "ROTATE_BYTES", 1)
    env = sandbox.env()
    envs = [sandbox.work / f"env{i}" for i in range(3)]
    for path in envs:
        path.mkdir()
    append_venv_records(env, envs[:1], sandbox.work)

    def crash(self) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(registry._Fold, "_write", crash)
        read_registry(env)
    assert [name.split(".")[1] for name in registry_files(env)] == ["rotated"]
    append_venv_records(env, envs[1:], sandbox.work)
    assert set(read_registry(env).paths) == {str(p) for p in envs}


def test_an_index_that_cannot_be_written_still_decides_and_deletes_nothing(sandbox, monkeypatch):
    """A full disk: the decision uses what it read; no registry file goes before a fold is written."""
    monkeypatch.setattr(registry, "ROTATE_BYTES", 1)
    env = sandbox.env()
    envs = [sandbox.work / f"env{i}" for i in range(3)]
    for path in envs:
        path.mkdir()
    append_venv_records(env, envs, sandbox.work)

    def full(self) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(registry._Fold, "_write", full)
        assert set(read_registry(env).paths) == {str(p) for p in envs}
        assert set(read_registry(env, now=time.time() + ROTATED_KEEP_SECONDS).paths) == {str(p) for p in envs}
        assert any(".rotated." in name for name in registry_files(env))
    assert set(read_registry(env).paths) == {str(p) for p in envs}


def test_folding_loses_no_record_appended_by_concurrent_shims(sandbox, monkeypatch):
    """Writers append with sh `>>` like the shim; folds (rotating often) run flat out beside them."""
    monkeypatch.setattr(registry, "ROTATE_BYTES", 4000)
    env = sandbox.env()
    writers, per_writer = 4, 150
    envs = [sandbox.work / f"w{w}" / f"e{i}" for w in range(writers) for i in range(per_writer)]
    for path in envs:
        path.mkdir(parents=True)
    registry_file = registry.registry_path(env)
    Path(registry_file).parent.mkdir(parents=True)
    # One short-lived sh per record, as each uv call through the shim is.
    script = 'for p in "$@"; do sh -c \'printf "%s\\037venv\\037%s\\n" "$P" "$1" >>"$R"\' sh "$p"; done'
    prefix = registry.SEPARATOR.join(["u1", str(sandbox.work), *[""] * len(registry.ENV_FIELDS)])
    procs = [subprocess.Popen(["sh", "-c", script, "sh", *map(str, envs[w * per_writer:(w + 1) * per_writer])],
                              cwd=sandbox.work, env={**env, "R": registry_file, "P": prefix})
             for w in range(writers)]
    folds = 0
    while any(p.poll() is None for p in procs):
        read_registry(env)
        folds += 1
    assert all(p.wait() == 0 for p in procs)
    assert folds > 1 and sum(".rotated." in name for name in registry_files(env)) > 1
    assert set(read_registry(env).paths) == {str(p) for p in envs}
    assert set(read_registry(env, now=time.time() + ROTATED_KEEP_SECONDS).paths) == {str(p) for p in envs}
    assert not any(".rotated." in name for name in registry_files(env))
    assert set(read_registry(env).paths) == {str(p) for p in envs}


def test_a_registry_that_cannot_be_read_makes_the_live_set_uncertain(sandbox):
    """Injected without relying on permissions (root reads through chmod 000): a directory in its place."""
    env = sandbox.env()
    os.makedirs(registry.registry_path(env))
    roots = roots_from(sandbox, sandbox.work)
    assert [(r.path, r.origins) for r in roots] == [(registry.registry_path(env), ("registry",))]
    live = scan_live_set(sandbox.cache, roots)
    assert live.uncertain and live.environments[0].state == "unreadable"
    assert "cannot read the registry" in live.reasons[0]
    out = subprocess.run([UVGUARD, "roots", "--json"], cwd=sandbox.work, env=env, capture_output=True, text=True)
    assert out.returncode == 0 and json.loads(out.stdout)["uncertain"] is True
    assert "warning: the live set is uncertain" not in out.stderr  # JSON output carries it instead


# `uv version --bump` (0.7+; of the pinned releases 0.8.18 is the oldest with it) re-locks the
# project and syncs its environment: the shim records it, and the record must resolve to that
# environment, or a prune would not protect it.
@pytest.mark.parametrize("version", [uv_releases.LATEST, "0.8.18"])
def test_uv_version_bump_protects_the_environment_it_syncs(sandbox, wheelhouse, version):
    shim = put_shim(sandbox.root / "shim-bin", uv_path(version))
    assert "--bump" in sandbox.uv("version", "--help", version=version).stdout
    project = write_project(sandbox.root / "srv" / "proj", wheelhouse)
    run(shim, sandbox, "version", "--bump", "patch", cwd=project)
    assert 'version = "0.1.1"' in (project / "pyproject.toml").read_text()
    venv = project / ".venv"
    assert any(path.is_symlink() for path in venv.rglob("*.py"))  # uv synced it, in symlink mode
    elsewhere = sandbox.root / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([UVGUARD, "roots", "--json"], cwd=elsewhere, env=sandbox.env(),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    roots = {root["path"]: root for root in json.loads(out.stdout)["roots"]}
    assert roots[str(venv)]["origins"] == ["registry"] and roots[str(venv)]["state"] == "ok"
    live = scan_live_set(sandbox.cache, roots_from(sandbox, elsewhere))
    assert set(live.entries) == {f"archive-v0/{p.name}" for p in (sandbox.cache / "archive-v0").iterdir()}
