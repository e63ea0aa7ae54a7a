"""`uvguard gc`: what is in use stays, everything else goes with its pointers, and uv installs again."""

from __future__ import annotations

import fcntl
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import uv_releases
from tests.wheelfactory import build_wheel
from uvguard.errors import FileSystemFailure
from uvguard.gc import ARCHIVES, Archive, GcPlan
from uvguard.invocation import PASSTHROUGH, parse


def uvguard(sandbox, env, *args):
    return subprocess.run([sys.executable, "-c", "import sys; from uvguard.cli import main; sys.exit(main())", *args],
                          env=env, cwd=sandbox.work, capture_output=True, text=True)


def archives(cache: Path) -> set[str]:
    return {f"{ARCHIVES}/{name}" for name in os.listdir(cache / ARCHIVES)}


def stale_pointers(cache: Path, removed_ids: set[str]) -> list[str]:
    """Links in the wheel and sdist buckets that dangle, and pointer files naming a removed id."""
    found = []
    for bucket in cache.iterdir():
        if not bucket.name.startswith(("wheels-v", "sdists-v")):
            continue
        for directory, dirs, files in os.walk(bucket):
            for name in dirs + files:
                path = os.path.join(directory, name)
                if os.path.islink(path) and not os.path.exists(path):
                    found.append(path)
                elif name.endswith((".rev", ".http")) and any(
                        i.encode() in Path(path).read_bytes() for i in removed_ids):
                    found.append(path)
    return found


def imports_compiled(venv: Path, module: str) -> None:
    """The package's compiled submodule answers: an emptied package would import as a namespace and fail here."""
    check = f"import {module}; assert {module}.answer() == '1.0', {module}.answer()"
    result = subprocess.run([str(venv / "bin" / "python"), "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def gc_wheels(tmp_path_factory, wheelhouse):
    """The shared wheelhouse plus a second compiled package, for the hard-link environment."""
    dest = tmp_path_factory.mktemp("gc-wheels")
    for wheel in wheelhouse.iterdir():
        shutil.copy(wheel, dest)
    build_wheel(dest, "hardpkg", "1.0", extension=True)
    return dest


# Differential: every pinned release.

@pytest.mark.parametrize("version", uv_releases.pinned())
def test_gc_keeps_what_is_used_and_each_release_installs_the_rest_again(sandbox, gc_wheels, version):
    """A symlink-mode venv (known through VIRTUAL_ENV) and a hard-link venv uvguard knows nothing of keep
    their archives; the archives of a removed environment go, with their pointers, and uv reinstalls them."""
    def uv(*args):
        return sandbox.uv(*args, version=version)

    find = ["--no-index", "--find-links", str(gc_wheels)]
    linked, hard, gone, again = (sandbox.work / name for name in ("linked", "hard", "gone", "again"))
    for venv in (linked, hard, gone, again):
        uv("venv", str(venv))
    uv("pip", "install", "--python", str(linked), *find, "--link-mode", "symlink", "speedpkg")
    uv("pip", "install", "--python", str(hard), *find, "--link-mode", "hardlink", "hardpkg")
    uv("pip", "install", "--python", str(gone), *find, "--link-mode", "symlink", "purepkg==1.0", "otherpkg", "sdistpkg")
    shutil.rmtree(gone)  # as `uv tool uninstall` does: the cache still points at its archives
    before = archives(sandbox.cache)
    env = sandbox.env(UVGUARD_REAL_UV=str(uv_releases.path(version)), VIRTUAL_ENV=str(linked))

    out = uvguard(sandbox, env, "gc", "--json")

    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    kept = {item["path"]: item["use"] for item in report["kept"]}
    assert sorted(kept.values()) == ["hardlink", "symlink"]
    collected = {item["path"] for item in report["removed"]}
    assert len(collected) == 3 and collected | set(kept) == before
    assert all(item["pointers"] for item in report["removed"])
    assert archives(sandbox.cache) == set(kept)
    assert stale_pointers(sandbox.cache, {entry.split("/")[1] for entry in collected}) == []
    imports_compiled(linked, "speedpkg")
    imports_compiled(hard, "hardpkg")
    uv("pip", "install", "--python", str(again), *find, "--link-mode", "copy", "purepkg==1.0", "otherpkg", "sdistpkg")
    result = subprocess.run([str(again / "bin" / "python"), "-c", "import purepkg, otherpkg, sdistpkg; "
                             "print(purepkg.hello(), otherpkg.hello(), sdistpkg.__version__)"],
                            capture_output=True, text=True)
    assert result.stdout.split() == ["purepkg", "1.0", "otherpkg", "1.0", "1.0"], result.stderr


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served_wheels(gc_wheels):
    """The wheels' directory, and its URL on 127.0.0.1 (the directory listing is a find-links page)."""
    handler = functools.partial(_QuietHandler, directory=str(gc_wheels))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield gc_wheels, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("version", uv_releases.pinned())
def test_http_pointers_go_too_and_uv_fetches_the_wheels_again(sandbox, served_wheels, version):
    """Wheels fetched over HTTP (a find-links page, a direct URL) are named by `.http` pointers."""
    online = {k: v for k, v in sandbox.env().items() if k != "UV_OFFLINE"}  # 127.0.0.1 only
    directory, url = served_wheels
    speed = f"speedpkg @ {url}/" + next(p.name for p in directory.iterdir() if p.name.startswith("speedpkg-"))
    install = ["pip", "install", "--no-index", "--find-links", url, "--link-mode", "symlink",
               "purepkg==1.0", speed]
    for name in ("gone", "again"):
        sandbox.uv("venv", str(sandbox.work / name), version=version)
    sandbox.uv(*install[:2], "--python", str(sandbox.work / "gone"), *install[2:], version=version, env=online)
    shutil.rmtree(sandbox.work / "gone")
    out = uvguard(sandbox, sandbox.env(UVGUARD_REAL_UV=str(uv_releases.path(version))), "gc", "--json")
    assert out.returncode == 0, out.stderr
    collected = json.loads(out.stdout)["removed"]
    assert len(collected) == 2 and all(any(p.endswith(".http") for p in c["pointers"]) for c in collected)
    assert archives(sandbox.cache) == set()
    assert stale_pointers(sandbox.cache, {c["path"].split("/")[1] for c in collected}) == []
    sandbox.uv(*install[:2], "--python", str(sandbox.work / "again"), *install[2:], version=version, env=online)
    imports_compiled(sandbox.work / "again", "speedpkg")


@pytest.mark.parametrize("version", uv_releases.pinned())
def test_pointers_to_an_archive_already_gone_are_removed_so_uv_installs_again(sandbox, wheelhouse, version):
    """Why gc removes pointers: an archive removed alone breaks every later install of that wheel, until gc
    removes the pointers left behind."""
    find = ["--no-index", "--find-links", str(wheelhouse)]
    for name in ("a", "b"):
        sandbox.uv("venv", str(sandbox.work / name), version=version)
    sandbox.uv("pip", "install", "--python", str(sandbox.work / "a"), *find, "otherpkg", version=version)
    (entry,) = archives(sandbox.cache)
    shutil.rmtree(sandbox.cache / entry)
    install = ("pip", "install", "--python", str(sandbox.work / "b"), *find, "otherpkg")
    result = sandbox.uv(*install, check=False, version=version)
    assert result.returncode != 0 and f"failed to read directory `{sandbox.cache / entry}`" in result.stderr
    out = uvguard(sandbox, sandbox.env(UVGUARD_REAL_UV=str(uv_releases.path(version))), "gc", "--json")
    assert out.returncode == 0, out.stderr
    assert [item["path"] for item in json.loads(out.stdout)["gone"]] == [entry]
    sandbox.uv(*install, version=version)


# A synthetic cache in uv 0.13's layout, for the rules that need no install.

def fake_cache(cache: Path, *ids: str, absolute: bool = False) -> None:
    """Archives with two files each, each named by a `.rev` (msgpack-like) and a link, as uv writes them."""
    for archive_id in ids:
        package = cache / ARCHIVES / archive_id / "pkg"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("x = 1\n" * 100)
        (package / "mod.py").write_text("y = 2\n")
        wheel = cache / "wheels-v8" / "index" / "0123" / f"pkg-{archive_id}"
        wheel.mkdir(parents=True)
        (wheel / "1.0-py3-none-any.rev").write_bytes(b"\x92\x92\xce\x6b\xb0" + archive_id.encode() + b"\x90")
        target = cache / ARCHIVES / archive_id if absolute else Path("../../../..", ARCHIVES, archive_id)
        os.symlink(target, wheel / "1.0-py3-none-any")
    (cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")


@pytest.fixture
def env(sandbox):
    return sandbox.env(UVGUARD_REAL_UV=str(uv_releases.path(uv_releases.LATEST)))


def test_hard_link_anywhere_keeps_an_entry(sandbox, env, tmp_path):
    fake_cache(sandbox.cache, "AAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBB")
    os.link(sandbox.cache / ARCHIVES / "AAAAAAAAAAAAAAAA" / "pkg" / "mod.py", tmp_path / "unknown-env-file.py")
    out = uvguard(sandbox, env, "gc", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [(k["path"], k["use"]) for k in report["kept"]] == [(f"{ARCHIVES}/AAAAAAAAAAAAAAAA", "hardlink")]
    assert archives(sandbox.cache) == {f"{ARCHIVES}/AAAAAAAAAAAAAAAA"}
    assert (sandbox.cache / "wheels-v8" / "index" / "0123" / "pkg-AAAAAAAAAAAAAAAA" / "1.0-py3-none-any.rev").exists()
    assert not (sandbox.cache / "wheels-v8" / "index" / "0123" / "pkg-BBBBBBBBBBBBBBBB"
                / "1.0-py3-none-any.rev").exists()
    assert "Removed" in out.stderr and "kept 1 entry in use (1 hard-linked)" in out.stderr


def test_absolute_links_of_old_releases_are_pointers_too(sandbox, env):
    fake_cache(sandbox.cache, "CCCCCCCCCCCCCCCCCCCCC", absolute=True)
    report = json.loads(uvguard(sandbox, env, "gc", "--dry-run", "--json").stdout)
    (collected,) = report["removed"]
    assert [p.rsplit("/", 1)[1] for p in collected["pointers"]] == ["1.0-py3-none-any", "1.0-py3-none-any.rev"]


def test_keep_recent_keeps_entries_by_age(sandbox, env):
    fake_cache(sandbox.cache, "OLDOLDOLDOLDOLD1", "NEWNEWNEWNEWNEW1")
    old = time.time() - 3 * 86400
    os.utime(sandbox.cache / ARCHIVES / "OLDOLDOLDOLDOLD1", (old, old))
    report = json.loads(uvguard(sandbox, env, "gc", "--keep-recent", "2d", "--json").stdout)
    assert [k["path"] for k in report["kept"] if k["use"] == "recent"] == [f"{ARCHIVES}/NEWNEWNEWNEWNEW1"]
    assert archives(sandbox.cache) == {f"{ARCHIVES}/NEWNEWNEWNEWNEW1"}
    bad = uvguard(sandbox, env, "gc", "--keep-recent", "two days")
    assert bad.returncode == 2 and bad.stderr.startswith("error: invalid duration `two days` for `--keep-recent`")
    assert "Traceback" not in bad.stderr


def test_dry_run_removes_nothing_and_counts_what_the_run_frees(sandbox, env):
    fake_cache(sandbox.cache, "DDDDDDDDDDDDDDDD", "EEEEEEEEEEEEEEEE")
    before = sorted(sandbox.cache.rglob("*"))
    dry = json.loads(uvguard(sandbox, env, "gc", "--dry-run", "--json").stdout)
    assert sorted(sandbox.cache.rglob("*")) == before
    human = uvguard(sandbox, env, "gc", "--dry-run").stdout
    assert "Would remove (unused unpacked wheels" in human and "would be freed; kept none in use" in human
    real = json.loads(uvguard(sandbox, env, "gc", "--json").stdout)
    assert dry["removed_bytes"] == real["removed_bytes"] > 0
    assert [(r["path"], r["bytes"]) for r in dry["removed"]] == [(r["path"], r["bytes"]) for r in real["removed"]]
    assert real["files"] == 2 * (2 + 2)  # two files and two pointers per archive
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent.parent / "uvguard" / "schemas" / "gc.schema.json").read_text())
    for report in (dry, real):
        jsonschema.Draft202012Validator(schema).validate(report)


def test_never_follows_a_link_out_of_the_cache(sandbox, env, tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "precious.txt").write_text("keep me")
    fake_cache(sandbox.cache, "FFFFFFFFFFFFFFFF")
    os.symlink(outside, sandbox.cache / ARCHIVES / "FFFFFFFFFFFFFFFF" / "escape")
    os.symlink(outside, sandbox.cache / ARCHIVES / "GGGGGGGGGGGGGGGG")
    out = uvguard(sandbox, env, "gc")
    assert out.returncode == 0, out.stderr
    assert (outside / "deep" / "precious.txt").read_text() == "keep me"
    assert archives(sandbox.cache) == set()


def test_a_fifo_named_like_a_pointer_is_never_read(sandbox, env):
    """The cache's contents are untrusted: a FIFO `.rev` would block gc forever while it holds uv's lock."""
    fake_cache(sandbox.cache, "HHHHHHHHHHHHHHHH")
    os.mkfifo(sandbox.cache / "wheels-v8" / "index" / "0123" / "planted.rev")
    out = subprocess.run([sys.executable, "-c", "import sys; from uvguard.cli import main; sys.exit(main())", "gc"],
                         env=env, cwd=sandbox.work, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert archives(sandbox.cache) == set()


def test_uncertain_live_set_refuses_by_default_and_the_policy_decides(sandbox, env):
    from uvguard.registry import registry_path

    fake_cache(sandbox.cache, "HHHHHHHHHHHHHHHH")
    os.makedirs(os.path.join(registry_path(env), "not-a-file"))  # the registry cannot be read
    out = uvguard(sandbox, env, "gc")
    assert out.returncode == 3, out.stderr
    assert "refused: the live set is uncertain" in out.stderr and '`uncertain = "refuse"`' in out.stderr
    assert archives(sandbox.cache) == {f"{ARCHIVES}/HHHHHHHHHHHHHHHH"}
    out = uvguard(sandbox, dict(env, UVGUARD_POLICY="ci"), "gc")
    assert out.returncode == 0 and "warning: the live set is uncertain (" in out.stderr
    assert 'collecting anyway (`uncertain = "limit"`)' in out.stderr
    assert archives(sandbox.cache) == set()


def test_policy_gc_refuse_leaves_the_cache_untouched(sandbox, env):
    fake_cache(sandbox.cache, "IIIIIIIIIIIIIIII")
    out = uvguard(sandbox, dict(env, UVGUARD_POLICY="strict"), "gc")
    assert out.returncode == 3
    assert out.stderr.startswith('error: refused: `uvguard gc`; decided by `gc = "refuse"` in preset `strict`')
    assert archives(sandbox.cache) == {f"{ARCHIVES}/IIIIIIIIIIIIIIII"}


def test_global_options_before_or_after_gc_choose_the_cache_as_for_uv(sandbox, env):
    other = sandbox.root / "other-cache"
    fake_cache(other, "OTHEROTHEROTHER1")
    for args in (["--cache-dir", str(other), "gc"], ["gc", "--cache-dir", str(other)]):
        out = uvguard(sandbox, env, *args, "--dry-run", "--json")
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["cache_dir"] == str(other) and [r["path"] for r in report["removed"]] == [
            f"{ARCHIVES}/OTHEROTHEROTHER1"]


def decisions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_gc_run_is_a_line_in_the_decisions_logs_as_a_guarded_decision(sandbox, env):
    from uvguard.decisionlog import user_log_path

    fake_cache(sandbox.cache, "LOGLOGLOGLOGLOG1")
    team = sandbox.work / "team.jsonl"
    (sandbox.work / "p.toml").write_text(f'log = "{team}"\n')
    env = dict(env, UVGUARD_POLICY=str(sandbox.work / "p.toml"))
    mine = user_log_path(env)
    assert uvguard(sandbox, env, "gc", "--dry-run").returncode == 0
    assert decisions(mine) == decisions(team) == []  # a dry run decides nothing
    assert uvguard(sandbox, env, "gc", "--keep-recent", "1s").returncode == 0
    (sandbox.work / "p.toml").write_text(f'log = "{team}"\ngc = "refuse"\n')
    assert uvguard(sandbox, env, "gc").returncode == 3
    lines = decisions(mine)
    assert decisions(team) == lines and len(lines) == 2
    assert [(line["operation"], line["action"], line["decided_by"]["key"], line["argv"]) for line in lines] == [
        ("gc", "limit", "gc", ["uvguard", "gc", "--keep-recent", "1s"]), ("gc", "refuse", "gc", ["uvguard", "gc"])]
    assert lines[1]["decided_by"]["file"] == str(sandbox.work / "p.toml")
    assert lines[1]["cache_dir"] == str(sandbox.cache)
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent.parent / "uvguard" / "schemas" / "decision-log.schema.json").read_text())
    for line in lines:
        jsonschema.Draft202012Validator(schema).validate(line)


def test_an_untrusted_project_file_refusing_gc_applies(sandbox, env):
    fake_cache(sandbox.cache, "TRUSTTRUSTTRUST1")
    (sandbox.work / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\n\n[tool.uvguard]\ngc = "refuse"\n')
    out = uvguard(sandbox, env, "gc")
    assert out.returncode == 3 and 'decided by `gc = "refuse"` in' in out.stderr and "(project policy)" in out.stderr
    assert archives(sandbox.cache) == {f"{ARCHIVES}/TRUSTTRUSTTRUST1"}


def test_waits_for_uvs_lock_times_out_and_force_goes_on(sandbox, env):
    fake_cache(sandbox.cache, "JJJJJJJJJJJJJJJJ")
    fd = os.open(sandbox.cache / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # as a running `uv sync` holds it
        out = uvguard(sandbox, dict(env, UV_LOCK_TIMEOUT="1"), "gc")
        assert out.returncode == 2
        assert "Cache is currently in-use, waiting for other uv processes to finish" in out.stderr
        assert "Timeout (1s) when waiting for lock" in out.stderr
        assert archives(sandbox.cache) == {f"{ARCHIVES}/JJJJJJJJJJJJJJJJ"}
        out = uvguard(sandbox, env, "gc", "--force")
        assert out.returncode == 0, out.stderr
        assert archives(sandbox.cache) == set()
    finally:
        os.close(fd)


def test_removal_order_puts_pointers_before_their_archive():
    plan = GcPlan(Path("/c"), (Archive("archive-v0/a", pointers=("wheels-v8/x", "wheels-v8/x.rev")),
                               Archive("archive-v0/b", pointers=("sdists-v11/y",))), ())
    assert plan.removal_order() == ["wheels-v8/x", "wheels-v8/x.rev", "archive-v0/a", "sdists-v11/y", "archive-v0/b"]


def test_a_crash_after_the_pointers_leaves_a_cache_uv_accepts(sandbox, wheelhouse, env, monkeypatch):
    """Stopped between an archive's pointers and the archive: uv installs the wheel again, its prune removes it."""
    from uvguard.commands.gc import gc_command

    find = ["--no-index", "--find-links", str(wheelhouse)]
    sandbox.uv("venv", str(sandbox.work / "a"))
    sandbox.uv("pip", "install", "--python", str(sandbox.work / "a"), *find, "--link-mode", "copy", "otherpkg")
    (entry,) = archives(sandbox.cache)
    real_rmdir = os.rmdir

    def crash_at_the_archive(path, *, dir_fd=None):
        if path == entry.split("/")[1]:
            raise OSError(5, "Input/output error", path)
        return real_rmdir(path, dir_fd=dir_fd)

    with monkeypatch.context() as patch, pytest.raises(FileSystemFailure) as failure:
        patch.setattr(os, "rmdir", crash_at_the_archive)
        gc_command([], False, None, env, str(sandbox.work), ["gc"])
    assert "Input/output error" in failure.value.message
    assert stale_pointers(sandbox.cache, {entry.split("/")[1]}) == []
    sandbox.uv("venv", str(sandbox.work / "b"))
    sandbox.uv("pip", "install", "--python", str(sandbox.work / "b"), *find, "otherpkg")
    sandbox.uv("cache", "prune")
    assert entry not in archives(sandbox.cache)


def test_no_uv_command_is_mapped_to_gc():
    assert parse(["gc"]).operation == PASSTHROUGH
    assert parse(["cache", "gc"]).operation == PASSTHROUGH


@pytest.mark.parametrize("version", uv_releases.pinned())
def test_cached_environments_go_with_their_links_and_uv_run_makes_them_again(sandbox, wheelhouse, version):
    """`uv run --with` in symlink mode keeps its environment in the cache (0.13: as an archive entry, linked
    from `environments-v2`); gc collects it with speedpkg's wheel, and uv makes both again."""
    def run_with():
        return sandbox.uv("run", "--no-project", "--no-index", "--find-links", str(wheelhouse), "--with", "speedpkg",
                          "python", "-c", "import speedpkg; print(speedpkg.answer())", version=version,
                          env=sandbox.env(UV_LINK_MODE="symlink"))

    assert run_with().stdout.strip() == "1.0"
    out = uvguard(sandbox, sandbox.env(UVGUARD_REAL_UV=str(uv_releases.path(version))), "gc", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["removed"]
    assert archives(sandbox.cache) == set()
    environments = [p for p in sandbox.cache.glob("environments-v*/**/*") if p.is_symlink()]
    assert environments == []
    assert run_with().stdout.strip() == "1.0"


def test_a_venv_linking_to_a_cached_environment_keeps_it(sandbox, env):
    """A `.venv` that is a link into `environments-v2` (uv's preview): the environment's archive entry is in use."""
    fake_cache(sandbox.cache, "KKKKKKKKKKKKKKKK")
    hashed = sandbox.cache / "environments-v2" / "abc"
    hashed.mkdir(parents=True)
    os.symlink(f"../../{ARCHIVES}/KKKKKKKKKKKKKKKK", hashed / "def")
    venv = sandbox.work / ".venv"
    os.symlink(hashed / "def", venv)
    out = uvguard(sandbox, dict(env, VIRTUAL_ENV=str(venv)), "gc", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [(k["path"], k["use"], k["environments"]) for k in report["kept"]] == [
        (f"{ARCHIVES}/KKKKKKKKKKKKKKKK", "symlink", [str(venv)])]
    assert report["removed"] == []


def test_keep_recent_keeps_the_wheels_a_recent_cached_environment_links_to(sandbox, env):
    fake_cache(sandbox.cache, "WHEELWHEELWHEEL1", "ENVENVENVENVENV1")
    environment = sandbox.cache / ARCHIVES / "ENVENVENVENVENV1"
    os.symlink(sandbox.cache / ARCHIVES / "WHEELWHEELWHEEL1" / "pkg" / "mod.py", environment / "mod.py")
    old = time.time() - 3 * 86400
    os.utime(sandbox.cache / ARCHIVES / "WHEELWHEELWHEEL1", (old, old))
    report = json.loads(uvguard(sandbox, env, "gc", "--keep-recent", "1d", "--json").stdout)
    assert sorted((k["path"], k["use"]) for k in report["kept"]) == [
        (f"{ARCHIVES}/ENVENVENVENVENV1", "recent"), (f"{ARCHIVES}/WHEELWHEELWHEEL1", "recent")]


def test_progress_on_a_terminal_while_checking_entries(sandbox, monkeypatch):
    import io

    from uvguard import messages, progress
    from uvguard.gc import plan_gc

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    class SlowCount(progress.Progress):
        def update(self, done, total):  # the drawing thread needs a moment to see each count
            super().update(done, total)
            time.sleep(0.3)

    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
    fake_cache(sandbox.cache, "LLLLLLLLLLLLLLLL", "MMMMMMMMMMMMMMMM")
    stream = Terminal()
    with SlowCount("Checking unpacked wheels", messages.Voice(progress=True), stream) as shown:
        plan_gc(sandbox.cache, {}, None, physical=False, progress=shown)
    drawn = stream.getvalue()
    assert "Checking unpacked wheels: 0/2" in drawn and "Checking unpacked wheels: 1/2" in drawn
    assert drawn.endswith("\r\x1b[K")


def test_pointers_are_removed_when_the_whole_archive_bucket_is_gone(sandbox, env):
    fake_cache(sandbox.cache, "NNNNNNNNNNNNNNNN")
    shutil.rmtree(sandbox.cache / ARCHIVES)
    report = json.loads(uvguard(sandbox, env, "gc", "--json").stdout)
    assert [item["path"] for item in report["gone"]] == [f"{ARCHIVES}/NNNNNNNNNNNNNNNN"]
    assert stale_pointers(sandbox.cache, {"NNNNNNNNNNNNNNNN"}) == []


def test_symlink_mode_with_no_known_environment_is_decided_by_unknown(sandbox, env):
    fake_cache(sandbox.cache, "OOOOOOOOOOOOOOOO")
    env = dict(env, UV_LINK_MODE="symlink", UVGUARD_POLICY=str(sandbox.work / "p.toml"))
    (sandbox.work / "p.toml").write_text('unknown = "refuse"\n')
    out = uvguard(sandbox, env, "gc")
    assert out.returncode == 3 and "refused: symlink mode is active, but no environment" in out.stderr
    assert '`unknown = "refuse"`' in out.stderr and archives(sandbox.cache) == {f"{ARCHIVES}/OOOOOOOOOOOOOOOO"}
    (sandbox.work / "p.toml").unlink()
    del env["UVGUARD_POLICY"]
    out = uvguard(sandbox, env, "gc")  # the default: unknown = "warn"
    assert out.returncode == 0 and 'register them with `uvguard roots add PATH`' in out.stderr
    assert 'collecting anyway (`unknown = "warn"`)' in out.stderr and archives(sandbox.cache) == set()


def test_two_removal_threads_remove_every_pointer_before_any_archive_and_count_as_one(tmp_path, monkeypatch):
    """gc removes in two threads: a slow pointer still holds back every archive, and the counts match a serial run."""
    import io

    from uvguard import messages
    from uvguard.removal import Remover

    def tree(cache: Path) -> list[str]:
        paths = []
        for index in range(6):
            (cache / ARCHIVES / f"id{index}" / "pkg").mkdir(parents=True)
            for module in range(3):
                (cache / ARCHIVES / f"id{index}" / "pkg" / f"m{module}.py").write_text("x = 1\n" * (index + 1))
            (cache / "wheels-v8" / f"p{index}").mkdir(parents=True)
            (cache / "wheels-v8" / f"p{index}" / "1.0.rev").write_text(f"id{index}")
            paths += [f"wheels-v8/p{index}/1.0.rev", f"{ARCHIVES}/id{index}"]
        return paths

    serial = Remover(tmp_path / "serial", set(), messages.Voice(quiet=1), io.StringIO(), 0, True, threads=1)
    serial.run(tree(tmp_path / "serial"))
    order, real_unlink = [], os.unlink

    def slow_pointers(path, *, dir_fd=None):
        if path.endswith(".rev"):
            time.sleep(0.05)
        order.append(path)
        return real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", slow_pointers)
    threaded = Remover(tmp_path / "threaded", set(), messages.Voice(quiet=1), io.StringIO(), 0, True, threads=2)
    threaded.run(tree(tmp_path / "threaded"))
    assert [name.endswith(".rev") for name in order] == [True] * 6 + [False] * 18
    assert os.listdir(tmp_path / "threaded" / ARCHIVES) == []
    assert (threaded.removed, threaded.removed_bytes) == (serial.removed, serial.removed_bytes)
    assert (threaded.files, threaded.dirs, threaded.reported_bytes) == (serial.files, serial.dirs,
                                                                        serial.reported_bytes)
