"""argv -> Invocation: which uv command a command line is, read as uv's own parser (clap) reads it.

Only the standard library: this runs on the shim's path for every command
line the sh front hands over (those that may be cache commands). The rules mirror `crates/uv-cli` and
were checked against real releases (tests/test_classifier_real_uv.py):
global options may stand anywhere (before the subcommand, between `cache` and
`prune`, after it); long options take `--opt value` or `--opt=value`; a value
that starts with `-` is only accepted in the `=` form (a lone `-` is a value);
short flags cluster (`-qqn`); repeating a non-counting option, or two
conflicting ones, is an error only within one command level (`uv`, `cache`,
`prune`), while `--offline` and `--no-offline` on different levels are
refused by uv after parsing; `-h`/`--help` anywhere before `--` only prints
help, and the hidden `--show-settings` only prints the resolved settings
(every release pinned returns before the cache command runs). A line uv would
reject never reaches the cache, so it is classified as
passthrough and uv prints its own error.

Where uv releases differ (flags added over time, `cache clear`, `--force`),
`parse` takes the real uv's version; without one it reads the line as the
newest release does, which accepts the most lines: a cache command is never
missed, at worst a line an older uv rejects is guarded.

Only argv is read. A few rejections depend on the environment or the disk
(0.8.24 refuses `--no-offline` while UV_OFFLINE is set, 0.9.30 does not;
`--directory` naming a missing dir; `--preview-features` names unknown to
0.9.30 - 0.11.16): those lines are classified as the operation, and before
the guard acts on one it asks the real uv whether it refuses it
(`uvrefusal`), then relays that refusal.

For the other commands the global options are collected on a best-effort
basis wherever they stand, up to `--` or the program of `uv run`/`uv tool
run`, so `uvguard explain sync --cache-dir X` sees them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

PASSTHROUGH = "passthrough"
PRUNE = "prune"
PRUNE_CI = "prune-ci"
CLEAN = "clean"
CLEAN_PACKAGES = "clean-packages"

Version = tuple  # (major, minor, patch) of the real uv; None means the newest

# Global options that take a value (long name or alias -> canonical name).
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
# Path values: clap's PathBuf parser rejects an empty one.
PATH_OPTIONS = {"cache-dir", "directory", "project", "config-file"}
# List values: repeating is allowed, and clap splits each value on a delimiter.
LIST_DELIMITERS = {"allow-insecure-host": " ", "preview-features": ","}
# Closed sets of values that clap checks before anything runs (case-sensitive).
OPTION_CHOICES = {
    "color": ("auto", "always", "never"),
    "python-preference": ("only-managed", "managed", "system", "only-system"),
    "python-fetch": ("automatic", "manual", "never"),
}

# Global flags (long name or alias -> canonical name).
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
COUNTED = {"quiet", "verbose"}
SHORT_FLAGS = {"n": "no-cache", "q": "quiet", "v": "verbose", "h": "help"}
# Flags that override each other instead of conflicting (the later one wins).
OVERRIDES = [
    {"offline", "no-offline"},
    {"managed-python", "no-managed-python"},
    {"native-tls", "no-native-tls", "system-certs", "no-system-certs"},
    {"preview", "no-preview"},
]
CONFLICTS = [("quiet", "verbose"), ("no-color", "color")]
# Pairs uv itself refuses to see both of once clap has merged the levels
# (`uv --offline cache --no-offline prune`: "Boolean flags on different levels").
OPPOSITES = [
    ("offline", "no-offline"), ("preview", "no-preview"), ("native-tls", "no-native-tls"),
    ("system-certs", "no-system-certs"), ("allow-python-downloads", "no-python-downloads"),
]

# The first release that accepts a global option (checked on real binaries and
# with `uv generate-shell-completion zsh`, which lists hidden options too).
OPTION_SINCE = {
    "managed-python": (0, 6, 8),
    "no-managed-python": (0, 6, 8),
    "preview-features": (0, 8, 4),
    "system-certs": (0, 11, 0),
    "no-system-certs": (0, 11, 0),
}
# `-qq` (a counted --quiet): before, repeating --quiet was an error.
QUIET_COUNTED_SINCE = (0, 6, 11)
CLEAR_ALIAS_SINCE = (0, 10, 10)
FORCE_SINCE = {"prune": (0, 8, 24), "clean": (0, 8, 20)}

# Namespaces whose next word is a subcommand; commands whose first positional
# starts the program to run (everything from there belongs to that program).
NAMESPACES = {"cache", "pip", "tool", "python", "auth", "self", "workspace", "build-backend"}
PROGRAM_COMMANDS = {("run",), ("tool", "run"), ("tool", "uvx")}
CACHE_OPERATIONS = {("clean",): "clean", ("cache", "clean"): "clean",
                    ("cache", "clear"): "clean", ("cache", "prune"): "prune"}
CACHE_OTHERS = {("cache", "dir"), ("cache", "size")}
# Options of `uv run`/`uv tool run` that take a value (from 0.13.9's zsh
# completion): their value is not the program. Globals are handled apart.
PROGRAM_VALUE_OPTIONS = frozenset((
    "build-constraints", "config-setting", "config-settings-package", "constraints",
    "default-index", "env-file", "exclude-newer", "exclude-newer-package", "extra",
    "extra-index-url", "find-links", "fork-strategy", "from", "group", "index",
    "index-strategy", "index-url", "keyring-provider", "link-mode", "max-recursion-depth",
    "no-binary-package", "no-build-isolation-package", "no-build-package",
    "no-editable-package", "no-extra", "no-group", "no-sources-package", "only-group",
    "overrides", "package", "prerelease", "prerelease-package", "python", "python-platform",
    "refresh-package", "reinstall-package", "resolution", "torch-backend", "upgrade-group",
    "upgrade-package", "with", "with-editable", "with-requirements",
))
PROGRAM_VALUE_SHORTS = frozenset("CPbcfipw")

_ALPHANUMERIC = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


class Invocation(NamedTuple):
    """One uv command line, as uv would read it.

    `command` holds the subcommand words (`("cache", "prune")`, `("pip",
    "install")`); `options` the global options seen, canonical name -> value
    (a string, a count, True, or a tuple for list options); `rest` the
    arguments left for the subcommand's own parser, up to `trailing`: `--`
    and what follows it, or the program of `uv run` and its arguments.
    """

    args: tuple[str, ...]
    operation: str = PASSTHROUGH
    command: tuple[str, ...] = ()
    options: Mapping[str, Any] = MappingProxyType({})  # read-only: a default shared by every instance
    packages: tuple[str, ...] = ()
    force: bool = False
    help: bool = False
    rest: tuple[str, ...] = ()
    trailing: tuple[str, ...] = ()
    rejected: bool = False  # uv would refuse the line (so it runs nothing)

    @property
    def intercepted(self) -> bool:
        return self.operation != PASSTHROUGH

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def command_option(self, name: str) -> str | None:
        """The value of the subcommand's own `name` option (e.g. `--link-mode`), the last one given."""
        value = None
        args = self.rest
        for i, arg in enumerate(args):
            if arg == name and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(name + "="):
                value = arg[len(name) + 1:]
        return value

    @property
    def names_cache_operation(self) -> bool:
        """Its words name a cache operation (whether uv accepts the line or not), not only its help
        or settings: uv either runs it or refuses it."""
        return self.command in CACHE_OPERATIONS and not self.help and not self.options.get("show-settings")

    @property
    def quiet(self) -> int:
        return self.options.get("quiet", 0)

    @property
    def verbose(self) -> int:
        return self.options.get("verbose", 0)


class _Reject(Exception):
    """uv would reject this command line: it never reaches the cache."""


def parse(args: Sequence[str], uv_version: Version | None = None) -> Invocation:
    """Classify `args` (argv without the program name) for uv `uv_version` (None: the newest)."""
    args = tuple(args)
    scan = _Scan(args, uv_version)
    try:
        scan.run()
        return scan.result()
    except _Reject:
        return Invocation(args=args, command=tuple(scan.command), options=scan.options,
                          help=scan.help, rest=tuple(scan.rest), trailing=tuple(scan.trailing), rejected=True)


def _since(version: Version | None, first: tuple) -> bool:
    return version is None or tuple(version) >= first


class _Scan:
    """One left-to-right pass over argv, the way clap walks it."""

    def __init__(self, args: tuple[str, ...], uv_version: Version | None):
        self.args = args
        self.version = uv_version
        # clap keeps the options of each command level apart (`uv`, `cache`,
        # `prune`): repeats and conflicts are errors only within one level.
        self.levels: list[dict] = [{}, {}, {}]
        self.command: list[str] = []
        self.positionals: list[str] = []
        self.command_flags: list[str] = []
        self.rest: list[str] = []
        self.trailing: list[str] = []
        self.unknown: list[str] = []
        self.help = False
        self.i = 0

    @property
    def level(self) -> dict:
        return self.levels[min(len(self.command), 2)]

    @property
    def options(self) -> dict:
        """The options uv ends up with: the deepest level wins, counts add up, flags accumulate."""
        merged: dict = {}
        for level in self.levels:
            for name, value in level.items():
                merged[name] = merged.get(name, 0) + value if name in COUNTED else value
        return merged

    @property
    def exact(self) -> bool:
        """Whether this is (so far) a cache command, which is parsed strictly."""
        return tuple(self.command[:1]) in (("cache",), ("clean",))

    def run(self) -> None:
        while self.i < len(self.args):
            arg = self.args[self.i]
            self.i += 1
            if arg == "--":
                self._double_dash()
                return
            if arg.startswith("--"):
                self._long(arg)
            elif arg.startswith("-") and arg != "-":
                self._short(arg)
            elif self._positional(arg):
                return

    def _double_dash(self) -> None:
        if tuple(self.command) in CACHE_OPERATIONS:
            self.positionals.extend(self.args[self.i:])
        elif self.exact:
            raise _Reject
        self.trailing.extend(self.args[self.i - 1:])

    def _long(self, arg: str) -> None:
        name, has_value, value = arg[2:].partition("=")
        if name in VALUE_OPTIONS:
            if not has_value:
                value = self._next_value()
            self._set_value(VALUE_OPTIONS[name], value)
        elif name in FLAGS or name in COUNTED or name == "help":
            if has_value:
                raise _Reject  # clap: "unexpected value for a flag"
            elif name == "help":
                self.help = True
            else:
                self._set_flag(FLAGS.get(name, name))
        elif tuple(self.command) in CACHE_OPERATIONS:
            self.command_flags.append(arg)
            self.rest.append(arg)
        else:
            self._unknown(arg)
            if self._runs_program() and name in PROGRAM_VALUE_OPTIONS and not has_value:
                self._command_value()

    def _short(self, arg: str) -> None:
        letters = arg[1:]
        for index, letter in enumerate(letters):
            if letter in SHORT_FLAGS and SHORT_FLAGS[letter] == "help":
                self.help = True
            elif letter in SHORT_FLAGS:
                self._set_flag(SHORT_FLAGS[letter])
            else:
                self._unknown(arg)
                if self._runs_program() and letter in PROGRAM_VALUE_SHORTS and index == len(letters) - 1:
                    self._command_value()
                return

    def _positional(self, arg: str) -> bool:
        """Take a positional word; True when the rest of argv belongs to a program."""
        command = tuple(self.command)
        if not command or (len(command) == 1 and command[0] in NAMESPACES):
            self.command.append(arg)
            if self.exact:
                self._check_cache_command()
            return False
        if command in PROGRAM_COMMANDS:
            self.trailing.extend(self.args[self.i - 1:])
            return True
        self.positionals.append(arg)
        self.rest.append(arg)
        return False

    def _check_cache_command(self) -> None:
        command = tuple(self.command)
        if len(command) == 1 and command[0] == "cache":
            return
        if command == ("cache", "clear") and not _since(self.version, CLEAR_ALIAS_SINCE):
            raise _Reject
        if command not in CACHE_OPERATIONS and command not in CACHE_OTHERS:
            raise _Reject

    def _unknown(self, arg: str) -> None:
        """An option that is not global: on a cache command uv rejects it; elsewhere it is the command's own.

        Before the command is known we cannot tell yet (`uv -V cache prune`
        prints the version): `result` rejects it if the command turns out to
        be a cache command.
        """
        if self.exact:
            raise _Reject
        self.unknown.append(arg)
        self.rest.append(arg)

    def _runs_program(self) -> bool:
        return tuple(self.command) in PROGRAM_COMMANDS

    def _command_value(self) -> None:
        """The value of a `uv run` option, given as the next word: it is not the program."""
        if self.i < len(self.args):
            self.rest.append(self.args[self.i])
            self.i += 1

    def _next_value(self) -> str:
        if self.i >= len(self.args):
            raise _Reject
        value = self.args[self.i]
        if value.startswith("-") and value != "-":
            raise _Reject
        self.i += 1
        return value

    def _set_value(self, name: str, value: str) -> None:
        if not _since(self.version, OPTION_SINCE.get(name, ())):
            raise _Reject
        if name in OPTION_CHOICES and value not in OPTION_CHOICES[name]:
            raise _Reject
        if name in PATH_OPTIONS and not value:
            raise _Reject
        if name in LIST_DELIMITERS:
            values = tuple(value.split(LIST_DELIMITERS[name]))
            if name == "preview-features" and "" in values:
                raise _Reject
            self.level[name] = self.level.get(name, ()) + values
            return
        if name in self.level:
            raise _Reject
        self.level[name] = value

    def _set_flag(self, name: str) -> None:
        if not _since(self.version, OPTION_SINCE.get(name, ())):
            raise _Reject
        if name in COUNTED:
            if name == "quiet" and name in self.level and not _since(self.version, QUIET_COUNTED_SINCE):
                raise _Reject
            self.level[name] = self.level.get(name, 0) + 1
            return
        if name in self.level:
            raise _Reject
        for group in OVERRIDES:
            if name in group:
                for other in group - {name}:
                    self.level.pop(other, None)
        self.level[name] = True

    def result(self) -> Invocation:
        for a, b in CONFLICTS:
            if any(a in level and b in level for level in self.levels):
                raise _Reject
        options = self.options
        if any(yes in options and no in options for yes, no in OPPOSITES):
            raise _Reject
        if self.exact and self.unknown:
            raise _Reject
        invocation = Invocation(args=self.args, command=tuple(self.command), options=options,
                                help=self.help, rest=tuple(self.rest), trailing=tuple(self.trailing))
        if self.help or options.get("show-settings") or tuple(self.command) not in CACHE_OPERATIONS:
            if self.exact and len(self.command) < 2 and not self.help:
                raise _Reject  # bare `uv cache`: uv prints usage and fails
            return invocation
        return self._classify(invocation)

    def _classify(self, invocation: Invocation) -> Invocation:
        kind = CACHE_OPERATIONS[tuple(self.command)]
        flags = set(self.command_flags)
        if len(flags) != len(self.command_flags):
            raise _Reject  # clap: "cannot be used multiple times"
        allowed = {"--ci"} if kind == "prune" else set()
        if _since(self.version, FORCE_SINCE[kind]):
            allowed.add("--force")
        if flags - allowed:
            raise _Reject
        force = "--force" in flags
        if kind == "prune":
            if self.positionals:
                raise _Reject
            operation = PRUNE_CI if "--ci" in flags else PRUNE
            return invocation._replace(operation=operation, force=force)
        if not all(is_package_name(name) for name in self.positionals):
            raise _Reject
        operation = CLEAN_PACKAGES if self.positionals else CLEAN
        return invocation._replace(operation=operation, packages=tuple(self.positionals), force=force)


def is_package_name(name: str) -> bool:
    """What uv's `PackageName` accepts before normalising (ASCII letters and digits, `-_.` inside).

    Written out rather than as a regex: `re` would be the slowest import on the shim's path.
    """
    return (bool(name) and name[0] in _ALPHANUMERIC and name[-1] in _ALPHANUMERIC
            and all(char in _ALPHANUMERIC or char in "-_." for char in name))


# Commands that write an environment, recorded in the registry by the shim
# (`uv version --bump` syncs the project; recording a bare `uv version` too
# costs a stale-looking record, never a missed environment).
WRITES_ENVIRONMENT = {
    ("sync",), ("run",), ("add",), ("remove",), ("version",), ("venv",), ("virtualenv",), ("v",),
    ("pip", "install"), ("pip", "sync"), ("pip", "uninstall"),
    ("tool", "install"), ("tool", "upgrade"),
}


def writes_environment(invocation: Invocation) -> bool:
    """Whether the command installs into (or creates) an environment."""
    return not invocation.help and invocation.command in WRITES_ENVIRONMENT
