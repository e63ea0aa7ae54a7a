"""Effective uv config: cache dir and link modes, each with its source, as uv resolves them.

Read from uv's `crates/uv/src/lib.rs` (which files are loaded, in which
order), `crates/uv-settings` (file discovery, merging, validation),
`crates/uv-dirs` (user/system locations) and `crates/uv-cache` (cache dir),
and checked against real releases 0.5.31 - 0.13.9 by the parity suite
(`tests/test_uvconfig_parity.py`). Where releases differ, `uv_version` picks
the behaviour; None means the newest measured one.

Not modelled: PEP 723 script metadata (`uv run x.py`),
and the value types of keys uvguard does not read (uv rejects a bad
`resolution = "x"`; uvguard only checks that the key exists).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from uvguard import uvschema
from uvguard.errors import ConfigError
from uvguard.invocation import Invocation
from uvguard.requiredversion import satisfies
from uvguard.tomlfile import load_toml
from uvguard.uvworkspace import discovery_start

__all__ = ["ConfigFile", "EffectiveConfig", "effective_config", "find_project_config_dir",
           "discovery_start", "resolve_dirs"]

LINK_MODES = {"clone": "clone", "reflink": "clone", "copy": "copy", "hardlink": "hardlink",
              "symlink": "symlink"}
_TRUE = {"y", "yes", "t", "true", "on", "1"}
_FALSE = {"n", "no", "f", "false", "off", "0"}
# uv's own command groups, for `--isolated` and for which files a command reads.
_PROJECT_COMMANDS = {"run", "init", "add", "remove", "version", "sync", "lock", "export", "tree",
                     "format", "audit", "check"}
_USER_LEVEL_COMMANDS = {"tool", "self"}
_PIP_SCOPE = {"pip", "venv", "virtualenv", "v"}
# Keys whose type uv checks and a user gets wrong most easily; a wrong one makes uv reject a uv.toml
# and skip a pyproject.toml, so uvguard must too. (The other keys are checked by name only.)
_BOOLEAN_KEYS = ("no-cache", "offline", "native-tls", "system-certs", "preview", "no-index",
                 "no-build-isolation", "compile-bytecode", "no-sources", "upgrade", "reinstall", "no-build",
                 "no-binary")
_POSITIVE_INTEGER_KEYS = ("concurrent-downloads", "concurrent-builds", "concurrent-installs")
# Releases where a behaviour changed (measured between the two pinned releases named).
CLONE_DEFAULT_SINCE = (0, 10, 5)          # Linux default link mode hardlink -> clone
# Both changed after 0.12.12 and before 0.12.24: UV_NO_CACHE=0 beats a file's `no-cache = true`,
# and empty XDG_CONFIG_DIRS segments are skipped instead of ending the list.
EXPLICIT_NO_CACHE_FALSE_SINCE = (0, 12, 13)
XDG_EMPTY_SEGMENTS_SKIPPED_SINCE = (0, 12, 13)
# Environment variables read only by newer releases (last measured without -> first measured with).
PROJECT_ENV_SINCE = (0, 8, 24)            # UV_PROJECT: 0.6.4 -> 0.8.24
WORKING_DIR_ENV_SINCE = (0, 10, 12)       # UV_WORKING_DIR, UV_WORKING_DIRECTORY: 0.8.24 -> 0.10.12
NO_SYSTEM_CONFIG_ENV_SINCE = (0, 11, 33)  # UV_NO_SYSTEM_CONFIG: 0.10.12 -> 0.11.33
REFLINK_ALIAS_SINCE = (0, 10, 12)         # `reflink` for `clone`: 0.8.24 -> 0.10.12
# A missing `--project` directory: silently used, then a warning (0.10.12), then an error (0.12.12).
PROJECT_MISSING_WARNS_SINCE = (0, 10, 12)
PROJECT_MUST_EXIST_SINCE = (0, 12, 0)
# Each uv.toml's `required-version` is enforced on its own, before its other errors, not only the
# merged one (0.10.12: merged only; 0.11.16: each file).
REQUIRED_VERSION_PER_FILE_SINCE = (0, 11, 16)
# The uv.toml-hides-[tool.uv] warning lists the fields (0.6.4: no; 0.8.18: yes; taken as 0.8.0).
MASKED_FIELD_LIST_SINCE = (0, 8, 0)


@dataclass(frozen=True)
class ConfigFile:
    """A config file uv would consult, and what became of it."""

    path: str
    scope: str  # "project", "user", "system" or "config-file"
    used: bool = True
    note: str = ""


@dataclass(frozen=True)
class EffectiveConfig:
    """What uv will use for one command line; every value carries its source.

    `cache_dir` is the persistent cache; when `no_cache` is set uv uses a fresh
    temporary directory instead and never touches it. `config_files` are in
    precedence order, highest first.
    """

    cache_dir: Path
    cache_dir_source: str
    no_cache: bool
    link_mode: str
    link_mode_source: str
    pip_link_mode: str
    pip_link_mode_source: str
    working_dir: Path
    project_dir: Path
    config_files: tuple[ConfigFile, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    no_cache_source: str = ""
    uv_version: tuple[int, ...] | None = None
    discovery: str = "project, user and system files"  # which files uv looks for, and why

    @property
    def symlink_active(self) -> bool:
        return "symlink" in (self.link_mode, self.pip_link_mode)


@dataclass(frozen=True)
class _Layer:
    """The settings of one loaded file: the uv.toml content or the `[tool.uv]` table."""

    path: Path
    table: str  # "" for a uv.toml, "[tool.uv]" for a pyproject.toml
    options: dict

    def source(self, key: str, pip: bool = False) -> str:
        return f"{self.path}: {self.table + ' ' if self.table else ''}{'[pip] ' if pip else ''}{key}"


def effective_config(invocation: Invocation, env: Mapping[str, str], cwd: str | Path,
                     uv_version: tuple[int, ...] | None = None) -> EffectiveConfig:
    """Resolve what uv (of `uv_version`) would use for `invocation` run in `cwd` with `env`."""
    warnings: list[str] = []
    working_dir, project_dir = resolve_dirs(invocation, env, cwd, uv_version, warnings)
    persistent_cache = _cache_dir_before_files(invocation, env, working_dir)
    # uv's workspace discovery sees the cache dir of the flags alone (a project inside it is skipped).
    discovery_cache = persistent_cache[0] or _default_cache_dir(env, working_dir)[0]
    discovery, files, layers = _load_files(invocation, env, working_dir, project_dir, discovery_cache,
                                           uv_version, warnings)
    _check_required_version(layers, uv_version)
    no_cache, no_cache_source = _no_cache(invocation, env, layers, uv_version)
    cache_dir, cache_source = _cache_dir(persistent_cache, layers, working_dir, env)
    project_mode, pip_mode = _link_modes(invocation, env, layers, uv_version)
    return EffectiveConfig(
        cache_dir=cache_dir, cache_dir_source=cache_source,
        no_cache=no_cache, no_cache_source=no_cache_source,
        link_mode=project_mode[0], link_mode_source=project_mode[1],
        pip_link_mode=pip_mode[0], pip_link_mode_source=pip_mode[1],
        working_dir=working_dir, project_dir=project_dir,
        config_files=tuple(files), warnings=tuple(warnings), uv_version=uv_version, discovery=discovery,
    )


# --- directories -------------------------------------------------------------------------------

def resolve_dirs(invocation: Invocation, env: Mapping[str, str], cwd: str | Path,
                 uv_version: tuple[int, ...] | None = None, warnings: list[str] | None = None) -> tuple[Path, Path]:
    """(working dir after `--directory`, project dir after `--project`), both absolute."""
    cwd = Path(os.path.abspath(cwd))
    newer = _since(uv_version)
    directory = _value(invocation, env, "directory", "UV_WORKING_DIR" if newer(WORKING_DIR_ENV_SINCE) else None)
    if directory is None and "UV_WORKING_DIRECTORY" in env and newer(WORKING_DIR_ENV_SINCE):
        directory = (env["UV_WORKING_DIRECTORY"], "UV_WORKING_DIRECTORY")
    working_dir = cwd
    if directory is not None:
        working_dir = Path(os.path.normpath(cwd / directory[0])) if directory[0] else Path("")
        if not directory[0] or not working_dir.is_dir():
            raise ConfigError(f"No such file or directory (os error 2): `{directory[0]}` (from {directory[1]})")
    project = _value(invocation, env, "project", "UV_PROJECT" if newer(PROJECT_ENV_SINCE) else None)
    if project is None:
        return working_dir, working_dir
    project_dir = Path(os.path.normpath(working_dir / project[0]))
    if project_dir.name == "pyproject.toml" and project_dir.is_file():
        return working_dir, project_dir.parent
    if _command_word(invocation) == "init" or project_dir.is_dir():
        return working_dir, project_dir
    problem = (f"Project directory `{project[0]}` does not exist" if not project_dir.exists()
               else f"Project path `{project[0]}` is not a directory")
    if newer(PROJECT_MUST_EXIST_SINCE):
        raise ConfigError(problem)
    if newer(PROJECT_MISSING_WARNS_SINCE) and warnings is not None:
        warnings.append(f"{problem}. This will become an error in a future release. Use "
                        "`--preview-features project-directory-must-exist` to error on this now.")
    return working_dir, project_dir


def find_project_config_dir(start: Path, uv_version: tuple[int, ...] | None = None) -> Path | None:
    """Where uv's project-config walk from `start` stops: the nearest directory with a `uv.toml`
    or a valid `[tool.uv]`; None if it reaches `/`. Raises ConfigError where uv would (a bad uv.toml).

    Start it at `discovery_start(project_dir)` to walk from the workspace root, as uv does."""
    files: list[ConfigFile] = []
    _walk_project(start, uv_version, files, [], [], start)
    used = [file for file in files if file.used]
    return Path(used[0].path).parent if used else None


# --- config files ------------------------------------------------------------------------------

def _load_files(invocation, env, working_dir, project_dir, cache_dir, version, warnings):
    """The files uv reads for this command, in precedence order, and their settings."""
    isolated = _isolated_disables_config(invocation, warnings)  # uv warns before reading any file
    config_file = _value(invocation, env, "config-file", "UV_CONFIG_FILE")
    if config_file is not None:
        path = Path(os.path.normpath(working_dir / config_file[0]))
        if path.name == "pyproject.toml":
            warnings.append("The `--config-file` argument expects to receive a `uv.toml` file, not a "
                            "`pyproject.toml`. If you're trying to run a command from another project, "
                            "use the `--project` argument instead.")
        options = _read_uv_toml(path, version)
        return (f"only the file given by {config_file[1]}",
                [ConfigFile(str(path), "config-file", note=f"from {config_file[1]}")], [_Layer(path, "", options)])
    no_config = _flag(invocation, env, "no-config", "UV_NO_CONFIG")
    if no_config:
        source = "--no-config" if invocation.option("no-config") else "UV_NO_CONFIG"
        return f"none (disabled by {source})", [], []
    if isolated:
        return "none (disabled by --isolated)", [], []
    files: list[ConfigFile] = []
    layers: list[_Layer] = []
    discovery = "user and system files (`uv tool` and `uv self` ignore project files)"
    if _command_word(invocation) not in _USER_LEVEL_COMMANDS:
        start = discovery_start(project_dir, cache_dir)
        _walk_project(start, version, files, layers, warnings, working_dir)
        discovery = f"project files from {start} upwards, then user and system files"
    system = _load_system(env, version, working_dir)
    for file, layer in (_load_user(env, version, working_dir), system):
        files.append(file)
        layers.extend([layer] if layer else [])
    return discovery, files, layers


def _walk_project(start, version, files, layers, warnings, working_dir) -> None:
    """uv's `FilesystemOptions::find`: the nearest uv.toml or `[tool.uv]`, up to `/`."""
    for directory in (start, *start.parents):
        uv_toml = directory / "uv.toml"
        pyproject = directory / "pyproject.toml"
        if _exists(uv_toml):
            options = _read_uv_toml(uv_toml, version)
            files.append(ConfigFile(str(uv_toml), "project"))
            layers.append(_Layer(uv_toml, "", options))
            _note_masked_pyproject(pyproject, version, files, warnings)
            return
        if not _exists(pyproject):
            continue
        try:
            table = _tool_uv_table(load_toml(pyproject))
            if table is not None:
                _validate(table, version, uv_toml=False, path=pyproject)
        except ConfigError as error:
            shown = os.path.relpath(pyproject, working_dir) if _within(pyproject, working_dir) else pyproject
            warnings.append(f"Failed to parse `{shown}` during settings discovery:\n  "
                            + error.message.split(": ", 1)[-1])
            files.append(ConfigFile(str(pyproject), "project", used=False, note="invalid, skipped"))
            continue
        if table is None:
            files.append(ConfigFile(str(pyproject), "project", used=False, note="no [tool.uv], skipped"))
            continue
        files.append(ConfigFile(str(pyproject), "project"))
        layers.append(_Layer(pyproject, "[tool.uv]", table))
        return


def _note_masked_pyproject(pyproject, version, files, warnings) -> None:
    """A `[tool.uv]` beside a uv.toml is ignored; uv says so when it sets anything."""
    if not pyproject.is_file():
        return
    try:
        table = _tool_uv_table(load_toml(pyproject))
        if table is None:
            return
        _validate(table, version, uv_toml=False, path=pyproject)
    except ConfigError:
        return
    files.append(ConfigFile(str(pyproject), "project", used=False, note="[tool.uv] hidden by uv.toml"))
    head = ("Found both a `uv.toml` file and a `[tool.uv]` section in an adjacent `pyproject.toml`.")
    if version is not None and version < MASKED_FIELD_LIST_SINCE:
        warnings.append(f"{head} The `[tool.uv]` section will be ignored in favor of the `uv.toml` file.")
        return
    masked = [key for key in uvschema.top_level_keys(version)
              if key in table and key not in uvschema.PYPROJECT_ONLY_KEYS]
    if masked:
        listing = "\n- ".join(masked)
        warnings.append(f"{head} The following fields from `[tool.uv]` will be ignored in favor of "
                        f"the `uv.toml` file:\n- {listing}")


def _load_user(env, version, working_dir) -> tuple[ConfigFile, _Layer | None]:
    """`$XDG_CONFIG_HOME/uv/uv.toml` (absolute only), else `~/.config/uv/uv.toml`.

    uv passes over a missing or unreadable one, or one under a non-directory."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else _home(env, working_dir) / ".config"
    path = base / "uv" / "uv.toml"
    try:
        path.stat()
        readable = path.is_dir() or os.access(path, os.R_OK)
    except (FileNotFoundError, NotADirectoryError):
        readable = False
    if not readable:
        return ConfigFile(str(path), "user", used=False, note="not found"), None
    return ConfigFile(str(path), "user"), _Layer(path, "", _read_uv_toml(path, version))


def _load_system(env, version, working_dir) -> tuple[ConfigFile, _Layer | None]:
    """First `DIR/uv/uv.toml` over `XDG_CONFIG_DIRS` (default /etc/xdg), then /etc/uv/uv.toml."""
    if _since(version)(NO_SYSTEM_CONFIG_ENV_SINCE) and _boolish_env(env, "UV_NO_SYSTEM_CONFIG"):
        return ConfigFile("/etc/uv/uv.toml", "system", used=False, note="disabled by UV_NO_SYSTEM_CONFIG"), None
    dirs = env.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    segments = dirs.split(":")
    if version is None or version >= XDG_EMPTY_SEGMENTS_SKIPPED_SINCE:
        segments = [s for s in segments if s]
    else:
        segments = segments[: segments.index("")] if "" in segments else segments
    candidates = [working_dir / d / "uv" / "uv.toml" for d in segments] + [Path("/etc/uv/uv.toml")]
    for path in candidates:
        if path.is_file() or (path == candidates[-1] and path.exists()):
            return ConfigFile(str(path), "system"), _Layer(path, "", _read_uv_toml(path, version))
    looked = ", ".join(str(path) for path in candidates[:-1])
    return ConfigFile(str(candidates[-1]), "system", used=False,
                      note=f"not found{' (nor ' + looked + ')' if looked else ''}"), None


def _isolated_disables_config(invocation, warnings) -> bool:
    """The deprecated global `--isolated`: like `--no-config` outside project/tool/python commands."""
    if not invocation.option("isolated"):
        return False
    word = _command_word(invocation)
    sub = _subcommand_word(invocation)
    if word == "run" or word == "check" or (word == "tool" and sub in ("run", "uvx")):
        return False
    if word == "init":
        warnings.append("The `--isolated` flag is deprecated and has no effect. Instead, use `--no-config` "
                        "to prevent uv from discovering configuration files or `--no-workspace` to prevent "
                        "uv from adding the initialized project to the containing workspace.")
        return False
    if word in _PROJECT_COMMANDS or word in ("tool", "python"):
        warnings.append("The `--isolated` flag is deprecated and has no effect. Instead, use `--no-config` "
                        "to prevent uv from discovering configuration files.")
        return False
    warnings.append("The `--isolated` flag is deprecated. Instead, use `--no-config` to prevent uv from "
                    "discovering configuration files.")
    return True


def _read_uv_toml(path: Path, version) -> dict:
    """A uv.toml's settings; anything uv would reject is a ConfigError (fatal, exit 2)."""
    try:
        options = load_toml(path)
        if version is not None and _since(version)(REQUIRED_VERSION_PER_FILE_SINCE):
            _check_required_version([_Layer(path, "", options)], version)
        _validate(options, version, uv_toml=True, path=path)
    except ConfigError as error:
        raise ConfigError(error.message, hint=error.hint or "uv rejects this file too: every uv command "
                                                            "fails until it is fixed (or use --no-config)") from None
    return options


def _validate(options: dict, version, uv_toml: bool, path: Path) -> None:
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


def _check_required_version(layers, version) -> None:
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
                                  f"`{'.'.join(map(str, version))}`",
                                  hint=f"set by {layer.source('required-version')}")
            return


def _check_type(options, key, kind, path) -> None:
    if key in options and not isinstance(options[key], kind):
        expected = "a boolean" if kind is bool else "a string"
        raise ConfigError(f"Failed to parse: `{path}`: `{key}` must be {expected}")


def _check_link_mode(options, key, path, version, table="") -> None:
    if key in options and options[key] not in _link_mode_names(version):
        expected = ", ".join(f"`{name}`" for name in _link_mode_names(version))
        raise ConfigError(f"Failed to parse: `{path}`: {table}`{key}`: unknown variant `{options[key]}`, "
                          f"expected one of {expected}")


def _link_mode_names(version) -> tuple[str, ...]:
    """The spellings uv `version` accepts, exact and case-sensitive."""
    if _since(version)(REFLINK_ALIAS_SINCE):
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


# --- values ------------------------------------------------------------------------------------

def _cache_dir_before_files(invocation, env, working_dir) -> tuple[Path | None, str]:
    """`--cache-dir` or `UV_CACHE_DIR` (empty is an error); None when neither is given."""
    given = _value(invocation, env, "cache-dir", "UV_CACHE_DIR")
    if given is None:
        return None, ""
    if not given[0]:
        raise ConfigError("a value is required for '--cache-dir <CACHE_DIR>' but none was supplied "
                          f"(from {given[1]})")
    return Path(os.path.normpath(working_dir / given[0])), given[1]


def _cache_dir(given, layers, working_dir, env) -> tuple[Path, str]:
    """The flag or variable, then `cache-dir` in the merged files, then the XDG default."""
    if given[0] is not None:
        return given
    for layer in layers:
        if "cache-dir" in layer.options:
            return Path(os.path.normpath(working_dir / layer.options["cache-dir"])), layer.source("cache-dir")
    return _default_cache_dir(env, working_dir)


def _default_cache_dir(env, working_dir: Path) -> tuple[Path, str]:
    """`$XDG_CACHE_HOME/uv` (absolute only), else `~/.cache/uv`; on macOS an existing
    `~/Library/Caches/uv` (uv's legacy location) comes first."""
    if sys.platform == "darwin":
        legacy = _home(env, working_dir) / "Library" / "Caches" / "uv"
        if legacy.exists():
            return legacy, "default (~/Library/Caches/uv, which exists)"
    xdg = env.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "uv", "default ($XDG_CACHE_HOME/uv)"
    return _home(env, working_dir) / ".cache" / "uv", "default (~/.cache/uv)"


def _no_cache(invocation, env, layers, version) -> tuple[bool, str]:
    """No-cache from any source wins; an explicit false beats the files only in newer releases."""
    if invocation.option("no-cache"):
        return True, "--no-cache"
    explicit = None
    if "UV_NO_CACHE" in env:
        explicit = _parse_bool(env["UV_NO_CACHE"], "--no-cache", "UV_NO_CACHE")
        if explicit:
            return True, "UV_NO_CACHE"
        if version is None or version >= EXPLICIT_NO_CACHE_FALSE_SINCE:
            return False, "UV_NO_CACHE"
    for layer in layers:
        if "no-cache" in layer.options:
            return bool(layer.options["no-cache"]), layer.source("no-cache")
    return False, "UV_NO_CACHE" if explicit is False else "default"


def _link_modes(invocation, env, layers, version) -> tuple[tuple[str, str], tuple[str, str]]:
    """(project link mode, pip/venv link mode), each with its source."""
    default = (_platform_default(version), _default_source(version))
    project = _merged(layers, "link-mode", pip=False) or default
    pip = _merged(layers, "link-mode", pip=True) or default
    from_env = _env_link_mode(invocation, env, version)
    if from_env is not None:
        project = pip = from_env
    flag = _flag_link_mode(invocation, version)
    if flag is not None:
        if _command_word(invocation) in _PIP_SCOPE:
            pip = flag
        else:
            project = flag
    return project, pip


def _merged(layers, key, pip: bool) -> tuple[str, str] | None:
    """The first file (in precedence order) setting `key`; for pip, `[pip]` anywhere beats top-level."""
    if pip:
        for layer in layers:
            table = layer.options.get("pip", {})
            if key in table:
                return LINK_MODES[table[key]], layer.source(key, pip=True)
    for layer in layers:
        if key in layer.options:
            return LINK_MODES[layer.options[key]], layer.source(key)
    return None


def _env_link_mode(invocation, env, version) -> tuple[str, str] | None:
    if "UV_LINK_MODE" not in env:
        return None
    value = env["UV_LINK_MODE"]
    if value in _link_mode_names(version):
        return LINK_MODES[value], "UV_LINK_MODE"
    if _reads_link_mode(invocation):
        raise ConfigError(f"invalid value '{value}' for '--link-mode <LINK_MODE>' (from UV_LINK_MODE)",
                          hint="possible values: clone, copy, hardlink, symlink")
    return None


def _flag_link_mode(invocation, version) -> tuple[str, str] | None:
    """The subcommand's own `--link-mode` (clap checks its value before anything runs)."""
    value = invocation.command_option("--link-mode")
    if value is None:
        return None
    if value not in _link_mode_names(version):
        raise ConfigError(f"invalid value '{value}' for '--link-mode <LINK_MODE>'",
                          hint="possible values: " + ", ".join(_link_mode_names(version)))
    return LINK_MODES[value], "--link-mode"


def _reads_link_mode(invocation) -> bool:
    """Whether the command has a `--link-mode` option, so that uv validates UV_LINK_MODE."""
    word, sub = _command_word(invocation), _subcommand_word(invocation)
    if word in ("sync", "run", "add", "remove", "venv", "build", "lock", "export", "tree", "version", "check",
                "audit"):
        return True
    return (word == "pip" and sub in ("install", "sync", "compile")) or (
        word == "tool" and sub in ("install", "run", "upgrade", "uvx"))


def _since(version):
    """`newer(release)`: whether uv `version` (None: the newest) is at or after `release`."""
    return lambda release: version is None or version >= release


def _platform_default(version) -> str:
    if sys.platform == "win32":
        return "hardlink"
    if sys.platform == "darwin" or version is None or version >= CLONE_DEFAULT_SINCE:
        return "clone"
    return "hardlink"


def _default_source(version) -> str:
    shown = ".".join(map(str, version)) if version else "newest"
    return f"default ({sys.platform}, uv {shown})"


# --- small readers -----------------------------------------------------------------------------

def _value(invocation, env, option, variable) -> tuple[str, str] | None:
    """A global option's value and where it came from: the flag beats the variable (if read)."""
    if invocation.option(option) is not None:
        return invocation.option(option), f"--{option}"
    if variable is not None and variable in env:
        if not env[variable]:
            raise ConfigError(f"a value is required for '--{option}' but none was supplied (from {variable}=)")
        return env[variable], variable
    return None


def _flag(invocation, env, option, variable) -> bool:
    if invocation.option(option):
        return True
    if variable in env:
        return _parse_bool(env[variable], f"--{option}", variable)
    return False


def _parse_bool(value: str, option: str, variable: str) -> bool:
    """clap's BoolishValueParser: y/yes/t/true/on/1 and n/no/f/false/off/0, any case."""
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"invalid value '{value}' for '{option}': value was not a boolean (from {variable})")


def _boolish_env(env, variable) -> bool:
    if variable not in env:
        return False
    value = env[variable].lower()
    if value not in _TRUE | _FALSE:
        raise ConfigError(f"Invalid environment variable `{variable}={env[variable]}`: expected a boolish value")
    return value in _TRUE


def _command_word(invocation) -> str:
    return invocation.command[0] if invocation.command else ""


def _subcommand_word(invocation) -> str:
    if len(invocation.command) > 1:
        return invocation.command[1]
    return next((arg for arg in invocation.rest if not arg.startswith("-")), "")


def _home(env, working_dir: Path) -> Path:
    """`$HOME` (a relative one is taken from the working dir, as uv does), else the account's."""
    home = env.get("HOME", "")
    if home:
        return Path(os.path.normpath(working_dir / home))
    import pwd

    return Path(pwd.getpwuid(os.getuid()).pw_dir)


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


def _within(path: Path, directory: Path) -> bool:
    try:
        path.relative_to(directory)
    except ValueError:
        return False
    return True
