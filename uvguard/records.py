"""`NamedTuple` and `TYPE_CHECKING` without importing `typing`, for the shim's guarded path.

Importing `typing` costs the guarded path ~3 ms, and every `typing.NamedTuple`
class another ~0.2 ms: it compiles each of its (string) annotations into a
`ForwardRef` nobody reads. Here a class statement `class Voice(NamedTuple):`
builds the same `collections.namedtuple` from the annotated names and their
defaults, with the class body's methods and docstring, as `typing` does.
Type checkers see `typing`'s own (mypy reads any `TYPE_CHECKING` as true).
See benchmarks/README.md, line 2.
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    import collections

    _BUILT_IN = frozenset({"__module__", "__qualname__", "__annotations__", "__orig_bases__"})

    class _RecordType(type):
        def __new__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
            if not bases:  # NamedTuple itself
                return super().__new__(cls, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            if any(field not in namespace for field in fields[len(fields) - len(defaults):]):
                raise TypeError(f"{name}: a field without a default follows one with a default")
            record = collections.namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            record.__qualname__ = namespace.get("__qualname__", name)
            for key, value in namespace.items():
                if key not in _BUILT_IN and key not in fields:
                    setattr(record, key, value)
            return record

    class NamedTuple(metaclass=_RecordType):
        """Base of a record class: `class Point(NamedTuple): x: int; y: int = 0`."""
