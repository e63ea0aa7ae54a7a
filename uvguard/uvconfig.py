"""Effective uv config: cache dir and link modes, each with its source, as uv resolves them.

The values, from the flags, the variables and the files `uvconfigfiles`
loads: read from uv's `crates/uv/src/lib.rs` and `settings.rs` (which source
beats which, `[pip]` before the top level for `uv pip`/`uv venv`),
`crates/uv-cache` (the cache dir) and `crates/uv-dirs` (the defaults).
Checked against real releases 0.5.31 - 0.13.9 by the parity suite
(`tests/test_uvconfig_parity.py`). Where releases differ, `uv_version`
picks the behaviour; None means the newest measured one.

Not modelled: the project of a script (`uv run x.py` starts discovery at
the script's directory since 0.12.0; PEP 723 `[tool.uv]` in a script), and
the value types of most keys uvguard does not read (uv rejects a bad
`resolution = "x"`; uvguard checks the key's name, and the types of booleans).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from uvguard import uvcli
from uvguard.errors import ConfigError
from uvguard.invocation import Invocation
from uvguard.messages import user_display
from uvguard.records import NamedTuple
from uvguard.tomlfile import TomlFiles
from uvguard.uvconfigfiles import (
    LINK_MODES,
    ConfigFile,
    Layer,
    check_required_version,
    find_project_config_dir,
    link_mode_names,
    load_files,
)
from uvguard.uvinputs import ConfigSource, command_word, home, option_value, parse_bool, since, subcommand_word
from uvguard.uvworkspace import discovery_start, workspace_root

__all__ = ["ConfigFile", "ConfigSource", "EffectiveConfig", "Location", "effective_config", "find_project_config_dir",
           "discovery_start", "locate", "resolve_dirs"]

# Releases where a behaviour changed: from uv's changelog where it says, and each confirmed on the
# pinned releases either side; "measured" where only the binaries tell (last without -> first with).
CLONE_DEFAULT_SINCE = (0, 10, 5)          # Linux default link mode hardlink -> clone
EXPLICIT_NO_CACHE_FALSE_SINCE = (0, 12, 13)  # UV_NO_CACHE=0 beats a file's no-cache: measured 0.12.12 -> 0.12.24
PROJECT_ENV_SINCE = (0, 6, 11)            # UV_PROJECT
WORKING_DIRECTORY_ENV_SINCE = (0, 9, 1)   # UV_WORKING_DIRECTORY
WORKING_DIR_ENV_SINCE = (0, 9, 14)        # UV_WORKING_DIR, preferred over UV_WORKING_DIRECTORY
PROJECT_MISSING_WARNS_SINCE = (0, 10, 10)  # a missing `--project` directory: a warning,
PROJECT_MUST_EXIST_SINCE = (0, 12, 0)     # then an error
PROJECT_IN_CACHE_REFUSED_SINCE = (0, 11, 21)  # "The project directory ... is inside the cache directory"
BUILD_DIR_EXEMPT_SINCE = (0, 11, 22)      # ... unless uv runs inside its own PEP 517 build dir


class Location(NamedTuple):
    """Where one command line works: its directories, and where uv's config walk (and so the policy's
    project walk) starts. Needs no config file, so a broken `uv.toml` never hides it."""

    working_dir: Path
    project_dir: Path
    workspace_root: Path | None  # None where uv's workspace discovery fails
    discovery_start: Path  # the workspace root, else the project dir
    warnings: tuple[str, ...] = ()


def locate(invocation: Invocation, env: Mapping[str, str], cwd: str | Path,
           uv_version: tuple[int, ...] | None = None, toml: TomlFiles | None = None) -> Location:
    """The directories of `invocation` run in `cwd`, and the workspace root uv finds from them."""
    warnings: list[str] = []
    working_dir, project_dir = resolve_dirs(invocation, env, cwd, uv_version, warnings)
    # uv's workspace discovery sees the cache dir of the flags alone (a project inside it is skipped).
    discovery_cache = (_cache_dir_before_files(invocation, env, working_dir)[0]
                       or _default_cache_dir(env, working_dir)[0])
    root = workspace_root(project_dir, discovery_cache, toml)
    return Location(working_dir, project_dir, root, root if root is not None else project_dir, tuple(warnings))


_NO_CACHE_DEFAULT = ConfigSource("default")


class EffectiveConfig(NamedTuple):
    """What uv will use for one command line; every value carries its source (`ConfigSource`).

    `cache_dir` is the persistent cache; when `no_cache` is set uv uses a fresh
    temporary directory instead and never touches it. `config_files` are in
    precedence order, highest first.
    """

    cache_dir: Path
    cache_dir_source: ConfigSource
    no_cache: bool
    link_mode: str
    link_mode_source: ConfigSource
    pip_link_mode: str
    pip_link_mode_source: ConfigSource
    working_dir: Path
    project_dir: Path
    config_files: tuple[ConfigFile, ...] = ()
    warnings: tuple[str, ...] = ()
    no_cache_source: ConfigSource = _NO_CACHE_DEFAULT
    uv_version: tuple[int, ...] | None = None
    discovery: str = "project, user and system files"  # which files uv looks for, and why
    workspace_root: Path | None = None  # as in `Location`
    discovery_start: Path | None = None

    @property
    def symlink_active(self) -> bool:
        return "symlink" in (self.link_mode, self.pip_link_mode)

    def sources_json(self) -> dict:
        """The structured source of each setting, for `--json` outputs."""
        return {"cache_dir": self.cache_dir_source.to_json(), "no_cache": self.no_cache_source.to_json(),
                "link_mode": self.link_mode_source.to_json(), "pip_link_mode": self.pip_link_mode_source.to_json()}


def effective_config(invocation: Invocation, env: Mapping[str, str], cwd: str | Path,
                     uv_version: tuple[int, ...] | None = None, toml: TomlFiles | None = None,
                     location: Location | None = None) -> EffectiveConfig:
    """Resolve what uv (of `uv_version`) would use for `invocation` run in `cwd` with `env`.

    `toml` reads the files (a fresh reader when None); `location` is `locate(...)` of the same line
    when the caller has it already."""
    toml = toml or TomlFiles()
    location = location or locate(invocation, env, cwd, uv_version, toml)
    warnings = list(location.warnings)
    working_dir, project_dir = location.working_dir, location.project_dir
    persistent_cache = _cache_dir_before_files(invocation, env, working_dir)
    loaded = load_files(invocation, env, working_dir, location.discovery_start, uv_version, warnings, toml)
    layers = loaded.layers
    check_required_version(layers, uv_version)
    no_cache, no_cache_source = _no_cache(invocation, env, layers, uv_version)
    cache_dir, cache_source = _cache_dir(persistent_cache, layers, working_dir, env)
    project_mode, pip_mode = _link_modes(invocation, env, loaded.project_layers, loaded.pip_layers, uv_version)
    if not no_cache:
        _refuse_project_in_cache(project_dir, cache_dir, working_dir, env, uv_version)
    return EffectiveConfig(
        cache_dir=cache_dir, cache_dir_source=cache_source,
        no_cache=no_cache, no_cache_source=no_cache_source,
        link_mode=project_mode[0], link_mode_source=project_mode[1],
        pip_link_mode=pip_mode[0], pip_link_mode_source=pip_mode[1],
        working_dir=working_dir, project_dir=project_dir,
        config_files=tuple(loaded.files), warnings=tuple(warnings), uv_version=uv_version,
        discovery=loaded.discovery, workspace_root=location.workspace_root,
        discovery_start=location.discovery_start,
    )


def resolve_dirs(invocation: Invocation, env: Mapping[str, str], cwd: str | Path,
                 uv_version: tuple[int, ...] | None = None, warnings: list[str] | None = None) -> tuple[Path, Path]:
    """(working dir after `--directory`, project dir after `--project`), both absolute."""
    cwd = Path(os.path.abspath(cwd))
    newer = since(uv_version)
    directory = option_value(invocation, env, "directory", "UV_WORKING_DIR" if newer(WORKING_DIR_ENV_SINCE) else None)
    if directory is None and "UV_WORKING_DIRECTORY" in env and newer(WORKING_DIRECTORY_ENV_SINCE):
        directory = (env["UV_WORKING_DIRECTORY"], ConfigSource("env", "UV_WORKING_DIRECTORY"))
    working_dir = cwd
    if directory is not None:
        # uv chdirs there and reads the cwd back: a physical path, `link/..` as the OS takes it.
        working_dir = Path(os.path.realpath(cwd / directory[0])) if directory[0] else Path("")
        if not directory[0] or not working_dir.is_dir():
            raise ConfigError(f"No such file or directory (os error 2): `{directory[0]}` "
                              f"(from {directory[1].describe()})")
    project = option_value(invocation, env, "project", "UV_PROJECT" if newer(PROJECT_ENV_SINCE) else None)
    if project is None:
        return working_dir, working_dir
    project_dir = Path(os.path.normpath(working_dir / project[0]))
    if project_dir.name == "pyproject.toml" and project_dir.is_file():
        return working_dir, project_dir.parent
    if command_word(invocation) == "init" or project_dir.is_dir():
        return working_dir, project_dir
    problem = (f"Project directory `{project[0]}` does not exist" if not project_dir.exists()
               else f"Project path `{project[0]}` is not a directory")
    if newer(PROJECT_MUST_EXIST_SINCE):
        raise ConfigError(problem)
    if newer(PROJECT_MISSING_WARNS_SINCE) and warnings is not None:
        warnings.append(f"{problem}. This will become an error in a future release. Use "
                        "`--preview-features project-directory-must-exist` to error on this now.")
    return working_dir, project_dir


def _refuse_project_in_cache(project_dir: Path, cache_dir: Path, working_dir: Path, env: Mapping[str, str],
                             version: tuple[int, ...] | None) -> None:
    """uv (0.11.21+) refuses any command whose project directory is inside its cache, as given or
    after resolving links, with this message; not while it builds a package in its own build dir."""
    if not since(version)(PROJECT_IN_CACHE_REFUSED_SINCE):
        return
    build_dir = env.get("UV_INTERNAL__BUILD_DIR")
    if build_dir and since(version)(BUILD_DIR_EXEMPT_SINCE) and (
            project_dir.is_relative_to(working_dir / build_dir)
            or Path(os.path.realpath(project_dir)).is_relative_to(os.path.realpath(working_dir / build_dir))):
        return
    inside = None
    if project_dir.is_relative_to(cache_dir):
        inside = project_dir, cache_dir
    elif project_dir.exists() and cache_dir.exists():
        real_project, real_cache = Path(os.path.realpath(project_dir)), Path(os.path.realpath(cache_dir))
        if real_project.is_relative_to(real_cache):
            inside = real_project, real_cache
    if inside:
        shown = [user_display(path, working_dir) for path in inside]
        raise ConfigError(f"The project directory `{shown[0]}` is inside the cache directory `{shown[1]}`")


def _cache_dir_before_files(invocation: Invocation, env: Mapping[str, str],
                            working_dir: Path) -> tuple[Path | None, ConfigSource | None]:
    """`--cache-dir` or `UV_CACHE_DIR` (empty is an error); (None, None) when neither is given."""
    given = option_value(invocation, env, "cache-dir", "UV_CACHE_DIR")
    if given is None:
        return None, None
    if not given[0]:
        raise ConfigError("a value is required for '--cache-dir <CACHE_DIR>' but none was supplied "
                          f"(from {given[1].describe()})")
    return _physical(working_dir / given[0]), given[1]


def _cache_dir(given: tuple[Path | None, ConfigSource | None], layers: list[Layer], working_dir: Path,
               env: Mapping[str, str]) -> tuple[Path, ConfigSource]:
    """The flag or variable, then `cache-dir` in the merged files, then the XDG default."""
    if given[0] is not None and given[1] is not None:
        return given[0], given[1]
    for layer in layers:
        if "cache-dir" in layer.options:
            return _physical(working_dir / layer.options["cache-dir"]), layer.source("cache-dir")
    return _default_cache_dir(env, working_dir)


def _physical(path: Path) -> Path:
    """`path` with each `..` taken as the OS takes it, after the symlinks before it.

    uv keeps the cache dir as given (made absolute, never normalized), so
    `link/../c` is the `c` beside the link's target; normalizing it lexically
    would guard another directory than the one uv clears.
    """
    parts = path.parts
    if ".." not in parts:
        return path
    last = len(parts) - parts[::-1].index("..")
    return Path(os.path.realpath(Path(*parts[:last])), *parts[last:])


def _default_cache_dir(env: Mapping[str, str], working_dir: Path) -> tuple[Path, ConfigSource]:
    """`$XDG_CACHE_HOME/uv` (absolute only), else `~/.cache/uv`; on macOS an existing
    `~/Library/Caches/uv` (uv's legacy location) comes first."""
    if sys.platform == "darwin":
        legacy = home(env, working_dir) / "Library" / "Caches" / "uv"
        if legacy.exists():
            return legacy, ConfigSource("default", "~/Library/Caches/uv, which exists")
    xdg = env.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "uv", ConfigSource("default", "$XDG_CACHE_HOME/uv")
    return home(env, working_dir) / ".cache" / "uv", ConfigSource("default", "~/.cache/uv")


def _no_cache(invocation: Invocation, env: Mapping[str, str], layers: list[Layer],
              version: tuple[int, ...] | None) -> tuple[bool, ConfigSource]:
    """No-cache from any source wins; an explicit false beats the files only in newer releases."""
    if invocation.option("no-cache"):
        return True, ConfigSource("cli", "--no-cache")
    variable = ConfigSource("env", "UV_NO_CACHE")
    explicit = None
    if "UV_NO_CACHE" in env:
        explicit = parse_bool(env["UV_NO_CACHE"], "--no-cache", "UV_NO_CACHE")
        if explicit:
            return True, variable
        if since(version)(EXPLICIT_NO_CACHE_FALSE_SINCE):
            return False, variable
    for layer in layers:
        if "no-cache" in layer.options:
            return bool(layer.options["no-cache"]), layer.source("no-cache")
    return False, variable if explicit is False else _NO_CACHE_DEFAULT


def _link_modes(invocation: Invocation, env: Mapping[str, str], project_layers: list[Layer], pip_layers: list[Layer],
                version: tuple[int, ...] | None) -> tuple[tuple[str, ConfigSource], tuple[str, ConfigSource]]:
    """(project link mode, pip/venv link mode), each with its source, each from the files its
    scope's commands read (`load_files`)."""
    default = (_platform_default(version), _default_source(version))
    project = _merged(project_layers, "link-mode", pip=False) or default
    pip = _merged(pip_layers, "link-mode", pip=True) or default
    from_env = _env_link_mode(invocation, env, version)
    if from_env is not None:
        project = pip = from_env
    flag = _flag_link_mode(invocation, version)
    if flag is not None:
        if command_word(invocation) in uvcli.PIP_SETTINGS_COMMANDS:
            pip = flag
        else:
            project = flag
    return project, pip


def _merged(layers: list[Layer], key: str, pip: bool) -> tuple[str, ConfigSource] | None:
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


def _env_link_mode(invocation: Invocation, env: Mapping[str, str],
                   version: tuple[int, ...] | None) -> tuple[str, ConfigSource] | None:
    if "UV_LINK_MODE" not in env:
        return None
    value = env["UV_LINK_MODE"]
    if value in link_mode_names(version):
        return LINK_MODES[value], ConfigSource("env", "UV_LINK_MODE")
    if _reads_link_mode(invocation):
        raise ConfigError(f"invalid value '{value}' for '--link-mode <LINK_MODE>' (from UV_LINK_MODE)",
                          hint="possible values: clone, copy, hardlink, symlink")
    return None


def _flag_link_mode(invocation: Invocation, version: tuple[int, ...] | None) -> tuple[str, ConfigSource] | None:
    """The subcommand's own `--link-mode` (clap checks its value before anything runs)."""
    value = invocation.command_option("--link-mode")
    if value is None:
        return None
    if value not in link_mode_names(version):
        raise ConfigError(f"invalid value '{value}' for '--link-mode <LINK_MODE>'",
                          hint="possible values: " + ", ".join(link_mode_names(version)))
    return LINK_MODES[value], ConfigSource("cli", "--link-mode")


def _reads_link_mode(invocation: Invocation) -> bool:
    """Whether the command has a `--link-mode` option, so that uv validates UV_LINK_MODE."""
    word, sub = command_word(invocation), subcommand_word(invocation)
    return (word,) in uvcli.LINK_MODE_COMMANDS or (word, sub) in uvcli.LINK_MODE_COMMANDS


def _platform_default(version: tuple[int, ...] | None) -> str:
    if sys.platform == "win32":
        return "hardlink"
    if sys.platform == "darwin" or since(version)(CLONE_DEFAULT_SINCE):
        return "clone"
    return "hardlink"


def _default_source(version: tuple[int, ...] | None) -> ConfigSource:
    shown = ".".join(map(str, version)) if version else "newest"
    return ConfigSource("default", f"{sys.platform}, uv {shown}")

