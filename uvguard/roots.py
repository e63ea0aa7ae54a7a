"""Roots of the live set: the environments that may link into the cache, and who named them.

Nix-style roots, from six places: the registry the shim appends to at every
install-type command (`uvguard.registry`; resolved here, at read time, to the
environment each command wrote to), the current project's environment,
`VIRTUAL_ENV`, uv's tool environments, paths and globs in the policy, and
paths added by hand (`uvguard roots add`). Where a rule picks an environment
we follow uv's own (crates/uv-workspace, crates/uv-python/src/virtualenv.rs,
crates/uv-tool); where a record is ambiguous we include more, never less: an
extra root costs a scan, a missing one costs a broken environment.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from uvguard import messages, registry, uvcli, uvworkspace
from uvguard.invocation import command_arguments, parse
from uvguard.records import TYPE_CHECKING, NamedTuple
from uvguard.tomlfile import TomlFiles

if TYPE_CHECKING:
    from typing import Any

    from uvguard.invocation import Invocation
    from uvguard.uvconfig import EffectiveConfig


class Root:
    """A path that may hold an environment; `origins` lists every place that named it.

    Origins: project, UV_PROJECT_ENVIRONMENT, VIRTUAL_ENV, tools, policy,
    manual, registry. `error` says why a root that should be readable is not
    (the scan then reports it unreadable and the live set uncertain).
    A plain class, not a dataclass: the guarded path creates no class it can spare.
    """

    __slots__ = ("path", "origin", "origins", "error")

    def __init__(self, path: str, origin: str, origins: tuple[str, ...] = (), error: str = "") -> None:
        self.path, self.origin, self.origins, self.error = path, origin, origins or (origin,), error

    def _fields(self) -> tuple:
        return self.path, self.origin, self.origins, self.error

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Root) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"Root(path={self.path!r}, origin={self.origin!r}, origins={self.origins!r}, error={self.error!r})"


def find_roots(invocation: Invocation, config: EffectiveConfig, env: Mapping[str, str], cwd: str | os.PathLike[str],
               policy_roots: Iterable[str] = (),
               toml: TomlFiles | None = None) -> list[Root]:
    """Every root for one uv command line, merged by path, sorted. The project's workspace root is
    the one `config` found (`uvconfig.Location`); `toml` reads the registry's projects' files."""
    toml = toml or TomlFiles()
    working_dir = os.path.abspath(os.path.join(os.fspath(cwd), os.fspath(config.working_dir)))
    found: list[Root] = []
    project_dir = os.path.abspath(os.path.join(working_dir, os.fspath(config.project_dir)))
    known = {} if config.discovery_start is None else {
        project_dir: None if config.workspace_root is None else str(config.workspace_root)}
    project = project_environment(project_dir, env, known, toml)
    if project:
        found.append(Root(*project))
    if env.get("VIRTUAL_ENV"):
        found.append(Root(os.path.join(working_dir, env["VIRTUAL_ENV"]), "VIRTUAL_ENV"))
    found.extend(Root(path, "tools") for path in tool_environments(tool_dir(env, working_dir)))
    found.extend(Root(path, "policy") for path in expand_policy_roots(policy_roots, working_dir))
    found.extend(Root(path, "manual") for path in read_manual_roots(env))
    try:
        view = read_registry(env, toml=toml)
    except OSError as error:
        path = error.filename or registry.registry_path(env)
        found.append(Root(path, "registry", error=f"cannot read the registry {path}: {error.strerror or error}"))
        return merge_roots(found)
    for path, why in view.unknown:
        # One line per file, not per record: the live set is uncertain until the file is dealt with.
        messages.warning(f"{why} `{path}`: the environments named there are unknown, so the live set is uncertain")
        found.append(Root(path, "registry", error=f"{why}: the environments named there are unknown; register "
                          "them with `uvguard roots add PATH`, then delete this file"))
    found.extend(Root(path, "registry") for path in view.paths)
    return merge_roots(found)


def merge_roots(roots: Iterable[Root]) -> list[Root]:
    """One Root per environment: the same path (up to symlinked parents) merges its origins."""
    merged: dict[str, Root] = {}
    for root in roots:
        path = os.path.normpath(root.path)
        key = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        known = merged.get(key)
        if known is None:
            merged[key] = Root(path, root.origin, root.origins, root.error)
        else:
            origins = known.origins + tuple(o for o in root.origins if o not in known.origins)
            merged[key] = Root(known.path, known.origin, origins, known.error or root.error)
    return sorted(merged.values(), key=lambda root: root.path)


# --- projects -----------------------------------------------------------------------------------


def project_environment(project_dir: str, env: Mapping[str, str], _memo: dict | None = None,
                        toml: TomlFiles | None = None) -> tuple[str, str] | None:
    """(path, origin) of the environment uv uses for the project found from `project_dir`.

    `UV_PROJECT_ENVIRONMENT` (relative to the workspace root) or
    `<workspace root>/.venv`. Where uv's discovery fails (an invalid or
    unmanaged `pyproject.toml`, a broken member glob) the nearest project
    directory stands in: a guess that may protect too much, never too little.
    None outside any project.
    """
    project_dir = os.path.abspath(project_dir)
    root = workspace_root(project_dir, {} if _memo is None else _memo, toml)
    if root is None:
        root = next((d for d in _ancestors(project_dir) if os.path.isfile(os.path.join(d, "pyproject.toml"))), None)
        if root is None:
            return None
    if env.get("UV_PROJECT_ENVIRONMENT"):
        return os.path.join(root, env["UV_PROJECT_ENVIRONMENT"]), "UV_PROJECT_ENVIRONMENT"
    return os.path.join(root, ".venv"), "project"


def workspace_root(project_dir: str, memo: dict, toml: TomlFiles | None = None) -> str | None:
    """uv's workspace root for `project_dir` (`uvguard.uvworkspace`), memoised per read of the registry."""
    if project_dir not in memo:
        root = uvworkspace.workspace_root(Path(project_dir), toml=toml)
        memo[project_dir] = None if root is None else str(root)
    return memo[project_dir]


def _ancestors(path: str) -> Iterator[str]:
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


# --- tools, policy, manual roots ----------------------------------------------------------------


def tool_dir(env: Mapping[str, str], working_dir: str) -> str:
    """uv's tool directory: `UV_TOOL_DIR`, else `$XDG_DATA_HOME/uv/tools`, else `~/.local/share/uv/tools`."""
    if env.get("UV_TOOL_DIR"):
        return os.path.join(working_dir, env["UV_TOOL_DIR"])
    data_home = env.get("XDG_DATA_HOME", "")
    if not data_home.startswith("/"):
        data_home = os.path.join(env.get("HOME") or "/nonexistent", ".local", "share")
    return os.path.join(data_home, "uv", "tools")


def tool_environments(directory: str) -> list[str]:
    """Each tool's environment; the directory itself if it exists but cannot be listed (scanned as unreadable)."""
    try:
        with os.scandir(directory) as entries:
            return sorted(e.path for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        return [directory]


def expand_policy_roots(patterns: Iterable[str], working_dir: str) -> list[str]:
    """Policy paths and globs; a plain path is kept even when missing (it shows as gone)."""
    paths = []
    for pattern in patterns:
        pattern = os.path.join(working_dir, os.path.expanduser(pattern))
        if glob.has_magic(pattern):
            paths.extend(sorted(glob.glob(pattern)))
        else:
            paths.append(pattern)
    return paths


def manual_roots_path(env: Mapping[str, str]) -> str:
    return os.path.join(registry.state_dir(env), "roots")


def read_manual_roots(env: Mapping[str, str]) -> list[str]:
    try:
        data, _ = registry.read_regular(manual_roots_path(env))  # a FIFO in its place never blocks
    except FileNotFoundError:
        return []
    return [line for line in data.decode("utf-8", "surrogateescape").split("\n") if line.strip()]


def write_manual_roots(env: Mapping[str, str], paths: list[str]) -> None:
    """Replace the manual roots file atomically."""
    path = manual_roots_path(env)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _replace_file(path, "".join(p + "\n" for p in paths))


def _replace_file(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(text)
    os.replace(tmp, path)


# --- registry: resolving records ----------------------------------------------------------------

# Marks a tool directory among record targets: it stands for the tools in it.
TOOLS_PREFIX = registry.TOOLS_PREFIX


class CommandLine(NamedTuple):
    """A recorded uv command line, read by `invocation` (the one reader of uv's arguments)."""

    command: tuple[str, ...]
    global_options: Mapping[str, Any]
    options: dict  # the subcommand's own, long name -> last value or True
    positionals: tuple[str, ...]

    @property
    def writes(self) -> str:
        """Which environment the command writes (`uvcli.PROJECT`, ...), "" for none."""
        known = uvcli.COMMAND_BY_WORDS.get(self.command)
        return known.writes if known is not None else ""


def read_command_line(args: tuple[str, ...]) -> CommandLine | None:
    """The recorded line as uv reads it; None when its command writes no environment.

    A line uv would reject, or that only prints help, still resolves: an
    extra root costs a scan, a missed one a broken environment.
    """
    invocation = parse(args)
    if invocation.command not in uvcli.RECORDED:
        return None
    own = command_arguments(invocation)
    return CommandLine(invocation.command, invocation.options, own.options, own.positionals)


def record_targets(record: registry.Record, memo: dict | None = None,
                   toml: TomlFiles | None = None) -> tuple[str, ...]:
    """What a recorded command wrote to: environment paths, or `TOOLS_PREFIX` + uv's tool directory."""
    memo = {} if memo is None else memo
    toml = toml or TomlFiles()
    line = read_command_line(record.args)
    if line is None:
        return ()
    directory = (line.global_options.get("directory") or record.env.get("UV_WORKING_DIR")
                 or record.env.get("UV_WORKING_DIRECTORY") or "")
    working_dir = _physical(os.path.join(record.cwd, directory), memo)
    if line.writes == uvcli.PROJECT:
        return _project_command_targets(line, record.env, working_dir, memo, toml)
    if line.writes == uvcli.VENV:
        return _venv_targets(line, record.env, working_dir, memo, toml)
    if line.writes == uvcli.PIP:
        return _pip_targets(line, record.env, working_dir)
    if line.writes == uvcli.TOOL:
        return (TOOLS_PREFIX + tool_dir(record.env, working_dir),)
    return ()


def _physical(path: str, memo: dict) -> str:
    """The directory uv worked in: `getcwd()` after its chdir, so without links or `..`.

    The recorded cwd is the shell's `$PWD`, which keeps the links it was entered
    through; a relative `../env` or `--directory link/..` means something else
    from there than from where uv stood.
    """
    key = ("physical", path)
    if key not in memo:
        memo[key] = os.path.realpath(path)
    return memo[key]


def _project_dir(line: CommandLine, env: Mapping[str, str], working_dir: str) -> str:
    project = os.path.join(working_dir, line.global_options.get("project") or env.get("UV_PROJECT") or "")
    if os.path.basename(project) == "pyproject.toml" and os.path.isfile(project):
        project = os.path.dirname(project)
    return os.path.normpath(project)


def _project_command_targets(line: CommandLine, env: Mapping[str, str], working_dir: str, memo: dict,
                             toml: TomlFiles) -> tuple[str, ...]:
    if isinstance(line.options.get("script"), str):
        return ()  # script environments live in the cache
    if line.options.get("active") is True and env.get("VIRTUAL_ENV"):
        return (os.path.join(working_dir, env["VIRTUAL_ENV"]),)
    project = project_environment(_project_dir(line, env, working_dir), env, memo, toml)
    return (os.path.normpath(project[0]),) if project else ()


def _venv_targets(line: CommandLine, env: Mapping[str, str], working_dir: str, memo: dict,
                  toml: TomlFiles) -> tuple[str, ...]:
    if line.positionals:
        return tuple(os.path.normpath(os.path.join(working_dir, word)) for word in line.positionals)
    project_dir = _project_dir(line, env, working_dir)
    if not line.options.get("no-project") and workspace_root(project_dir, memo, toml) == project_dir:
        project = project_environment(project_dir, env, memo, toml)
        if project:
            return (os.path.normpath(project[0]),)
    return (os.path.join(working_dir, ".venv"),)


def _pip_targets(line: CommandLine, env: Mapping[str, str], working_dir: str) -> tuple[str, ...]:
    for option in ("target", "prefix"):
        if isinstance(line.options.get(option), str):
            return (os.path.normpath(os.path.join(working_dir, line.options[option])),)
    python = line.options.get("python") or env.get("UV_PYTHON")
    # uv reads a request as a path when it exists or holds a separator (`PythonRequest::parse`).
    if isinstance(python, str) and (os.sep in python or os.path.exists(os.path.join(working_dir, python))):
        venv = _interpreter_environment(os.path.join(working_dir, python))
        if venv:
            return (venv,)
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        if env.get(variable):
            return (os.path.normpath(os.path.join(working_dir, env[variable])),)
    return tuple(_virtualenv_from_working_dir(working_dir))


def _interpreter_environment(path: str) -> str | None:
    """The virtual environment (a directory with `pyvenv.cfg`) holding an interpreter path or named by it."""
    path = os.path.normpath(path)
    start = path if os.path.isdir(path) else os.path.dirname(path)
    for directory in (start, os.path.dirname(start)):
        if os.path.isfile(os.path.join(directory, "pyvenv.cfg")):
            return directory
    return path if os.path.isdir(path) else None


def _virtualenv_from_working_dir(working_dir: str) -> list[str]:
    """uv's search: the virtualenv we are inside, else a `.venv` in this or any parent directory."""
    for directory in _ancestors(working_dir):
        if os.path.isfile(os.path.join(directory, "pyvenv.cfg")):
            return [directory]
        candidate = os.path.join(directory, ".venv")
        if os.path.lexists(candidate):
            return [candidate]
    return []


# --- registry: the index of environments ---------------------------------------------------------


def _expand_targets(targets: tuple[str, ...]) -> list[str]:
    """Tool directories stand for their tool environments."""
    expanded = []
    for target in targets:
        if target.startswith(TOOLS_PREFIX):
            expanded.extend(tool_environments(target[len(TOOLS_PREFIX):]))
        else:
            expanded.append(target)
    return expanded


def read_registry(env: Mapping[str, str], now: float | None = None,
                  toml: TomlFiles | None = None) -> registry.IndexView:
    """The environments the registry names, read through its index (`uvguard.registry`); `toml` reads
    the files of the projects new records name."""
    return registry.read_index(env, functools.partial(record_targets, toml=toml or TomlFiles()), _expand_targets, now)
