"""`uvguard.records.NamedTuple` builds what `typing.NamedTuple` builds, without importing typing."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import typing

import pytest

from uvguard import records


class Point(records.NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str = "origin"

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)


class TypingPoint(typing.NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str = "origin"


def test_it_behaves_as_a_typing_named_tuple():
    point = Point(3, label="p")
    twin = TypingPoint(3, label="p")
    assert point == twin == (3, 0, "p")
    assert hash(point) == hash(twin)
    assert Point._fields == TypingPoint._fields == ("x", "y", "label")
    assert Point._field_defaults == TypingPoint._field_defaults
    assert point._asdict() == twin._asdict()
    assert repr(point) == "Point(x=3, y=0, label='p')"
    assert Point.__doc__ == "A point." and Point.__module__ == __name__ and Point.__qualname__ == "Point"
    assert isinstance(point, tuple)
    with pytest.raises(AttributeError):
        point.x = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_methods_and_properties_of_the_class_body_are_kept():
    assert Point(-2, 5).norm1 == 7
    assert Point(1).moved(2) == Point(3)
    assert pickle.loads(pickle.dumps(Point(1, 2))) == Point(1, 2)


def test_a_field_without_default_after_one_with_a_default_is_refused():
    with pytest.raises(TypeError, match="follows one with a default"):
        class Bad(records.NamedTuple):
            first: int = 0
            second: int


def test_importing_it_loads_no_typing():
    code = "import json, sys, uvguard.records; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, check=True)
    assert "typing" not in json.loads(result.stdout)
    assert records.TYPE_CHECKING is False
