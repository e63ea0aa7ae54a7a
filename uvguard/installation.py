"""Where an installation lives, and its receipt.

An installation is a PREFIX holding `bin/uv` (the shim), `bin/uvx`,
`bin/uvguard`, the env files, and `receipt`: what the install did, one
`key=value` a line after the header line, so a later run (or `--uninstall`)
knows which links, rc-file lines, directories, takeovers and policy files
are its own. install.sh puts a private virtualenv at PREFIX/venv and hands
over to `uvguard setup` (uvguard/setup.py); a uvguard installed as a tool
(`uv tool install`, `pipx install`) runs `uvguard setup` itself, by default
into the same PREFIX. The uvguard command reads the real uv recorded there,
as the shim has it baked in. Standard library only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from uvguard import paths

RECEIPT_HEADER = "uvguard_receipt=1"


def default_prefix(env: Mapping[str, str]) -> Path:
    """`${XDG_DATA_HOME:-~/.local/share}/uvguard`, where install.sh and `uvguard setup` install by default."""
    return Path(paths.data_home(env), "uvguard")


def default_link_dir(env: Mapping[str, str]) -> Path:
    """`${XDG_BIN_HOME:-~/.local/bin}`: a default install links its commands there."""
    return Path(paths.bin_home(env))


def make_dirs(path: Path) -> list[Path]:
    """mkdir -p; the directories it made, outermost first (a receipt lists them for uninstall)."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir()
    return list(reversed(missing))


class Receipt:
    """PREFIX/receipt: the lines after the header, read once and appended to as the install goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []
        if path.is_file():
            self.lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()[1:]

    @staticmethod
    def is_ours(path: Path) -> bool:
        """Whether `path` is absent or starts with the header: another file named `receipt`
        (in a --prefix someone else uses) must never drive an uninstall."""
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                return file.readline().rstrip("\n") == RECEIPT_HEADER
        except FileNotFoundError:
            return True
        except OSError:
            return False

    def values(self, key: str) -> list[str]:
        return [line.split("=", 1)[1] for line in self.lines if line.startswith(key + "=")]

    def record(self, key: str, value: str) -> None:
        """Add `key=value` once, written at once (an interrupted install can still be undone)."""
        line = f"{key}={value}"
        if "\n" in value or line in self.lines:
            return
        self.lines.append(line)
        self.save()

    def replace(self, key: str, value: str | None) -> None:
        """`key`'s only value becomes `value` (None: no value)."""
        if self.values(key) == ([] if value is None else [value]):
            return
        self.lines = [line for line in self.lines if not line.startswith(key + "=")]
        if value is None:
            self.save()
        else:
            self.record(key, value)

    def save(self) -> None:
        text = "\n".join([RECEIPT_HEADER, *self.lines]) + "\n"
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", errors="surrogateescape")
        os.replace(tmp, self.path)


def _receipt_lines(prefix: Path) -> list[str] | None:
    try:
        lines = (prefix / "receipt").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return lines[1:] if lines and lines[0] == RECEIPT_HEADER else None


def candidate_prefixes(env: Mapping[str, str], sys_prefix: str | os.PathLike = sys.prefix,
                       command: str = sys.argv[0]) -> list[Path]:
    """Where the installation this uvguard runs for may be, most specific first: the PREFIX
    whose `bin/uvguard` link this process was started as (`uvguard setup --prefix` from a tool
    install), install.sh's (this interpreter is PREFIX/venv), the default one."""
    candidates = []
    invoked = Path(os.path.abspath(command))
    # Only a PREFIX with a receipt: ~/.local/bin/uvguard is a link, not an installation.
    prefix = invoked.parent.parent
    if invoked.name == "uvguard" and invoked.parent.name == "bin" and _receipt_lines(prefix) is not None:
        candidates.append(prefix)
    venv = Path(sys_prefix)
    if venv.name == "venv":
        candidates.append(venv.parent)
    candidates.append(default_prefix(env))
    return list(dict.fromkeys(candidates))


def installation_prefix(env: Mapping[str, str], sys_prefix: str | os.PathLike = sys.prefix,
                        command: str = sys.argv[0]) -> Path | None:
    """The first candidate PREFIX holding a receipt; None outside an installation."""
    for prefix in candidate_prefixes(env, sys_prefix, command):
        if _receipt_lines(prefix) is not None:
            return prefix
    return None


def recorded_real_uv(env: Mapping[str, str], sys_prefix: str | os.PathLike = sys.prefix,
                     command: str = sys.argv[0]) -> str | None:
    """The real uv recorded for this installation; None outside one."""
    prefix = installation_prefix(env, sys_prefix, command)
    lines = _receipt_lines(prefix) if prefix else None
    values = [line.split("=", 1)[1] for line in lines or () if line.startswith("real_uv=")]
    return values[-1] if values else None
