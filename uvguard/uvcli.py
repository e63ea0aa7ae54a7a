"""uv's command line as one table: global options, the command groups uvguard reads, the release each appeared in.

Every reader of a uv command line takes its grammar from here: `invocation`
(the parser on the shim's path), `roots` (through `invocation`, to resolve
recorded lines), the config stage (which commands read which settings),
`globalopts`, `uvrefusal`; the sh front's case patterns (`shim.sh`) are
checked against it by tests/test_uvcli.py. That test also checks the table
against the pinned real releases: clap's zsh completion
(`uv generate-shell-completion zsh`) lists every option of every command,
hidden ones too, and whether it takes a value; the aliases it leaves out are
probed on the binaries (`uv sync --constraint` asks for a value).

Plain data, standard library only and cheap to import: it is read on the
shim's path.
"""

from __future__ import annotations

from uvguard.records import NamedTuple

PRUNE = "prune"
CLEAN = "clean"


class GlobalOption(NamedTuple):
    """One of uv's global options (accepted before, between and after the subcommand words)."""

    name: str                      # the canonical long name
    takes_value: bool = False      # `--name value` / `--name=value`; else a flag
    aliases: tuple[str, ...] = ()  # other long names
    short: str = ""                # its one-letter name (never one that takes a value)
    since: tuple[int, ...] = ()    # the first release that accepts it; () every release pinned
    counted: bool = False          # may repeat and adds up (`-qq`)
    choices: tuple[str, ...] = ()  # a closed set of values, checked by clap before anything runs
    delimiter: str = ""            # a list: may repeat, each value split on this
    path: bool = False             # clap's PathBuf: an empty value is rejected

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every long form, `--name` and `--alias`."""
        return tuple("--" + name for name in (self.name, *self.aliases))


GLOBAL_OPTIONS = (
    GlobalOption("cache-dir", True, path=True),
    GlobalOption("directory", True, path=True),
    GlobalOption("project", True, path=True),
    GlobalOption("config-file", True, path=True),
    GlobalOption("color", True, choices=("auto", "always", "never")),
    GlobalOption("allow-insecure-host", True, aliases=("trusted-host",), delimiter=" "),
    GlobalOption("python-preference", True, choices=("only-managed", "managed", "system", "only-system")),
    GlobalOption("python-fetch", True, choices=("automatic", "manual", "never")),
    GlobalOption("preview-features", True, aliases=("preview-feature",), delimiter=",", since=(0, 8, 4)),
    GlobalOption("no-cache", aliases=("no-cache-dir",), short="n"),
    GlobalOption("no-config"),
    GlobalOption("offline"),
    GlobalOption("no-offline"),
    GlobalOption("no-progress"),
    GlobalOption("managed-python", since=(0, 6, 8)),
    GlobalOption("no-managed-python", since=(0, 6, 8)),
    GlobalOption("allow-python-downloads"),
    GlobalOption("no-python-downloads"),
    GlobalOption("native-tls"),
    GlobalOption("no-native-tls"),
    GlobalOption("system-certs", since=(0, 11, 0)),
    GlobalOption("no-system-certs", since=(0, 11, 0)),
    GlobalOption("no-color"),
    GlobalOption("preview"),
    GlobalOption("no-preview"),
    GlobalOption("isolated"),
    GlobalOption("show-settings"),
    GlobalOption("no-installer-metadata"),
    GlobalOption("quiet", short="q", counted=True),
    GlobalOption("verbose", short="v", counted=True),
    GlobalOption("help", short="h"),  # anywhere before `--`: only prints help
)
# `-V`/`--version` is global up to 0.6 and top-level only since 0.7; either way it only prints uv's
# version, so `invocation` leaves it to uv (an unknown option: the line reaches no cache).
VERSION_OPTION = GlobalOption("version", short="V")
VERSION_GLOBAL_UNTIL = (0, 7, 0)

# Lookups derived from the table: long spelling (no dashes) or short letter -> option.
GLOBAL_BY_LONG = {name: option for option in GLOBAL_OPTIONS for name in (option.name, *option.aliases)}
GLOBAL_BY_SHORT = {option.short: option for option in GLOBAL_OPTIONS if option.short}
GLOBAL_BY_NAME = {option.name: option for option in GLOBAL_OPTIONS}

# Flags that override each other instead of conflicting (the later one wins), pairs clap refuses
# within one level, and pairs uv refuses once clap has merged the levels
# (`uv --offline cache --no-offline prune`: "Boolean flags on different levels").
OVERRIDES = (
    frozenset({"offline", "no-offline"}),
    frozenset({"managed-python", "no-managed-python"}),
    frozenset({"native-tls", "no-native-tls", "system-certs", "no-system-certs"}),
    frozenset({"preview", "no-preview"}),
)
CONFLICTS = (("quiet", "verbose"), ("no-color", "color"))
OPPOSITES = (
    ("offline", "no-offline"), ("preview", "no-preview"), ("native-tls", "no-native-tls"),
    ("system-certs", "no-system-certs"), ("allow-python-downloads", "no-python-downloads"),
)
QUIET_COUNTED_SINCE = (0, 6, 11)  # `-qq`; before, repeating --quiet was an error

# --- command groups ----------------------------------------------------------------------------

# Words whose next word is a subcommand.
NAMESPACES = frozenset({"cache", "pip", "tool", "python", "auth", "self", "workspace", "build-backend"})

# Cache-mutating commands (words -> operation), the release each appeared in, their own flags.
CACHE_OPERATIONS = {("clean",): CLEAN, ("cache", "clean"): CLEAN, ("cache", "clear"): CLEAN,
                    ("cache", "prune"): PRUNE}
COMMAND_SINCE: dict[tuple[str, ...], tuple[int, ...]] = {("cache", "clear"): (0, 10, 10)}
CACHE_OPERATION_FLAGS: dict[str, dict[str, tuple[int, ...]]] = {
    PRUNE: {"--ci": (), "--force": (0, 8, 24)},
    CLEAN: {"--force": (0, 8, 20)},
}
CACHE_READERS = frozenset({("cache", "dir"), ("cache", "size")})  # never change the cache

# What an install-type command writes, which decides the environment a record resolves to.
PROJECT = "project"  # the project environment (`.venv` of the workspace root, UV_PROJECT_ENVIRONMENT)
VENV = "venv"        # the path given, else `.venv` (the project environment at a workspace root)
PIP = "pip"          # --target/--prefix, --python, VIRTUAL_ENV, CONDA_PREFIX, the nearest .venv
TOOL = "tool"        # an environment in uv's tool directory


class Command(NamedTuple):
    """A uv command uvguard reads beyond its global options."""

    words: tuple[str, ...]
    writes: str = ""            # which environment it writes (the shim records it); "" none
    runs_program: bool = False  # its first positional starts the program to run (not uv's)
    # Its own options named like another command's value option that are flags here
    # (`--script` of `uv run`, `-c` = `--clear` of `uv venv`); see COMMAND_VALUE_OPTIONS.
    flags: frozenset[str] = frozenset()


_VENV_FLAGS = frozenset({"-c"})
COMMANDS = (
    Command(("sync",), PROJECT, flags=frozenset({"--editable", "--no-binary"})),
    Command(("run",), PROJECT, runs_program=True, flags=frozenset({"--script", "--editable", "--no-binary", "-m"})),
    Command(("add",), PROJECT, flags=frozenset({"--editable", "--no-binary"})),
    Command(("remove",), PROJECT, flags=frozenset({"--no-binary"})),
    Command(("version",), PROJECT, flags=frozenset({"--no-binary"})),  # `--bump`/a new version syncs the project
    Command(("venv",), VENV, flags=_VENV_FLAGS),
    Command(("virtualenv",), VENV, flags=_VENV_FLAGS),
    Command(("v",), VENV, flags=_VENV_FLAGS),
    Command(("pip", "install"), PIP),
    Command(("pip", "sync"), PIP),
    Command(("pip", "uninstall"), PIP),
    Command(("tool", "install"), TOOL, flags=frozenset({"--editable", "--no-binary", "-e"})),
    Command(("tool", "upgrade"), TOOL, flags=frozenset({"--no-binary"})),
    Command(("tool", "run"), runs_program=True, flags=frozenset({"--no-binary"})),
    Command(("tool", "uvx"), runs_program=True, flags=frozenset({"--no-binary"})),
)
COMMAND_BY_WORDS = {command.words: command for command in COMMANDS}
RECORDED = frozenset(command.words for command in COMMANDS if command.writes)
PROGRAM_COMMANDS = frozenset(command.words for command in COMMANDS if command.runs_program)

# The own options of the commands above that take a value, in any release pinned (global ones
# apart), so their value is neither a positional nor the program; minus each command's `flags`.
COMMAND_VALUE_OPTIONS = frozenset("""
bounds branch build-constraint build-constraints bump cert client-cert config config-setting
config-setting-package config-settings config-settings-package constraint constraints default-index
editable env-file exclude exclude-newer exclude-newer-package excludes extra extra-index-url find-links
fork-strategy from generate-shell-completion group index index-strategy index-url keyring-provider
link-mode marker max-recursion-depth no-binary no-binary-package no-build-isolation-package
no-build-package no-editable-package no-extra no-group no-install-package no-sources-package
only-binary only-group only-install-package optional output-format override overrides package pip-args
prefix prerelease prerelease-package prompt python python-executable python-platform python-version
refresh-package reinstall-package requirement requirements resolution rev script tag target
torch-backend upgrade-group upgrade-package with with-editable with-executables-from with-requirements
""".split())
COMMAND_VALUE_SHORTS = frozenset("CPbcefimprtw")
COMMAND_SHORT_NAMES = {"p": "python", "t": "target"}  # the ones uvguard reads

# Groups the config stage reads (from uv's crates/uv/src/lib.rs and settings.rs).
PROJECT_COMMANDS = frozenset({"run", "init", "add", "remove", "version", "sync", "lock", "export", "tree",
                              "format", "audit", "check"})  # the project's files; `--isolated` ignored
USER_LEVEL_COMMANDS = frozenset({"tool", "self"})  # only user and system files
ISOLATED_IGNORED = PROJECT_COMMANDS | {"tool", "python"}  # the global `--isolated` only warns there
PIP_SETTINGS_COMMANDS = frozenset({"pip", "venv", "virtualenv", "v"})  # `[pip]` before the top level
# Commands with their own `--isolated` (the global one is then theirs).
OWN_ISOLATED = frozenset({("run",), ("check",), ("tool", "run"), ("tool", "uvx")})
# Commands with a `--link-mode` option, so uv validates UV_LINK_MODE for them (first word, or two words).
LINK_MODE_COMMANDS = frozenset({
    ("sync",), ("run",), ("add",), ("remove",), ("venv",), ("build",), ("lock",), ("export",), ("tree",),
    ("version",), ("check",), ("audit",), ("pip", "install"), ("pip", "sync"), ("pip", "compile"),
    ("tool", "install"), ("tool", "run"), ("tool", "upgrade"), ("tool", "uvx"), ("workspace", "metadata"),
})
