"""argv -> Invocation: which uv command a command line is, read as uv's own parser (clap) reads it.

Only the standard library: this runs on the shim's path for every command
line that mentions `cache` or `clean`. The rules mirror `crates/uv-cli`:
global options may stand anywhere (before the subcommand, between `cache` and
`prune`, after it); long options take `--opt value` or `--opt=value`; a value
that starts with `-` is only accepted in the `=` form; short flags cluster
(`-qqn`); repeating a non-counting option is an error; `-h`/`--help` anywhere
before `--` only prints help. A line uv would reject never reaches the cache,
so it is classified as passthrough and uv prints its own error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PASSTHROUGH = "passthrough"
PRUNE = "prune"
PRUNE_CI = "prune-ci"
CLEAN = "clean"
CLEAN_PACKAGES = "clean-packages"
OPERATIONS = (PASSTHROUGH, PRUNE, PRUNE_CI, CLEAN, CLEAN_PACKAGES)

# Global options that take a value (long name -> canonical name).
VALUE_OPTIONS = {
    "cache-dir": "cache-dir",
    "directory": "directory",
    "project": "project",
    "config-file": "config-file",
    "color": "color",
    "allow-insecure-host": "allow-insecure-host",
    "trusted-host": "allow-insecure-host",
    "python-preference": "python-preference",
    "python-fetch": "python-fetch",
    "preview-features": "preview-features",
    "preview-feature": "preview-features",
}
# Options whose value is a list: repeating them is allowed.
REPEATABLE_VALUE_OPTIONS = {"allow-insecure-host", "preview-features"}
# Closed sets of values that clap checks before anything runs.
OPTION_CHOICES = {
    "color": ("auto", "always", "never"),
    "python-preference": ("only-managed", "managed", "system", "only-system"),
    "python-fetch": ("automatic", "manual", "never"),
}

# Global flags (long name -> canonical name).
FLAGS = {
    "no-cache": "no-cache",
    "no-cache-dir": "no-cache",
    "no-config": "no-config",
    "offline": "offline",
    "no-offline": "no-offline",
    "no-progress": "no-progress",
    "managed-python": "managed-python",
    "no-managed-python": "no-managed-python",
    "allow-python-downloads": "allow-python-downloads",
    "no-python-downloads": "no-python-downloads",
    "native-tls": "native-tls",
    "no-native-tls": "no-native-tls",
    "system-certs": "system-certs",
    "no-system-certs": "no-system-certs",
    "no-color": "no-color",
    "preview": "preview",
    "no-preview": "no-preview",
    "isolated": "isolated",
    "show-settings": "show-settings",
    "no-installer-metadata": "no-installer-metadata",
}
# Pairs that override each other instead of conflicting (the later one wins).
OVERRIDES = [
    {"offline", "no-offline"},
    {"managed-python", "no-managed-python"},
    {"native-tls", "no-native-tls", "system-certs", "no-system-certs"},
    {"preview", "no-preview"},
]
CONFLICTS = [("quiet", "verbose"), ("no-color", "color")]
SHORT_FLAGS = {"n": "no-cache", "q": "quiet", "v": "verbose", "h": "help"}
COUNTED = {"quiet", "verbose"}

# PEP 508 names, which is what `PackageName` accepts before normalising.
_PACKAGE_NAME = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")


@dataclass(frozen=True)
class Invocation:
    """One uv command line, as uv would read it.

    `command` holds the subcommand words (`("cache", "prune")`, `("pip",
    "install")`); `options` the global options seen, canonical name -> value
    (a string, a count, True, or a tuple for repeatable ones); `rest` the
    arguments left for the subcommand's own parser.
    """

    args: tuple[str, ...]
    operation: str = PASSTHROUGH
    command: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    packages: tuple[str, ...] = ()
    force: bool = False
    help: bool = False
    rest: tuple[str, ...] = ()

    @property
    def intercepted(self) -> bool:
        return self.operation != PASSTHROUGH

    def option(self, name: str, default=None):
        return self.options.get(name, default)

    @property
    def quiet(self) -> int:
        return self.options.get("quiet", 0)

    @property
    def verbose(self) -> int:
        return self.options.get("verbose", 0)


class _Reject(Exception):
    """uv would reject this command line: it never reaches the cache."""


def parse(args: list[str] | tuple[str, ...]) -> Invocation:
    """Classify `args` (argv without the program name)."""
    args = tuple(args)
    try:
        return _parse(args)
    except _Reject:
        return Invocation(args=args)


def _parse(args: tuple[str, ...]) -> Invocation:
    options: dict = {}
    command: list[str] = []
    positionals: list[str] = []
    command_flags: list[str] = []
    rest: list[str] = []
    help_requested = False
    after_dashes = False
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if after_dashes:
            positionals.append(arg)
            rest.append(arg)
            continue
        if arg == "--":
            if _is_cache_operation(command):
                after_dashes = True
                continue
            rest.extend(args[i - 1:])
            break
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            if name in VALUE_OPTIONS:
                canonical = VALUE_OPTIONS[name]
                if not has_value:
                    if i >= len(args) or (args[i].startswith("-") and args[i] != "-"):
                        raise _Reject
                    value = args[i]
                    i += 1
                _set_value(options, canonical, value)
                continue
            if name in FLAGS:
                if has_value:
                    raise _Reject
                _set_flag(options, FLAGS[name])
                continue
            if name in ("quiet", "verbose"):
                if has_value:
                    raise _Reject
                options[name] = options.get(name, 0) + 1
                continue
            if name == "help":
                if has_value:
                    raise _Reject
                help_requested = True
                continue
            if name == "version" and not command:
                raise _Reject  # prints the version; not a cache command
            if _is_cache_operation(command) or (command and command[0] not in ("cache", "clean")):
                command_flags.append(arg)
                rest.append(arg)
                if command and command[0] not in ("cache", "clean"):
                    rest.extend(args[i:])
                    break
                continue
            raise _Reject
        if arg.startswith("-") and arg != "-":
            if command and command[0] not in ("cache", "clean"):
                rest.extend(args[i - 1:])
                break
            for letter in arg[1:]:
                if letter not in SHORT_FLAGS:
                    raise _Reject
                canonical = SHORT_FLAGS[letter]
                if canonical == "help":
                    help_requested = True
                elif canonical in COUNTED:
                    options[canonical] = options.get(canonical, 0) + 1
                else:
                    _set_flag(options, canonical)
            continue
        # A positional word: a subcommand name while we still expect one.
        if not command:
            command.append(arg)
            if arg not in ("cache", "clean"):
                rest.extend(args[i:])
                break
            continue
        if command == ["cache"]:
            command.append(arg)
            continue
        positionals.append(arg)
        rest.append(arg)

    for a, b in CONFLICTS:
        if a in options and b in options:
            raise _Reject
    invocation = dict(args=args, command=tuple(command), options=options, rest=tuple(rest))
    if help_requested:
        return Invocation(help=True, **invocation)
    return _classify(command, positionals, command_flags, invocation)


def _is_cache_operation(command: list[str]) -> bool:
    return command in (["clean"], ["cache", "clean"], ["cache", "clear"], ["cache", "prune"])


def _classify(command, positionals, command_flags, invocation) -> Invocation:
    if not _is_cache_operation(command):
        if command[:1] in (["cache"], ["clean"]) and command not in (["cache", "dir"], ["cache", "size"]):
            raise _Reject
        return Invocation(**invocation)
    flags = set()
    for flag in command_flags:
        if flag in flags:
            raise _Reject  # clap: "cannot be used multiple times"
        flags.add(flag)
    if command[-1] == "prune":
        if positionals or flags - {"--ci", "--force"}:
            raise _Reject
        operation = PRUNE_CI if "--ci" in flags else PRUNE
        return Invocation(operation=operation, force="--force" in flags, **invocation)
    if flags - {"--force"}:
        raise _Reject
    for name in positionals:
        if not _PACKAGE_NAME.match(name):
            raise _Reject
    operation = CLEAN_PACKAGES if positionals else CLEAN
    return Invocation(operation=operation, packages=tuple(positionals),
                      force="--force" in flags, **invocation)


def _set_value(options: dict, name: str, value: str) -> None:
    if name in OPTION_CHOICES and value not in OPTION_CHOICES[name]:
        raise _Reject
    if name in REPEATABLE_VALUE_OPTIONS:
        options[name] = options.get(name, ()) + (value,)
        return
    if name in options:
        raise _Reject
    options[name] = value


def _set_flag(options: dict, name: str) -> None:
    if name in options:
        raise _Reject
    for group in OVERRIDES:
        if name in group:
            for other in group - {name}:
                options.pop(other, None)
    options[name] = True


# Commands that write an environment, recorded in the registry by the shim.
_WRITES_ENVIRONMENT = {"sync", "run", "add", "remove", "venv", "virtualenv", "v"}
_WRITES_ENVIRONMENT_SUB = {"pip": {"install", "sync", "uninstall"}, "tool": {"install", "upgrade"}}


def writes_environment(invocation: Invocation) -> bool:
    """Whether the command installs into (or creates) an environment."""
    if not invocation.command or invocation.help:
        return False
    word = invocation.command[0]
    if word in _WRITES_ENVIRONMENT:
        return True
    subcommands = _WRITES_ENVIRONMENT_SUB.get(word)
    if subcommands is None:
        return False
    words = [arg for arg in invocation.rest if not arg.startswith("-")]
    return bool(words) and words[0] in subcommands
