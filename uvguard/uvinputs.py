"""A uv command line and environment, read as uv's argument parser (clap) reads them.

For config resolution: a global option's value or its variable, clap's
boolean spellings, which command a line runs. The flag always beats the
variable; an empty variable is an error, as in clap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from uvguard import uvcli
from uvguard.errors import ConfigError
from uvguard.invocation import command_arguments

if TYPE_CHECKING:
    from uvguard.invocation import Invocation

_TRUE = {"y", "yes", "t", "true", "on", "1"}
_FALSE = {"n", "no", "f", "false", "off", "0"}


def since(version: tuple[int, ...] | None) -> Callable[[tuple[int, ...]], bool]:
    """`newer(release)`: whether uv `version` (None: the newest) is at or after `release`."""
    return lambda release: version is None or version >= release


def option_value(invocation: Invocation, env: Mapping[str, str], option: str,
                 variable: str | None) -> tuple[str, str] | None:
    """A global option's value and where it came from: the flag beats the variable (if read)."""
    option = uvcli.GLOBAL_BY_NAME[option].name  # one of uv's global options (`uvguard.uvcli`)
    if invocation.option(option) is not None:
        return invocation.option(option), f"--{option}"
    if variable is not None and variable in env:
        if not env[variable]:
            raise ConfigError(f"a value is required for '--{option}' but none was supplied (from {variable}=)")
        return env[variable], variable
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

