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

import glob
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from uvguard import envindex, messages, registry, uvworkspace

if TYPE_CHECKING:
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
               policy_roots: Iterable[str] = ()) -> list[Root]:
    """Every root for one uv command line, merged by path, sorted."""
    working_dir = os.path.abspath(os.path.join(os.fspath(cwd), os.fspath(config.working_dir)))
    found: list[Root] = []
    project = project_environment(os.path.join(working_dir, os.fspath(config.project_dir)), env)
    if project:
        found.append(Root(*project))
    if env.get("VIRTUAL_ENV"):
        found.append(Root(os.path.join(working_dir, env["VIRTUAL_ENV"]), "VIRTUAL_ENV"))
    found.extend(Root(path, "tools") for path in tool_environments(tool_dir(env, working_dir)))
    found.extend(Root(path, "policy") for path in expand_policy_roots(policy_roots, working_dir))
    found.extend(Root(path, "manual") for path in read_manual_roots(env))
    try:
        view = read_registry(env)
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


def project_environment(project_dir: str, env: Mapping[str, str], _memo: dict | None = None) -> tuple[str, str] | None:
    """(path, origin) of the environment uv uses for the project found from `project_dir`.

    `UV_PROJECT_ENVIRONMENT` (relative to the workspace root) or
    `<workspace root>/.venv`. Where uv's discovery fails (an invalid or
    unmanaged `pyproject.toml`, a broken member glob) the nearest project
    directory stands in: a guess that may protect too much, never too little.
    None outside any project.
    """
    project_dir = os.path.abspath(project_dir)
    root = workspace_root(project_dir, {} if _memo is None else _memo)
    if root is None:
        root = next((d for d in _ancestors(project_dir) if os.path.isfile(os.path.join(d, "pyproject.toml"))), None)
        if root is None:
            return None
    if env.get("UV_PROJECT_ENVIRONMENT"):
        return os.path.join(root, env["UV_PROJECT_ENVIRONMENT"]), "UV_PROJECT_ENVIRONMENT"
    return os.path.join(root, ".venv"), "project"


def workspace_root(project_dir: str, memo: dict) -> str | None:
    """uv's workspace root for `project_dir` (`uvguard.uvworkspace`), memoised per read of the registry."""
    if project_dir not in memo:
        root = uvworkspace.workspace_root(Path(project_dir))
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

# Long options of uv's command lines that take a value (from crates/uv-cli;
# `script` is a value everywhere but `uv run`). Everything else is a flag.
_VALUE_OPTIONS = frozenset("""
allow-insecure-host annotation-style author-from bounds branch build-backend build-constraint
build-constraints bump cache-dir cert check-url color config-file config-setting
config-setting-package config-settings config-settings-package constraint constraints
custom-compile-command default-index depth description directory editable env-file exclude
exclude-newer exclude-newer-package excludes extra extra-index-url find-links format from group
index index-strategy index-url install-dir keyring-provider link-mode marker max-recursion-depth
mirror name no-binary no-editable-package no-emit-package no-extra no-group no-install-package
only-binary only-emit-package only-group only-install-package optional out-dir output-file
output-format override overrides package password prefix preview-feature preview-features project
prompt protocol publish-url pypy-mirror python python-downloads-json-url python-fetch
python-platform python-preference python-version reinstall-package requirement requirements rev
script service-format service-url tag target token torch-backend trusted-host trusted-publishing
upgrade-group upgrade-package username vcs with with-editable with-executables-from
with-requirements
""".split())
# Short options that take a value; `-c` is `--clear` in `uv venv`, `-m`/`-s` are flags in `uv run`.
_SHORT_WITH_VALUE = frozenset("CPbcdefimoprtw")
_SHORT_NAMES = {"p": "python", "t": "target"}
_SHORT_FLAGS_BY_COMMAND = {"venv": {"c"}, "run": {"m", "s"}}
_PROJECT_COMMANDS = {"sync", "run", "add", "remove"}
_VENV_COMMANDS = {"venv", "virtualenv", "v"}
# Marks a tool directory among record targets: it stands for the tools in it.
TOOLS_PREFIX = envindex.TOOLS_PREFIX


class CommandLine(NamedTuple):
    """The parts of a recorded uv command line that decide which environment it wrote to."""

    words: tuple[str, ...]
    options: dict


def read_command_line(args: tuple[str, ...]) -> CommandLine:
    """Positional words and the last value of each long option, as uv's parser would split them."""
    words: list[str] = []
    options: dict = {}
    i = 0
    while i < len(args):
        arg, i = args[i], i + 1
        command = words[0] if words else ""
        if arg == "--":
            break
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            takes_value = name in _VALUE_OPTIONS and not (name == "script" and command == "run")
            if takes_value and not has_value and i < len(args):
                value, i = args[i], i + 1
            options[name] = value if takes_value or has_value else True
        elif arg.startswith("-") and arg != "-":
            i = _read_short_cluster(arg[1:], args, i, command, options)
        else:
            words.append(arg)
            if command == "run" and len(words) > 1:
                break  # the command uv runs; its arguments are not uv's
    return CommandLine(tuple(words), options)


def _read_short_cluster(cluster: str, args: Sequence[str], i: int, command: str, options: dict) -> int:
    flags = _SHORT_FLAGS_BY_COMMAND.get(command, set())
    for position, letter in enumerate(cluster):
        if letter in _SHORT_WITH_VALUE and letter not in flags:
            value = cluster[position + 1:].removeprefix("=")
            if not value and i < len(args):
                value, i = args[i], i + 1
            options[_SHORT_NAMES.get(letter, letter)] = value
            return i
        options[letter] = True
    return i


def resolve_record(record: registry.Record, memo: dict | None = None) -> tuple[str, ...]:
    """The environment paths a recorded command wrote to (a tool command: every tool's environment)."""
    return tuple(_expand_targets(record_targets(record, memo)))


def record_targets(record: registry.Record, memo: dict | None = None) -> tuple[str, ...]:
    """What a recorded command wrote to: environment paths, or `TOOLS_PREFIX` + uv's tool directory."""
    memo = {} if memo is None else memo
    line = read_command_line(record.args)
    directory = (line.options.get("directory") or record.env.get("UV_WORKING_DIR")
                 or record.env.get("UV_WORKING_DIRECTORY") or "")
    working_dir = _physical(os.path.join(record.cwd, directory), memo)
    words = line.words
    if not words:
        return ()
    if words[0] in _PROJECT_COMMANDS:
        return _project_command_targets(line, record.env, working_dir, memo)
    if words[0] in _VENV_COMMANDS:
        return _venv_targets(line, record.env, working_dir, memo)
    if words[:2] in (("pip", "install"), ("pip", "sync"), ("pip", "uninstall")):
        return _pip_targets(line, record.env, working_dir)
    if words[:2] in (("tool", "install"), ("tool", "upgrade")):
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
    project = os.path.join(working_dir, line.options.get("project") or env.get("UV_PROJECT") or "")
    if os.path.basename(project) == "pyproject.toml" and os.path.isfile(project):
        project = os.path.dirname(project)
    return os.path.normpath(project)


def _project_command_targets(line: CommandLine, env: Mapping[str, str], working_dir: str,
                             memo: dict) -> tuple[str, ...]:
    if isinstance(line.options.get("script"), str):
        return ()  # script environments live in the cache
    if line.options.get("active") is True and env.get("VIRTUAL_ENV"):
        return (os.path.join(working_dir, env["VIRTUAL_ENV"]),)
    project = project_environment(_project_dir(line, env, working_dir), env, memo)
    return (os.path.normpath(project[0]),) if project else ()


def _venv_targets(line: CommandLine, env: Mapping[str, str], working_dir: str, memo: dict) -> tuple[str, ...]:
    if len(line.words) > 1:
        return tuple(os.path.normpath(os.path.join(working_dir, word)) for word in line.words[1:])
    project_dir = _project_dir(line, env, working_dir)
    if not line.options.get("no-project") and workspace_root(project_dir, memo) == project_dir:
        return (os.path.normpath(project_environment(project_dir, env, memo)[0]),)  # type: ignore[index]  # a root
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


def read_registry(env: Mapping[str, str], now: float | None = None) -> envindex.IndexView:
    """The environments the registry names, read through the index (`uvguard.envindex`)."""
    return envindex.read_index(env, record_targets, _expand_targets, now)
