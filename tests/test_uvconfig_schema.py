"""The key sets in uvguard.uvschema are what each pinned uv release itself accepts."""

from __future__ import annotations

import re

import pytest

from tests import uv_releases
from uvguard import uvschema


def _accepted_keys(sandbox, version: str, text: str) -> tuple[str, ...]:
    """uv names every key it accepts when it meets an unknown one."""
    (sandbox.work / "uv.toml").write_text(text)
    stderr = sandbox.uv("cache", "dir", version=version, check=False).stderr
    listing = re.search(r"expected one of (.*)", stderr).group(1)
    return tuple(re.findall(r"`([^`]+)`", listing))


@pytest.mark.parametrize("version", uv_releases.pinned())
def test_recorded_keys_match_the_release(sandbox, version):
    release = tuple(int(part) for part in version.split("."))
    assert uvschema.top_level_keys(release) == _accepted_keys(sandbox, version, "not-a-uv-key = 1\n")
    assert uvschema.pip_keys(release) == _accepted_keys(sandbox, version, "[pip]\nnot-a-uv-key = 1\n")


def test_unmeasured_releases_use_the_nearest_older_one():
    assert uvschema.top_level_keys((0, 12, 30)) == uvschema.top_level_keys((0, 12, 24))
    assert uvschema.top_level_keys((9, 0, 0)) == uvschema.top_level_keys(None)
    assert "add-bounds" not in uvschema.top_level_keys((0, 6, 4))
    assert "add-bounds" in uvschema.top_level_keys((0, 13, 9))
