"""`required-version` specifiers, matched as PEP 440 and uv match them (a bare version is `==`).

The parity suite checks the end result against real uv; these pin the operators.
"""

from __future__ import annotations

import pytest

from uvguard.requiredversion import satisfies

RELEASE = (0, 13, 9)


@pytest.mark.parametrize("specifier, expected", [
    (">=0.13", True), (">=0.14", False), ("==0.13.*", True), ("==0.12.*", False), ("!=0.13.*", False),
    ("~=0.13.0", True), ("~=0.12.0", False), ("~=0.12", True), ("0.13.9", True), ("0.13.8", False),
    (">=0.5.0, <0.14", True), ("<0.13.9", False), ("<=0.13.9", True), (">0.13.9rc1", True),
    (">=0.14.0.dev0", False), ("<0.13.9.post1", True), ("===0.13.9", True), ("==0.13.9.0", True),
])
def test_specifiers(specifier, expected):
    assert satisfies(specifier, RELEASE) is expected


@pytest.mark.parametrize("specifier", [">= x", "foo", ">=0.13.*", "~=1", ""])
def test_invalid_specifiers_raise(specifier):
    with pytest.raises(ValueError):
        satisfies(specifier, RELEASE)
