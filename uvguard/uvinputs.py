"""A uv command line and environment, read as uv's argument parser (clap) reads them.

For config resolution: a global option's value or its variable, clap's
boolean spellings, which command a line runs, and where a setting came from
(`ConfigSource`). The flag always beats the variable; an empty variable is an
error, as in clap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from uvguard import uvcli
from uvguard.errors import ConfigError
from uvguard.invocation import command_arguments
from uvguard.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from uvguard.invocation import Invocation

_TRUE = {"y", "yes", "t", "true", "on", "1"}
_FALSE = {"n", "no", "f", "false", "off", "0"}
# A file's TOML tables, as `describe` names them ("[tool.uv] [pip] link-mode").
_TABLE_WORDS = (("tool.uv.", "[tool.uv] "), ("pip.", "[pip] "))


class ConfigSource(NamedTuple):
    """Where one uv setting came from, as `policy.Source` says it for a policy key.

    `kind` is "cli" (a flag: `name` is `--cache-dir`), "env" (a variable:
    `UV_LINK_MODE`), "file" (`name` is the path; `scope` as in `ConfigFile`:
    project, user, system or config-file; `key` the dotted TOML key,
    `tool.uv.pip.link-mode`; `line` where found) or "default" (`name` says
    which of uv's defaults, "" for plain off).
    """

    kind: str
    name: str = ""
    scope: str | None = None
    key: str | None = None
    line: int | None = None

    def describe(self) -> str:
        if self.kind == "default":
            return f"default ({self.name})" if self.name else "default"
        if self.kind != "file":
            return self.name
        key, words = self.key or "", ""
        for prefix, word in _TABLE_WORDS:
            if key.startswith(prefix):
                key, words = key[len(prefix):], words + word
        return f"{self.name}: {words}{key}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name or None, "scope": self.scope, "key": self.key,
                "line": self.line}


def since(version: tuple[int, ...] | None) -> Callable[[tuple[int, ...]], bool]:
    """`newer(release)`: whether uv `version` (None: the newest) is at or after `release`."""
    return lambda release: version is None or version >= release


def option_value(invocation: Invocation, env: Mapping[str, str], option: str,
                 variable: str | None) -> tuple[str, ConfigSource] | None:
    """A global option's value and where it came from: the flag beats the variable (if read)."""
    option = uvcli.GLOBAL_BY_NAME[option].name  # one of uv's global options (`uvguard.uvcli`)
    value = invocation.option(option)
    if value is not None:
        return value, ConfigSource("cli", f"--{option}")
    if variable is not None and variable in env:
        if not env[variable]:
            raise ConfigError(f"a value is required for '--{option}' but none was supplied (from {variable}=)")
        return env[variable], ConfigSource("env", variable)
    return None


def flag(invocation: Invocation, env: Mapping[str, str], option: str, variable: str) -> bool:
    option = uvcli.GLOBAL_BY_NAME[option].name
    if invocation.option(option):
        return True
    if variable in env:
        return parse_bool(env[variable], f"--{option}", variable)
    return False


def parse_bool(value: str, option: str, variable: str) -> bool:
    """clap's BoolishValueParser: y/yes/t/true/on/1 and n/no/f/false/off/0, any case."""
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"invalid value '{value}' for '{option}': value was not a boolean (from {variable})")


def boolish_env(env: Mapping[str, str], variable: str) -> bool:
    if variable not in env:
        return False
    value = env[variable].lower()
    if value not in _TRUE | _FALSE:
        raise ConfigError(f"Invalid environment variable `{variable}={env[variable]}`: expected a boolish value")
    return value in _TRUE


def command_word(invocation: Invocation) -> str:
    return invocation.command[0] if invocation.command else ""


def subcommand_word(invocation: Invocation) -> str:
    if len(invocation.command) > 1:
        return invocation.command[1]
    return next(iter(command_arguments(invocation).positionals), "")


def home(env: Mapping[str, str], working_dir: Path) -> Path:
    """`$HOME` (a relative one is taken from the working dir, as uv does), else the account's."""
    home = env.get("HOME", "")
    if home:
        return Path(os.path.normpath(working_dir / home))
    import pwd

    return Path(pwd.getpwuid(os.getuid()).pw_dir)

