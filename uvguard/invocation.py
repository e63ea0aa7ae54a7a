"""argv -> Invocation: which uv command a command line is, read as uv's own parser (clap) reads it.

Only the standard library: this runs on the shim's path for every command
line the sh front hands over (those that may be cache commands). The grammar
(which options exist and take values, since which release; the command groups)
is the table in `uvguard.uvcli`; the rules mirror `crates/uv-cli` and
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

from uvguard import uvcli
from uvguard.records import TYPE_CHECKING, NamedTuple
from uvguard.uvcli import CACHE_OPERATIONS, PROGRAM_COMMANDS

if TYPE_CHECKING:
    from typing import Any

PASSTHROUGH = "passthrough"
PRUNE = uvcli.PRUNE
PRUNE_CI = "prune-ci"
CLEAN = uvcli.CLEAN
CLEAN_PACKAGES = "clean-packages"

Version = tuple  # (major, minor, patch) of the real uv; None means the newest

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
        value = command_arguments(self).options.get(name[2:])
        return value if isinstance(value, str) else None

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
                merged[name] = merged.get(name, 0) + value if uvcli.GLOBAL_BY_NAME[name].counted else value
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
        option = uvcli.GLOBAL_BY_LONG.get(name)
        if option is not None and option.takes_value:
            if not has_value:
                value = self._next_value()
            self._set_value(option, value)
        elif option is not None:
            if has_value:
                raise _Reject  # clap: "unexpected value for a flag"
            self._set_flag(option)
        elif tuple(self.command) in CACHE_OPERATIONS:
            self.command_flags.append(arg)
            self.rest.append(arg)
        else:
            self._unknown(arg)
            if self._runs_program() and not has_value and takes_value(tuple(self.command), "--" + name):
                self._command_value()

    def _short(self, arg: str) -> None:
        letters = arg[1:]
        for index, letter in enumerate(letters):
            option = uvcli.GLOBAL_BY_SHORT.get(letter)
            if option is not None:
                self._set_flag(option)
            else:
                self._unknown(arg)
                last = index == len(letters) - 1
                if self._runs_program() and last and takes_value(tuple(self.command), "-" + letter):
                    self._command_value()
                return

    def _positional(self, arg: str) -> bool:
        """Take a positional word; True when the rest of argv belongs to a program."""
        command = tuple(self.command)
        if not command or (len(command) == 1 and command[0] in uvcli.NAMESPACES):
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
        if not _since(self.version, uvcli.COMMAND_SINCE.get(command, ())):
            raise _Reject
        if command not in CACHE_OPERATIONS and command not in uvcli.CACHE_READERS:
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

    def _set_value(self, option: uvcli.GlobalOption, value: str) -> None:
        name = option.name
        if not _since(self.version, option.since):
            raise _Reject
        if option.choices and value not in option.choices:
            raise _Reject
        if option.path and not value:
            raise _Reject
        if option.delimiter:
            values = tuple(value.split(option.delimiter))
            if name == "preview-features" and "" in values:
                raise _Reject
            self.level[name] = self.level.get(name, ()) + values
            return
        if name in self.level:
            raise _Reject
        self.level[name] = value

    def _set_flag(self, option: uvcli.GlobalOption) -> None:
        name = option.name
        if name == "help":
            self.help = True
            return
        if not _since(self.version, option.since):
            raise _Reject
        if option.counted:
            if name == "quiet" and name in self.level and not _since(self.version, uvcli.QUIET_COUNTED_SINCE):
                raise _Reject
            self.level[name] = self.level.get(name, 0) + 1
            return
        if name in self.level:
            raise _Reject
        for group in uvcli.OVERRIDES:
            if name in group:
                for other in group - {name}:
                    self.level.pop(other, None)
        self.level[name] = True

    def result(self) -> Invocation:
        for a, b in uvcli.CONFLICTS:
            if any(a in level and b in level for level in self.levels):
                raise _Reject
        options = self.options
        if any(yes in options and no in options for yes, no in uvcli.OPPOSITES):
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
        allowed = {flag for flag, since in uvcli.CACHE_OPERATION_FLAGS[kind].items() if _since(self.version, since)}
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


def writes_environment(invocation: Invocation) -> bool:
    """Whether the command installs into (or creates) an environment: the shim records it.

    `uv version --bump` syncs the project; recording a bare `uv version` too
    costs a stale-looking record, never a missed environment.
    """
    return not invocation.help and invocation.command in uvcli.RECORDED


def takes_value(command: tuple[str, ...], option: str) -> bool:
    """Whether `command`'s own `option` (`--with`, `-p`) takes a value, in any release."""
    known = uvcli.COMMAND_BY_WORDS.get(command)
    if known is not None and option in known.flags:
        return False
    if option.startswith("--"):
        return option[2:] in uvcli.COMMAND_VALUE_OPTIONS
    return option[1:] in uvcli.COMMAND_VALUE_SHORTS


class CommandArguments(NamedTuple):
    """The subcommand's own arguments, split as uv's parser splits them."""

    options: dict  # long name (`-p` as `python`) -> its last value, or True for a flag
    positionals: tuple[str, ...]


def command_arguments(invocation: Invocation) -> CommandArguments:
    """The options and positional words of the subcommand (`uv venv -p 3.12 env`: python, (env,)).

    Words after `--` are positionals, except where they are the program of
    `uv run` (its arguments are not uv's).
    """
    args = list(invocation.rest)
    if invocation.trailing[:1] == ("--",) and invocation.command not in PROGRAM_COMMANDS:
        args += ["--", *invocation.trailing[1:]]
    options: dict = {}
    positionals: list[str] = []
    i = 0
    while i < len(args):
        arg, i = args[i], i + 1
        if arg == "--":
            positionals.extend(args[i:])
            break
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            if not has_value and takes_value(invocation.command, "--" + name) and i < len(args):
                value, has_value, i = args[i], True, i + 1
            options[name] = value if has_value else True
        elif arg.startswith("-") and arg != "-":
            i = _short_cluster(invocation.command, arg[1:], args, i, options)
        else:
            positionals.append(arg)
    return CommandArguments(options, tuple(positionals))


def _short_cluster(command: tuple[str, ...], cluster: str, args: list[str], i: int, options: dict) -> int:
    """Read `-qp3.12`, `-p 3.12`, `-p=3.12`: flags up to a letter that takes a value, then its value."""
    for position, letter in enumerate(cluster):
        if letter in uvcli.GLOBAL_BY_SHORT:
            continue  # a global flag, already read by `parse`
        name = uvcli.COMMAND_SHORT_NAMES.get(letter, letter)
        if takes_value(command, "-" + letter):
            value = cluster[position + 1:].removeprefix("=")
            if not value and i < len(args):
                value, i = args[i], i + 1
            options[name] = value
            return i
        options[name] = True
    return i
