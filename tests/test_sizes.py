"""`sizes.measure`: what removing a path frees, counted as uv counts it (logical, or blocks freed)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from uvguard.sizes import Size, measure


def test_logical_counts_file_and_link_sizes_never_following_links(tmp_path):
    tree = tmp_path / "entry"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_bytes(b"x" * 10)
    (tree / "sub" / "b").write_bytes(b"y" * 5)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"z" * 100_000)
    (tree / "link").symlink_to(outside)
    link_size = os.lstat(tree / "link").st_size
    assert measure(tree, physical=False) == Size(15 + link_size, 3, 2)
    assert measure(tmp_path / "missing", physical=False) == Size()


def test_physical_counts_blocks_and_a_hard_link_only_when_every_link_goes(tmp_path):
    tree = tmp_path / "entry"
    tree.mkdir()
    (tree / "tiny").write_bytes(b"x")
    blocks = os.stat(tree / "tiny").st_blocks * 512
    assert blocks >= 512 and measure(tree, physical=True).bytes == blocks  # one byte frees a whole block
    kept = tmp_path / "kept-elsewhere"
    (tree / "shared").write_bytes(b"s" * 10_000)
    os.link(tree / "shared", kept)
    assert measure(tree, physical=True).bytes == blocks  # still held by the link outside
    kept.unlink()
    os.link(tree / "shared", tree / "shared-again")
    shared = os.stat(tree / "shared").st_blocks * 512
    assert measure(tree, physical=True).bytes == blocks + shared  # both links go: freed once


def test_a_cache_this_user_cannot_write_leaves_file_sizes_not_an_error(tmp_path, monkeypatch):
    from uvguard import prune_plan
    from uvguard.sizes import counts_blocks

    def denied(*args):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(prune_plan, "size_accounting", denied)
    assert counts_blocks(tmp_path, None, "uv", {}) is False
    monkeypatch.setattr(prune_plan, "size_accounting", lambda *args: ("physical", True))
    assert counts_blocks(tmp_path, None, "uv", {}) is True
    assert counts_blocks(tmp_path / "missing", None, "uv", {}) is False


def _probes(monkeypatch) -> list:
    """Every run of uv's size-accounting probe from here on."""
    from uvguard import prune_plan

    runs = []
    probe = prune_plan.size_accounting
    monkeypatch.setattr(prune_plan, "size_accounting", lambda *args: runs.append(args[2]) or probe(*args))
    return runs


def test_the_accounting_is_learnt_once_per_uv_binary_and_filesystem(sandbox, tmp_path, monkeypatch):
    """uv 0.13.9 counts blocks, 0.11.33 file sizes: the answer is remembered for the binary it came from."""
    from tests import uv_releases
    from uvguard.invocation import parse
    from uvguard.sizes import counts_blocks

    runs = _probes(monkeypatch)
    uv = tmp_path / "bin" / "uv"  # one path, two binaries in turn: the real path tells them apart
    uv.parent.mkdir()
    uv.symlink_to(uv_releases.path("0.13.9"))
    sandbox.cache.mkdir()
    env, prune = sandbox.env(), parse(["cache", "prune"])
    assert counts_blocks(sandbox.cache, prune, str(uv), env) is True
    assert counts_blocks(sandbox.cache, prune, str(uv), env) is True
    assert len(runs) == 1
    memory = os.path.join(env["XDG_STATE_HOME"], "uvguard", "uv-size-accounting")
    assert os.path.isfile(memory)
    uv.unlink()
    uv.symlink_to(uv_releases.path("0.11.33"))
    assert counts_blocks(sandbox.cache, prune, str(uv), env) is False
    assert counts_blocks(sandbox.cache, prune, str(uv), env) is False
    assert len(runs) == 2
    if os.path.isdir("/dev/shm") and os.stat("/dev/shm").st_dev != os.stat(sandbox.cache).st_dev:
        other = tempfile.mkdtemp(dir="/dev/shm")
        try:  # another filesystem: asked again
            counts_blocks(Path(other), prune, str(uv), env)
            assert len(runs) == 3
        finally:
            shutil.rmtree(other)
    assert counts_blocks(sandbox.cache, parse(["--preview", "cache", "prune"]), str(uv), env) is False
    assert len(runs) == 4  # other preview settings: asked again


@pytest.mark.parametrize("hostile", ["a link to elsewhere", "writable by others", "a FIFO", "a directory"])
def test_a_state_file_uvguard_does_not_trust_only_makes_it_ask_uv_again(sandbox, tmp_path, monkeypatch, hostile):
    """The remembered answers are read only from a regular file of this user's that only they can
    write, and written only there (never through a link): anything else is neither believed nor written."""
    from tests import uv_releases
    from uvguard.invocation import parse
    from uvguard.sizes import accounting_key, counts_blocks

    runs = _probes(monkeypatch)
    uv = str(uv_releases.path("0.13.9"))
    sandbox.cache.mkdir()
    env, prune = sandbox.env(), parse(["cache", "prune"])
    memory = Path(env["XDG_STATE_HOME"], "uvguard", "uv-size-accounting")
    memory.parent.mkdir(parents=True, exist_ok=True)
    forged = f"{accounting_key(sandbox.cache, prune, uv, env)}\tlogical\n"  # 0.13.9 counts blocks
    memory.write_text(forged)  # the user's own file: believed
    assert counts_blocks(sandbox.cache, prune, uv, env) is False and runs == []
    memory.unlink()
    elsewhere = tmp_path / "elsewhere"
    if hostile == "a link to elsewhere":
        elsewhere.write_text(forged)
        memory.symlink_to(elsewhere)
    elif hostile == "writable by others":
        memory.write_text(forged)
        memory.chmod(0o666)
    elif hostile == "a FIFO":
        os.mkfifo(memory)
    else:
        memory.mkdir()
    for _ in range(2):
        assert counts_blocks(sandbox.cache, prune, uv, env) is True
    assert len(runs) == 2  # asked each time, nothing remembered
    if hostile == "a link to elsewhere":
        assert elsewhere.read_text() == forged and memory.is_symlink()
    elif hostile == "writable by others":
        assert memory.read_text() == forged
