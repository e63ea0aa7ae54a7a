"""Just enough YAML to read the CI recipes and `action.yml` (no YAML library in the test deps).

Block mappings and sequences (a sequence item may open a mapping), plain,
quoted and flow-sequence scalars, `|` literal and `>-` folded blocks,
comments. Anything else is an error, so a recipe that outgrows this reader
fails loudly instead of being misread.
"""

from __future__ import annotations

import re

_KEY = re.compile(r"^([\w.-]+):(?: (.*)|)$")


def load(text: str):
    return _Reader(text.splitlines()).block(0)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _strip_comment(value: str) -> str:
    quote = None
    for i, char in enumerate(value):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or value[i - 1] == " "):
            return value[:i].rstrip()
    return value.strip()


def scalar(value: str):
    value = _strip_comment(value)
    if value.startswith("[") and value.endswith("]"):
        return [scalar(item) for item in value[1:-1].split(",") if item.strip()]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if value and value[0] in "\"'[{&*!|>%@`":
        raise ValueError(f"miniyaml cannot read the scalar {value!r}")
    return value


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = 0

    def _skip(self) -> None:
        while self.i < len(self.lines) and (not self.lines[self.i].strip()
                                            or self.lines[self.i].lstrip().startswith("#")):
            self.i += 1

    def block(self, minimum: int):
        self._skip()
        if self.i >= len(self.lines) or _indent(self.lines[self.i]) < minimum:
            return None
        line = self.lines[self.i]
        if line.lstrip().startswith("- "):
            return self.sequence(_indent(line))
        return self.mapping(_indent(line))

    def sequence(self, indent: int) -> list:
        items = []
        while True:
            self._skip()
            if self.i >= len(self.lines):
                return items
            line = self.lines[self.i]
            if _indent(line) != indent or not line.lstrip().startswith("- "):
                return items
            rest = line.strip()[2:]
            if _KEY.match(rest):
                self.lines[self.i] = " " * (indent + 2) + rest  # the item opens a mapping
                items.append(self.mapping(indent + 2))
            else:
                items.append(scalar(rest))
                self.i += 1

    def mapping(self, indent: int) -> dict:
        result = {}
        while True:
            self._skip()
            if self.i >= len(self.lines):
                return result
            line = self.lines[self.i]
            if _indent(line) != indent or line.lstrip().startswith("- "):
                if _indent(line) > indent:
                    raise ValueError(f"miniyaml: unexpected indentation: {line!r}")
                return result
            match = _KEY.match(line.strip())
            if not match:
                raise ValueError(f"miniyaml: not a `key: value` line: {line!r}")
            key, value = match.group(1), _strip_comment(match.group(2) or "")
            self.i += 1
            if value in ("|", ">-"):
                result[key] = self.text_block(indent, folded=value == ">-")
            elif value == "":
                result[key] = self.block(indent + 1)
            else:
                result[key] = scalar(value)

    def text_block(self, indent: int, folded: bool) -> str:
        lines = []
        while self.i < len(self.lines) and (not self.lines[self.i].strip() or _indent(self.lines[self.i]) > indent):
            lines.append(self.lines[self.i])
            self.i += 1
        while lines and not lines[-1].strip():
            lines.pop()
        depth = min(_indent(line) for line in lines if line.strip())
        body = [line[depth:] for line in lines]
        return " ".join(body) if folded else "\n".join(body) + "\n"
