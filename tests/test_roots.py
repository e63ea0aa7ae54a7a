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

from uvguard import registry
from uvguard.invocation import parse
from uvguard.live_set import OK, scan_live_set
from uvguard.roots import (COMPACT_MIN_LINES, GONE_GRACE_SECONDS, ROTATED_KEEP_SECONDS, Root, compact_registry, find_roots,
                           maybe_compact, merge_roots, read_registry)
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


def test_an_environment_deleted_after_registration_drops_out(sandbox, machine):
    shutil.rmtree(machine["b"])
    paths = {root.path for root in roots_from(sandbox, sandbox.work)}
    assert str(machine["b"]) not in paths and str(machine["a"]) in paths
    env = sandbox.env()

    def registered() -> str:
        return "".join(p.read_text() for p in Path(registry.registry_path(env)).parent.glob("registry*")
                       if not p.name.endswith((".lock", ".gone")))

    assert compact_registry(env)  # first seen gone: kept for the grace period
    assert "envs/one" in registered()
    later = time.time() + GONE_GRACE_SECONDS + 1
    assert compact_registry(env, now=later)  # dropped; the rotated copy stays readable a while
    assert "envs/one" in registered()
    assert compact_registry(env, now=later + ROTATED_KEEP_SECONDS)
    assert "envs/one" not in registered() and str(machine["a"].parent) in registered()
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


def test_a_corrupt_line_is_skipped_with_a_warning(sandbox, capsys):
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
    assert [r.path for r in roots] == [str(good)]
    err = capsys.readouterr().err
    assert err.count("warning: skipping a corrupt line in the uvguard registry") == 2
    assert f"{path}, line 1)" in err and f"{path}, line 3)" in err


@pytest.mark.parametrize("odd", ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028"])
def test_a_record_holding_a_line_break_other_than_newline_stays_one_record(sandbox, odd):
    """Writers split records on newline only; a reader that also splits on \\r & co loses the record."""
    env = sandbox.env()
    venv = sandbox.work / f"env{odd}here"
    venv.mkdir()
    append_venv_records(env, [venv], sandbox.work)
    view = read_registry(env)
    assert view.paths == (str(venv),) and not view.warnings
    assert compact_registry(env)
    assert read_registry(env).paths == (str(venv),)


def test_compaction_keeps_the_newest_record_per_environment(sandbox):
    env = sandbox.env()
    envs = [sandbox.work / f"env{i}" for i in range(4)]
    for path in envs:
        path.mkdir()
    for _ in range(COMPACT_MIN_LINES // 4 + 1):
        append_venv_records(env, envs, sandbox.work)
    view = read_registry(env)
    assert view.current_lines == 4 * (COMPACT_MIN_LINES // 4 + 1) and len(view.keep) == 4
    assert maybe_compact(env, view)
    assert not maybe_compact(env, read_registry(env))  # compact now: nothing to gain
    assert Path(registry.registry_path(env)).read_text().count("\n") == 4
    assert set(read_registry(env).paths) == {str(p) for p in envs}


def test_compaction_loses_no_record_appended_by_concurrent_shims(sandbox):
    """Writers append with sh `>>` like the shim; compaction runs flat out beside them."""
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
    compactions = 0
    while any(p.poll() is None for p in procs):
        compactions += compact_registry(env)
    assert all(p.wait() == 0 for p in procs)
    assert compactions > 1
    assert set(read_registry(env).paths) == {str(p) for p in envs}
    compact_registry(env)
    compact_registry(env)
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
