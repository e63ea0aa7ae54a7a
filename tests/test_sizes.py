"""`sizes.measure`: what removing a path frees, counted as uv counts it (logical, or blocks freed)."""

from __future__ import annotations

import os

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
    monkeypatch.setattr(prune_plan, "size_accounting", lambda *args: "physical")
    assert counts_blocks(tmp_path, None, "uv", {}) is True
    assert counts_blocks(tmp_path / "missing", None, "uv", {}) is False
