"""Which uv config files a command line reads, in which order, and what uv accepts in them.

Read from uv's `crates/uv/src/lib.rs` (which files a command loads),
`crates/uv-settings` (`FilesystemOptions`: the project walk, user and system
files, validation) and `crates/uv-dirs` (their locations); the parity suite
(`tests/test_uvconfig_parity.py`) checks the result against real releases.
"""

from __future__ import annotations

import os
from pathlib import Path

from uvguard import uvcli, uvschema
from uvguard.errors import ConfigError
from uvguard.records import TYPE_CHECKING, NamedTuple
from uvguard.requiredversion import satisfies
from uvguard.tomlfile import TomlFiles, key_line
from uvguard.uvinputs import (
    ConfigSource,
    boolish_env,
    command_word,
    flag,
    home,
    option_value,
    since,
    subcommand_word,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from uvguard.invocation import Invocation

LINK_MODES = {"clone": "clone", "reflink": "clone", "copy": "copy", "hardlink": "hardlink",
              "symlink": "symlink"}
# Keys whose type uv checks and a user gets wrong most easily; a wrong one makes uv reject a uv.toml
# and skip a pyproject.toml, so uvguard must too. (The other keys are checked by name only.)
_BOOLEAN_KEYS = ("no-cache", "offline", "native-tls", "system-certs", "preview", "no-index",
                 "no-build-isolation", "compile-bytecode", "no-sources", "upgrade", "reinstall", "no-build",
                 "no-binary")
_POSITIVE_INTEGER_KEYS = ("concurrent-downloads", "concurrent-builds", "concurrent-installs")
# Releases where a behaviour changed: from uv's changelog where it says, and each confirmed on the
# pinned releases either side; "measured" where only the binaries tell (last without -> first with).
XDG_EMPTY_SEGMENTS_SKIPPED_SINCE = (0, 12, 13)  # XDG_CONFIG_DIRS "a::b" reads b: measured 0.12.12 -> 0.12.24
NO_SYSTEM_CONFIG_ENV_SINCE = (0, 11, 16)  # UV_NO_SYSTEM_CONFIG
REFLINK_ALIAS_SINCE = (0, 9, 28)          # `reflink` for `clone`
REQUIRED_VERSION_PER_FILE_SINCE = (0, 11, 7)  # each uv.toml's required-version, before its other errors
MASKED_FIELD_LIST_SINCE = (0, 8, 1)       # the uv.toml-hides-[tool.uv] warning lists the fields


class ConfigFile(NamedTuple):
    """A config file uv would consult, and what became of it."""

    path: str
    scope: str  # "project", "user", "system" or "config-file"
    used: bool = True
    note: str = ""


class Layer(NamedTuple):
    """The settings of one loaded file: the uv.toml content or the `[tool.uv]` table, with the file's
    text (for the line of a key) and its scope as in `ConfigFile`."""

    path: Path
    table: str  # "" for a uv.toml, "tool.uv" for a pyproject.toml
    options: dict
    scope: str = "project"
    text: str = ""

    def source(self, key: str, pip: bool = False) -> ConfigSource:
        """Where `key` (in `[pip]` if `pip`) is set: this file, the dotted TOML key, its line."""
        table = ".".join(name for name in (self.table, "pip" if pip else "") if name)
        return ConfigSource("file", str(self.path), self.scope, f"{table}.{key}" if table else key,
                            key_line(self.text, table, key))


def _layer(path: Path, table: str, options: dict, scope: str, toml: TomlFiles) -> Layer:
    """The layer of a file `toml` has read (and parsed, so its bytes are UTF-8)."""
    return Layer(path, table, options, scope, toml.read(path)[0].decode("utf-8"))


def find_project_config_dir(start: Path, uv_version: tuple[int, ...] | None = None,
                            toml: TomlFiles | None = None) -> Path | None:
    """Where uv's project-config walk from `start` stops: the nearest directory with a `uv.toml`
    or a valid `[tool.uv]`; None if it reaches `/`. Raises ConfigError where uv would (a bad uv.toml).

    Start it at `discovery_start(project_dir)` to walk from the workspace root, as uv does."""
    files: list[ConfigFile] = []
    _walk_project(start, uv_version, files, [], [], start, toml or TomlFiles())
    used = [file for file in files if file.used]
    return Path(used[0].path).parent if used else None


class LoadedFiles(NamedTuple):
    """The config files of one command line, and their settings per scope.

    `layers` are what the command itself reads; `project_layers` and
    `pip_layers` what `uv sync` and `uv pip install` with the same global
    options read. They differ only under the deprecated global `--isolated`:
    project, tool and python commands ignore it, the others (pip, venv,
    cache) read no file at all (every release pinned).
    """

    discovery: str
    files: list
    layers: list
    project_layers: list
    pip_layers: list


def load_files(invocation: Invocation, env: Mapping[str, str], working_dir: Path, start: Path,
               version: tuple[int, ...] | None, warnings: list[str], toml: TomlFiles) -> LoadedFiles:
    """The files uv reads for this command, in precedence order, and their settings; the project walk
    starts at `start` (`uvworkspace.discovery_start`), each file is read through `toml`."""
    isolated = _isolated_disables_config(invocation, warnings)  # uv warns before reading any file
    config_file = option_value(invocation, env, "config-file", "UV_CONFIG_FILE")
    if config_file is not None:
        path = Path(os.path.normpath(working_dir / config_file[0]))
        if path.name == "pyproject.toml":
            warnings.append("The `--config-file` argument expects to receive a `uv.toml` file, not a "
                            "`pyproject.toml`. If you're trying to run a command from another project, "
                            "use the `--project` argument instead.")
        layers = [_layer(path, "", _read_uv_toml(path, version, toml), "config-file", toml)]
        given = config_file[1].describe()
        files = [ConfigFile(str(path), "config-file", note=f"from {given}")]
        return LoadedFiles(f"only the file given by {given}", files, layers, layers, layers)
    no_config = flag(invocation, env, "no-config", "UV_NO_CONFIG")
    if no_config:
        source = "--no-config" if invocation.option("no-config") else "UV_NO_CONFIG"
        return LoadedFiles(f"none (disabled by {source})", [], [], [], [])
    if isolated:
        return _project_scope_only(invocation, env, working_dir, start, version, toml)
    discovery, files, layers = _discover(invocation, env, working_dir, start, version, warnings, toml)
    pip_layers = [] if _global_isolated(invocation) else layers
    return LoadedFiles(discovery, files, layers, layers, pip_layers)


def _discover(invocation, env, working_dir, start, version, warnings, toml):
    """(how, files, layers): the project walk (not for `uv tool`/`uv self`), then user and system files."""
    files: list[ConfigFile] = []
    layers: list[Layer] = []
    discovery = "user and system files (`uv tool` and `uv self` ignore project files)"
    if command_word(invocation) not in uvcli.USER_LEVEL_COMMANDS:
        _walk_project(start, version, files, layers, warnings, working_dir, toml)
        discovery = f"project files from {start} upwards, then user and system files"
    system = _load_system(env, version, working_dir, toml)
    for file, layer in (_load_user(env, version, working_dir, toml), system):
        files.append(file)
        layers.extend([layer] if layer else [])
    return discovery, files, layers


def _project_scope_only(invocation: Invocation, env: Mapping[str, str], working_dir: Path, start: Path,
                        version: tuple[int, ...] | None, toml: TomlFiles) -> LoadedFiles:
    """`--isolated` on a command that honours it: no file for it, nor for `uv pip`; `uv sync` still
    reads its files. This command never reads them, so a file only `uv sync` would reject (or warn
    about) stops nothing here: the project scope then has no settings, and the file says why."""
    discovery = "none (disabled by --isolated; `uv sync` and other project commands ignore the flag)"
    try:
        _, files, layers = _discover(invocation, env, working_dir, start, version, [], toml)
    except ConfigError as error:
        return LoadedFiles(f"{discovery}; `uv sync` would reject its files: {error.message}", [], [], [], [])
    files = [ConfigFile(f.path, f.scope, used=False, note=f.note or "read by `uv sync`, which ignores --isolated")
             if f.used else f for f in files]
    return LoadedFiles(discovery, files, [], layers, [])


def _walk_project(start: Path, version: tuple[int, ...] | None, files: list[ConfigFile], layers: list[Layer],
                  warnings: list[str], working_dir: Path, toml: TomlFiles) -> None:
    """uv's `FilesystemOptions::find`: the nearest uv.toml or `[tool.uv]`, up to `/`."""
    for directory in (start, *start.parents):
        uv_toml = directory / "uv.toml"
        pyproject = directory / "pyproject.toml"
        if _exists(uv_toml):
            options = _read_uv_toml(uv_toml, version, toml)
            files.append(ConfigFile(str(uv_toml), "project"))
            layers.append(_layer(uv_toml, "", options, "project", toml))
            _note_masked_pyproject(pyproject, version, files, warnings, toml)
            return
        if not _exists(pyproject):
            continue
        try:
            table = _tool_uv_table(toml.load(pyproject))
            if table is not None:
                _validate(table, version, uv_toml=False, path=pyproject)
        except ConfigError as error:
            if error.blocks_uv:
                raise  # a FIFO: uv would wait on it forever, not skip it
            shown = os.path.relpath(pyproject, working_dir) if pyproject.is_relative_to(working_dir) else pyproject
            warnings.append(f"Failed to parse `{shown}` during settings discovery:\n  "
                            + error.message.split(": ", 1)[-1])
            files.append(ConfigFile(str(pyproject), "project", used=False, note="invalid, skipped"))
            continue
        if table is None:
            files.append(ConfigFile(str(pyproject), "project", used=False, note="no [tool.uv], skipped"))
            continue
        files.append(ConfigFile(str(pyproject), "project"))
        layers.append(_layer(pyproject, "tool.uv", table, "project", toml))
        return


def _note_masked_pyproject(pyproject: Path, version: tuple[int, ...] | None, files: list[ConfigFile],
                           warnings: list[str], toml: TomlFiles) -> None:
    """A `[tool.uv]` beside a uv.toml is ignored; uv says so when it sets anything."""
    if not pyproject.is_file():
        return
    try:
        table = _tool_uv_table(toml.load(pyproject))
        if table is None:
            return
        _validate(table, version, uv_toml=False, path=pyproject)
    except ConfigError:
        return
    files.append(ConfigFile(str(pyproject), "project", used=False, note="[tool.uv] hidden by uv.toml"))
    head = ("Found both a `uv.toml` file and a `[tool.uv]` section in an adjacent `pyproject.toml`.")
    if not since(version)(MASKED_FIELD_LIST_SINCE):
        warnings.append(f"{head} The `[tool.uv]` section will be ignored in favor of the `uv.toml` file.")
        return
    masked = [key for key in uvschema.top_level_keys(version)
              if key in table and key not in uvschema.PYPROJECT_ONLY_KEYS]
    if masked:
        listing = "\n- ".join(masked)
        warnings.append(f"{head} The following fields from `[tool.uv]` will be ignored in favor of "
                        f"the `uv.toml` file:\n- {listing}")


def _load_user(env: Mapping[str, str], version: tuple[int, ...] | None, working_dir: Path,
               toml: TomlFiles) -> tuple[ConfigFile, Layer | None]:
    """`$XDG_CONFIG_HOME/uv/uv.toml` (absolute only), else `~/.config/uv/uv.toml`.

    uv passes over a missing or unreadable one, or one under a non-directory."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else home(env, working_dir) / ".config"
    path = base / "uv" / "uv.toml"
    try:
        path.stat()
        readable = path.is_dir() or os.access(path, os.R_OK)
    except (FileNotFoundError, NotADirectoryError):
        readable = False
    if not readable:
        return ConfigFile(str(path), "user", used=False, note="not found"), None
    return ConfigFile(str(path), "user"), _layer(path, "", _read_uv_toml(path, version, toml), "user", toml)


def _load_system(env: Mapping[str, str], version: tuple[int, ...] | None, working_dir: Path,
                 toml: TomlFiles) -> tuple[ConfigFile, Layer | None]:
    """First `DIR/uv/uv.toml` over `XDG_CONFIG_DIRS` (default /etc/xdg), then /etc/uv/uv.toml."""
    if since(version)(NO_SYSTEM_CONFIG_ENV_SINCE) and boolish_env(env, "UV_NO_SYSTEM_CONFIG"):
        return ConfigFile("/etc/uv/uv.toml", "system", used=False, note="disabled by UV_NO_SYSTEM_CONFIG"), None
    dirs = env.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    segments = dirs.split(":")
    if since(version)(XDG_EMPTY_SEGMENTS_SKIPPED_SINCE):
        segments = [s for s in segments if s]
    else:
        segments = segments[: segments.index("")] if "" in segments else segments
    candidates = [working_dir / d / "uv" / "uv.toml" for d in segments] + [Path("/etc/uv/uv.toml")]
    for path in candidates:
        if path.is_file() or (path == candidates[-1] and path.exists()):
            return (ConfigFile(str(path), "system"),
                    _layer(path, "", _read_uv_toml(path, version, toml), "system", toml))
    looked = ", ".join(str(path) for path in candidates[:-1])
    return ConfigFile(str(candidates[-1]), "system", used=False,
                      note=f"not found{' (nor ' + looked + ')' if looked else ''}"), None


def _global_isolated(invocation: Invocation) -> bool:
    """The deprecated global `--isolated` is given (`uv run`, `uv check` and `uv tool run` have their own)."""
    if not invocation.option("isolated"):
        return False
    word, sub = command_word(invocation), subcommand_word(invocation)
    return (word,) not in uvcli.OWN_ISOLATED and (word, sub) not in uvcli.OWN_ISOLATED


def _isolated_disables_config(invocation: Invocation, warnings: list[str]) -> bool:
    """The deprecated global `--isolated`: like `--no-config` outside project/tool/python commands."""
    if not _global_isolated(invocation):
        return False
    word = command_word(invocation)
    if word == "init":
        warnings.append("The `--isolated` flag is deprecated and has no effect. Instead, use `--no-config` "
                        "to prevent uv from discovering configuration files or `--no-workspace` to prevent "
                        "uv from adding the initialized project to the containing workspace.")
        return False
    if word in uvcli.ISOLATED_IGNORED:
        warnings.append("The `--isolated` flag is deprecated and has no effect. Instead, use `--no-config` "
                        "to prevent uv from discovering configuration files.")
        return False
    warnings.append("The `--isolated` flag is deprecated. Instead, use `--no-config` to prevent uv from "
                    "discovering configuration files.")
    return True


def _read_uv_toml(path: Path, version: tuple[int, ...] | None, toml: TomlFiles) -> dict:
    """A uv.toml's settings; anything uv would reject is a ConfigError (fatal, exit 2)."""
    try:
        options = toml.load(path)
        if version is not None and since(version)(REQUIRED_VERSION_PER_FILE_SINCE):
            check_required_version([Layer(path, "", options)], version)
        _validate(options, version, uv_toml=True, path=path)
    except ConfigError as error:
        if error.blocks_uv:
            raise  # a FIFO: uv does not reject it, it waits on it
        raise ConfigError(error.message, hint=error.hint or "uv rejects this file too: every uv command "
                                                            "fails until it is fixed (or use --no-config)") from None
    return options


def _validate(options: dict, version: tuple[int, ...] | None, uv_toml: bool, path: Path) -> None:
    """Reject what uv's schema rejects, for the keys that decide the cache and link modes."""
    known = uvschema.top_level_keys(version)
    for key in options:
        if key not in known:
            raise ConfigError(f"Failed to parse: `{path}`: unknown field `{key}`")
        if uv_toml and key in uvschema.PYPROJECT_ONLY_KEYS:
            raise ConfigError(f"Failed to parse: `{path}`. The `{key}` field is not allowed in a `uv.toml` "
                              f"file. `{key}` is only applicable in the context of a project, and should "
                              f"be placed in a `pyproject.toml` file instead.")
    _check_type(options, "required-version", str, path)
    if "required-version" in options:
        try:
            satisfies(options["required-version"], (0, 0, 0))
        except ValueError as error:
            raise ConfigError(f"Failed to parse: `{path}`: `required-version`: {error}") from None
    _check_type(options, "cache-dir", str, path)
    for key in _BOOLEAN_KEYS:
        _check_type(options, key, bool, path)
    for key in _POSITIVE_INTEGER_KEYS:
        if key in options and (type(options[key]) is not int or options[key] < 1):
            raise ConfigError(f"Failed to parse: `{path}`: `{key}` must be a positive integer")
    _check_link_mode(options, "link-mode", path, version)
    pip = options.get("pip", {})
    if not isinstance(pip, dict):
        raise ConfigError(f"Failed to parse: `{path}`: `pip` must be a table")
    for key in pip:
        if key not in uvschema.pip_keys(version):
            raise ConfigError(f"Failed to parse: `{path}`: unknown field `{key}` in [pip]")
    _check_link_mode(pip, "link-mode", path, version, "[pip] ")


def check_required_version(layers: list[Layer], version: tuple[int, ...] | None) -> None:
    """uv refuses to run when the merged `required-version` excludes it (unknown release: no check)."""
    for layer in layers:
        if "required-version" in layer.options:
            required = layer.options["required-version"]
            try:
                met = version is None or satisfies(required, version)
            except (ValueError, AttributeError):
                return  # not a specifier: the schema check reports it
            if not met:
                raise ConfigError(f"Required uv version `{required}` does not match the running version "
                                  f"`{'.'.join(map(str, version))}`",  # type: ignore[arg-type]  # met when None
                                  hint=f"set by {layer.source('required-version').describe()}")
            return


def _check_type(options: dict, key: str, kind: type, path: Path) -> None:
    if key in options and not isinstance(options[key], kind):
        expected = "a boolean" if kind is bool else "a string"
        raise ConfigError(f"Failed to parse: `{path}`: `{key}` must be {expected}")


def _check_link_mode(options: dict, key: str, path: Path, version: tuple[int, ...] | None, table: str = "") -> None:
    if key in options and options[key] not in link_mode_names(version):
        expected = ", ".join(f"`{name}`" for name in link_mode_names(version))
        raise ConfigError(f"Failed to parse: `{path}`: {table}`{key}`: unknown variant `{options[key]}`, "
                          f"expected one of {expected}")


def link_mode_names(version: tuple[int, ...] | None) -> tuple[str, ...]:
    """The spellings uv `version` accepts, exact and case-sensitive."""
    if since(version)(REFLINK_ALIAS_SINCE):
        return tuple(LINK_MODES)
    return tuple(name for name in LINK_MODES if name != "reflink")


def _tool_uv_table(pyproject: dict) -> dict | None:
    tool = pyproject.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, dict):
        raise ConfigError("`tool` must be a table")
    uv = tool.get("uv")
    if uv is not None and not isinstance(uv, dict):
        raise ConfigError("`tool.uv` must be a table")
    return uv


def _exists(path: Path) -> bool:
    """Present in any form: uv reads it and fails on a directory or an unreadable file.

    Only "not found" means absent; a parent that is not a directory is an error, as in uv."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except NotADirectoryError as error:
        raise ConfigError(f"failed to open file `{path}`: Not a directory (os error {error.errno})") from None
    return True
