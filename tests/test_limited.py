"""The removal itself: live entries kept (also inside a stale bucket), links never followed,
vanished entries tolerated, a failure reported with what was and was not removed."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import uv_releases
from uvguard import messages
from uvguard.errors import EXIT_USAGE, FileSystemFailure
from uvguard.invocation import parse
from uvguard.limited import LimitedResult, run_limited, summary_line
from uvguard.messages import human_readable_bytes
from uvguard.prune_plan import Plan, protected_entries, removal_plan, topmost
from uvguard.removal import Remover
from uvguard.sizes import measure

UV = str(uv_releases.path(uv_releases.LATEST))


def write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(cache: Path, args: list[str], live: dict | None = None, env: dict | None = None, quiet: int = 0):
    stream = io.StringIO()
    invocation = parse(["--cache-dir", str(cache), *args])
    config = SimpleNamespace(cache_dir=cache, no_cache=False)
    result = run_limited(invocation, config, UV, env or {}, live or {}, messages.Voice(quiet=quiet), stream=stream)
    return result, stream.getvalue()


@pytest.fixture
def cache(sandbox) -> Path:
    """A cache as uv 0.13.9 lays it out, plus a stale bucket from an older uv holding a live entry."""
    root = sandbox.cache
    write(root / "CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55")
    write(root / ".gitignore", "*")
    write(root / "archive-v0" / "live1" / "pkg" / "__init__.py")
    write(root / "archive-v0" / "dead1" / "pkg" / "__init__.py", "dead")
    write(root / "wheels-v3" / "pypi" / "old" / "unzipped" / "mod.py")  # stale bucket (uv 0.5)
    write(root / "wheels-v3" / "pypi" / "other" / "file.py")
    return root


def test_stale_bucket_keeps_exactly_its_live_entries(cache):
    live = {"archive-v0/live1": ["/env/a"], "wheels-v3/pypi/old": ["/env/b"]}
    result, output = run(cache, ["cache", "prune"], live)
    assert (cache / "archive-v0" / "live1" / "pkg" / "__init__.py").is_file()
    assert (cache / "wheels-v3" / "pypi" / "old" / "unzipped" / "mod.py").is_file()
    assert not (cache / "wheels-v3" / "pypi" / "other").exists()
    assert not (cache / "archive-v0" / "dead1").exists()
    assert set(result.kept) == {"archive-v0/live1", "wheels-v3/pypi/old"}
    assert result.environments == ("/env/a", "/env/b")
    kept_size = sum(measure(cache / entry, result.physical).bytes for entry in result.kept)
    assert kept_size > 0 and result.kept_bytes == tuple(measure(cache / e, result.physical).bytes for e in result.kept)
    assert output.splitlines()[-1].endswith(f", kept 2 entries ({human_readable_bytes(kept_size)}) "
                                            "used by 2 environments")
    assert (cache / "CACHEDIR.TAG").is_file() and (cache / ".gitignore").is_file()


def test_plan_and_protected_entries(cache, sandbox):
    invocation = parse(["cache", "prune"])
    plan = removal_plan(invocation, SimpleNamespace(cache_dir=cache, no_cache=False), UV, sandbox.env())
    assert plan.remove == ("archive-v0/dead1", "archive-v0/live1", "wheels-v3")
    assert protected_entries(plan, ["archive-v0/live1", "wheels-v3/pypi/old", "simple-v28/x"]) == (
        "archive-v0/live1", "wheels-v3/pypi/old")
    assert not list(cache.glob(".uvguard-skeleton-*"))


def test_clean_all_removes_the_markers_as_uv_does_and_keeps_live_entries_and_the_lock(cache):
    result, output = run(cache, ["cache", "clean"], {"archive-v0/live1": ["/env/a"]})
    assert sorted(os.listdir(cache)) == [".lock", "archive-v0"]  # the dir holds live entries: it and its lock stay
    assert os.listdir(cache / "archive-v0") == ["live1"]
    assert output.startswith(f"Clearing cache at: {cache}\n")


def test_symlinks_are_removed_never_followed(cache, tmp_path):
    outside = write(tmp_path / "outside" / "payload.txt", "keep me").parent
    os.symlink(outside, cache / "wheels-v3" / "pypi" / "escape")
    os.symlink(outside, cache / "archive-v0" / "linked")  # an archive entry that is a link
    os.symlink(outside / "payload.txt", cache / "stray-link")
    run(cache, ["cache", "clean"], {})
    assert (outside / "payload.txt").read_text() == "keep me"
    assert not os.path.lexists(cache / "stray-link")


def test_a_link_in_the_path_is_not_descended(cache, tmp_path):
    """A plan path under a directory that became a link is left alone: it is not in this cache."""
    outside = write(tmp_path / "outside" / "x" / "payload.txt").parent.parent
    os.symlink(outside, cache / "bucket-link")
    remover = Remover(cache, set(), messages.Voice(quiet=1), io.StringIO(), 0, False)
    remover.run(["bucket-link/x", "../outside", "/etc"])
    assert (outside / "x" / "payload.txt").is_file()
    assert remover.removed == []


def test_two_threads_remove_and_keep_what_one_does_in_the_same_order(tmp_path):
    """Paths found below a live entry's ancestor are reported where a serial run reports them."""
    def tree(cache: Path) -> list[str]:
        for bucket in ("wheels-v3", "wheels-v5"):
            for name in ("a", "b", "b-x", "c"):
                write(cache / bucket / "pypi" / name / "1.0" / "mod.py", name * 3)
                write(cache / bucket / "pypi" / name / "1.0" / "sub" / "x.py")
        for index in range(6):
            write(cache / "archive-v0" / f"id{index}" / "pkg" / "m.py", "x" * index)
        return ["wheels-v3/pypi/a", "wheels-v3/pypi/c", "wheels-v5", *(f"archive-v0/id{i}" for i in range(6))]

    live = {"wheels-v5/pypi/b", "wheels-v5/pypi/c/1.0/sub", "archive-v0/id2"}
    results = []
    for threads in (1, 2):
        remover = Remover(tmp_path / str(threads), live, messages.Voice(quiet=1), io.StringIO(), 0, False, threads)
        remover.run(tree(tmp_path / str(threads)))
        results.append((remover.removed, remover.removed_bytes, remover.kept, remover.files, remover.dirs))
    serial, threaded = results
    assert threaded == serial
    assert serial[2] == live
    assert serial[0][:3] == ["wheels-v3/pypi/a", "wheels-v3/pypi/c", "wheels-v5/pypi/a"]
    assert "wheels-v5/pypi/b-x" in serial[0] and "wheels-v5/pypi/c/1.0/mod.py" in serial[0]
    assert (tmp_path / "2" / "wheels-v5" / "pypi" / "c" / "1.0" / "sub" / "x.py").is_file()


def test_entries_that_vanish_are_tolerated(cache):
    remover = Remover(cache, set(), messages.Voice(quiet=1), io.StringIO(), 0, False)
    remover.run(["archive-v0/gone", "nothere/deeper", "archive-v0/dead1"])
    assert remover.removed == ["archive-v0/dead1"]
    assert (remover.files, remover.dirs) == (1, 2)


def test_a_failure_says_what_was_and_was_not_removed(cache, monkeypatch):
    real_rmdir = os.rmdir

    def rmdir(path, *, dir_fd=None):
        if path == "other":
            raise OSError(16, "Device or resource busy", path)
        return real_rmdir(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "rmdir", rmdir)
    remover = Remover(cache, set(), messages.Voice(quiet=1), io.StringIO(), 0, False)
    with pytest.raises(FileSystemFailure) as failure:
        remover.run(["archive-v0/dead1", "wheels-v3/pypi/old", "wheels-v3/pypi/other", "archive-v0/live1"])
    assert failure.value.exit_code == EXIT_USAGE  # an OS error in the guarded path: exit 2, as issue 13 has it
    message = failure.value.message
    assert "wheels-v3/pypi/other" in message and "Device or resource busy" in message
    assert "removing 1 of 4 entries" in message
    # Archives go last, after the pointers that may name them: both are still there.
    assert "not removed (or only in part): wheels-v3/pypi/other, archive-v0/dead1, archive-v0/live1" in message
    assert (cache / "archive-v0" / "live1").is_dir() and (cache / "archive-v0" / "dead1").is_dir()


def test_quiet_prints_nothing(cache):
    _, output = run(cache, ["-q", "cache", "prune"])
    assert output == ""


def test_verbose_names_every_removed_and_kept_path(cache):
    _, output = run(cache, ["-v", "cache", "prune"], {"archive-v0/live1": ["/env"]})
    assert f"DEBUG Removing {cache / 'archive-v0' / 'dead1'}" in output
    assert f"DEBUG Keeping live cache entry: {cache / 'archive-v0' / 'live1'}" in output


def test_no_cache_found(tmp_path):
    result, output = run(tmp_path / "missing", ["cache", "prune"])
    assert output == f"No cache found at: {tmp_path / 'missing'}\n"
    assert result.removed == ()


@pytest.mark.parametrize("size,text", [
    (0, "0B"), (1023, "1023B"), (1024, "1.0KiB"), (1536, "1.5KiB"), (1024 ** 2 - 52, "1023.9KiB"),
    (1024 ** 2 - 51, "1.0MiB"), (90112, "88.0KiB"), (1024 ** 6 * 16 - 1, "16.0EiB"),
])
def test_sizes_are_formatted_like_uv(size, text):
    assert human_readable_bytes(size) == text


@pytest.mark.parametrize("files,dirs,size,line", [
    (0, 0, 0, "No unused entries found"),
    (0, 1, 0, "Removed 1 directory"),
    (0, 3, 0, "Removed 3 directories"),
    (1, 4, 10, "Removed 1 file (10B)"),
    (7, 4, 2048, "Removed 7 files (2.0KiB)"),
])
def test_summary_line_wording(files, dirs, size, line):
    result = LimitedResult("prune", Path("/c"), (), (), (), files, dirs, size, size)
    assert summary_line(result) == line


def test_nothing_removed_but_entries_kept_says_so_with_the_kept_size():
    """Not uv's "No unused entries found": uv would have removed the kept entries."""
    result = LimitedResult("prune", Path("/c"), (), ("archive-v0/a",), ("/env",), kept_bytes=(4096,))
    assert summary_line(result) == "Removed nothing: kept 1 entry (4.0KiB) used by 1 environment"


def test_topmost():
    assert topmost(["a", "a/b", "c/d", "c/d/e", "f/g"]) == ("a", "c/d", "f/g")
    assert protected_entries(Plan("prune", Path("/c"), ("a",)), ["a/b", "b"]) == ("a/b",)


def test_kept_entries_are_sized_once_while_the_removal_runs(cache, monkeypatch):
    """The summary's sizes of the kept entries cost no time after the removal: a thread sizes them meanwhile."""
    import uvguard.limited

    events: list[str] = []
    real_measure, real_run = uvguard.limited.measure, Remover.run

    def measured(path, physical):
        events.append(f"size {Path(path).relative_to(cache)}")
        return real_measure(path, physical)

    def removal(self, paths):  # as slow as it takes the thread to size both (at most 5 s)
        deadline = time.monotonic() + 5
        while sum(event.startswith("size") for event in events) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        real_run(self, paths)
        events.append("removal ends")

    monkeypatch.setattr(uvguard.limited, "measure", measured)
    monkeypatch.setattr(Remover, "run", removal)
    result, _ = run(cache, ["cache", "prune"], {"archive-v0/live1": ["/env/a"], "wheels-v3/pypi/old": ["/env/b"]})
    assert set(result.kept) == {"archive-v0/live1", "wheels-v3/pypi/old"}
    assert events.index("removal ends") == len(events) - 1, events  # nothing sized after the removal
    assert sorted(e for e in events if e.startswith("size")) == ["size archive-v0/live1", "size wheels-v3/pypi/old"]
    assert result.kept_bytes == tuple(real_measure(cache / e, result.physical).bytes for e in result.kept)
