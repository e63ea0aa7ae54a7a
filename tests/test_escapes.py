"""Finding links that lead out of the cache (`uvguard.escapes`), on hand-made trees."""

from __future__ import annotations

import os

from uvguard.escapes import find_escape, follows_links
from uvguard.invocation import CLEAN, CLEAN_PACKAGES, PRUNE, PRUNE_CI


def make_cache(root):
    cache = root / "cache"
    (cache / "archive-v0" / "abc" / "pkg").mkdir(parents=True)
    (cache / "wheels-v5" / "pypi" / "pkg").mkdir(parents=True)
    os.symlink(cache / "archive-v0" / "abc", cache / "wheels-v5" / "pypi" / "pkg" / "absolute")
    os.symlink("../../../archive-v0/abc", cache / "wheels-v5" / "pypi" / "pkg" / "relative")
    outside = root / "outside"
    outside.mkdir()
    (outside / "file").write_text("x")
    return cache, outside


def test_the_links_uv_writes_and_links_to_files_are_no_escape(tmp_path):
    cache, outside = make_cache(tmp_path)
    os.symlink(outside / "file", cache / "archive-v0" / "to-a-file")  # uv unlinks it, never follows
    os.symlink("/usr/bin", cache / "archive-v0" / "abc" / "pkg" / "inside-an-entry")  # removed whole
    assert find_escape(cache) is None


def test_a_link_to_a_directory_outside_is_found_wherever_uv_looks(tmp_path):
    cache, outside = make_cache(tmp_path)
    os.symlink("../../../../outside", cache / "wheels-v5" / "pypi" / "pkg" / "climbs-out")
    escape = find_escape(cache)
    assert (escape.path, escape.target) == ("wheels-v5/pypi/pkg/climbs-out", str(outside))


def test_a_climb_after_a_link_is_resolved_not_read_as_text(tmp_path):
    """`Y/evil/../../X` reads as `archive-v0/X` (an entry), but `..` climbs out of where `evil` leads."""
    cache, _ = make_cache(tmp_path)
    (cache / "archive-v0" / "X").mkdir()
    (cache / "archive-v0" / "Y").mkdir()
    (tmp_path / "t" / "a" / "b").mkdir(parents=True)
    (tmp_path / "t" / "X").mkdir()
    os.symlink(tmp_path / "t" / "a" / "b", cache / "archive-v0" / "Y" / "evil")
    os.symlink("Y/evil/../../X", cache / "archive-v0" / "Z")
    escape = find_escape(cache)
    assert escape == ("archive-v0/Z", os.path.realpath(tmp_path / "t" / "X"))


def test_a_link_through_a_linked_cache_root_is_inside(tmp_path):
    cache, _ = make_cache(tmp_path)
    os.symlink(cache, tmp_path / "alias")
    os.symlink(tmp_path / "alias" / "wheels-v5", cache / "archive-v0" / "back-in")
    assert find_escape(tmp_path / "alias") is None


def test_which_releases_and_operations_follow_links():
    assert follows_links((0, 11, 19), PRUNE) and follows_links((0, 6, 4), CLEAN_PACKAGES)
    assert follows_links(None, PRUNE_CI)
    assert not follows_links((0, 11, 20), PRUNE) and not follows_links((0, 6, 4), CLEAN)
