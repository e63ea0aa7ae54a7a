"""How the skeleton mirrors the cache's symlinks (the plan's hot spot), without asking uv."""

from __future__ import annotations

import errno
import os

from uvguard.skeleton import build_skeleton


def skeleton_of(cache, tmp_path):
    skeleton, outside = tmp_path / "skeleton", tmp_path / "outside"
    build_skeleton(cache, skeleton, outside)
    return skeleton, outside


def test_links_as_uv_writes_them_map_onto_the_skeleton(tmp_path):
    cache = tmp_path / "cache"
    (cache / "archive-v0" / "abc").mkdir(parents=True)
    (cache / "wheels-v8" / "pypi" / "six").mkdir(parents=True)
    relative = cache / "wheels-v8" / "pypi" / "six" / "1.0-py3-none-any"
    relative.symlink_to("../../../archive-v0/abc")
    absolute = cache / "wheels-v8" / "pypi" / "six" / "0.9-py3-none-any"
    absolute.symlink_to(cache / "archive-v0" / "abc")  # uv <= 0.11.16
    skeleton, _ = skeleton_of(cache, tmp_path)
    mirrored = skeleton / "wheels-v8" / "pypi" / "six"
    assert os.readlink(mirrored / "1.0-py3-none-any") == "../../../archive-v0/abc"
    assert os.readlink(mirrored / "0.9-py3-none-any") == str(skeleton / "archive-v0" / "abc")


def test_links_leaving_the_cache_point_at_stand_ins(tmp_path):
    cache = tmp_path / "cache"
    (cache / "wheels-v8" / "pypi").mkdir(parents=True)
    precious = tmp_path / "precious"
    precious.mkdir()
    (cache / "wheels-v8" / "pypi" / "climbs-out").symlink_to("../../../precious")
    (cache / "wheels-v8" / "pypi" / "absolute-out").symlink_to(precious)
    (cache / "wheels-v8" / "pypi" / "dotdot-inside").symlink_to("../pypi/../../missing")
    skeleton, outside = skeleton_of(cache, tmp_path)
    for name in ("climbs-out", "absolute-out"):
        target = os.readlink(skeleton / "wheels-v8" / "pypi" / name)
        assert os.path.dirname(target) == str(outside), name
    # `..` after a name goes the realpath way: `<cache>/missing`, re-expressed from the skeleton link.
    assert os.readlink(skeleton / "wheels-v8" / "pypi" / "dotdot-inside") == "../../missing"


def test_absolute_links_with_a_trailing_slash_still_reach_the_archive_stand_in(tmp_path):
    """`<cache>/archive-v0/<id>/` names a directory; copied as text it would name the skeleton's
    file stand-in and dangle, so uv would see the archive as unreferenced and plan its removal."""
    cache = tmp_path / "cache"
    (cache / "archive-v0" / "abc").mkdir(parents=True)
    (cache / "wheels-v6" / "pypi").mkdir(parents=True)
    for name, suffix in (("slash", "/"), ("dot", "/.")):
        (cache / "wheels-v6" / "pypi" / name).symlink_to(f"{cache / 'archive-v0' / 'abc'}{suffix}")
    skeleton, _ = skeleton_of(cache, tmp_path)
    for name in ("slash", "dot"):
        link = skeleton / "wheels-v6" / "pypi" / name
        assert os.path.realpath(link) == str(skeleton / "archive-v0" / "abc"), name
        assert os.path.exists(link), name


def test_archive_stand_ins_survive_the_hard_link_limit(tmp_path, monkeypatch):
    """ext4 allows 65,000 links to one file; past that each stand-in needs a new empty file."""
    cache = tmp_path / "cache"
    for index in range(5):
        (cache / "archive-v0" / f"entry{index}").mkdir(parents=True)
    real_link, links = os.link, {}

    def link_with_a_limit_of_two(source, target, *args, **kwargs):
        if links.get(source, 0) >= 2:
            raise OSError(errno.EMLINK, "Too many links", source)
        links[source] = links.get(source, 0) + 1
        real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", link_with_a_limit_of_two)
    skeleton, outside = skeleton_of(cache, tmp_path)
    stand_ins = sorted((skeleton / "archive-v0").iterdir())
    assert [path.name for path in stand_ins] == [f"entry{index}" for index in range(5)]
    assert len({os.stat(path).st_ino for path in stand_ins}) == 3  # 2 + 2 + 1 links
    assert all(os.stat(path).st_size == 0 for path in stand_ins)
