"""The policy: what uvguard does when a cache operation would break environments.

Format (a user-facing contract), top-level keys of a TOML file, or the same
keys under `[tool.uvguard]` in `pyproject.toml`:

    prune = "limit"            # allow | warn | limit | refuse
    prune-ci = "limit"
    clean = "refuse"
    clean-packages = "limit"
    uncertain = "refuse"       # the live set cannot be fully determined
    unknown = "warn"           # symlink mode is on, yet no environment linking into the cache is known
    gc = "limit"               # `uvguard gc`: limit (collect what nothing uses) | refuse
    roots = ["/app/.venv"]     # extra roots for the live set (paths or globs)
    log = "/srv/uvguard.jsonl" # a team-wide copy of the decisions log
    locked = ["clean"]         # system layer only (a root-owned file): no higher layer may change these keys

Layers, lowest to highest: the built-in default (preset `default`) → system
→ user (`$XDG_CONFIG_HOME/uvguard/policy.toml`, else
`~/.config/uvguard/policy.toml`) → project → `UVGUARD_POLICY`.

Where issue 5 leaves room, these are the rules:
- System layer: two files, both read. First the first `uvguard/policy.toml`
  found over `$XDG_CONFIG_DIRS` (default `/etc/xdg`), then
  `/etc/uvguard/policy.toml`, whose values win over it.
- Locks: the keys listed in `locked` in either system file keep their system
  value whatever a higher layer says. A key locked by `/etc/uvguard/policy.toml`
  takes its value from that file, or from the built-in default when that file
  does not set it, never from the XDG file: anybody can point
  `$XDG_CONFIG_DIRS` elsewhere, and that must not unlock or change a key the
  machine's policy locks. No environment variable moves `/etc/uvguard`.
- A higher layer that sets a locked key to another value is not an error: its
  value is ignored and recorded, and `policy show` and the decision say so.
  `locked` anywhere but a system file is an error, so nobody believes a lock
  protects them when it does not. Lockable: the seven action keys and `log`.
- `roots` add up over all layers (a root only adds protection, and no layer
  can hide another's). `log` comes from the highest layer that sets it;
  `log = ""` turns the team copy off. Relative paths in `roots` and `log` are
  relative to the directory of the file that names them; `~` is `$HOME`.
- Project layer: from where uv's config walk starts (the workspace root, see
  `uvworkspace.discovery_start`) up, the first directory holding
  `uvguard.toml`, or a `pyproject.toml` with a `[tool.uvguard]` table; in one
  directory `uvguard.toml` wins, like `uv.toml` over `pyproject.toml` in uv's
  own walk. The walk never goes above the nearest directory holding a
  `pyproject.toml`, where uv's project discovery stops: a parent directory
  is not the project's to configure. A file owned by neither the user nor
  root is skipped with a warning, as git skips a repository another user owns.
  uv's `--no-config` does not switch the policy off.
- Trust (`uvguard.trust`): a project file comes with a repository someone
  cloned, so until `uvguard policy trust` records its real path and content
  hash, it may only tighten: an action key applies when it is at least as
  strict as the value below it (built-in, system, user), `roots` always
  apply (they only add protection), and a weaker action or `log` (where
  uvguard writes) is ignored, listed in `Policy.ignored` and warned about
  once per file. The user's own files and `UVGUARD_POLICY` are trusted.
- A lock binds only from a system file owned by root and writable by nobody
  else: `$XDG_CONFIG_DIRS` is the user's to set, so a `locked` in a file a
  user can change is ignored with a warning; the file's values still apply.
- `UVGUARD_POLICY`: a value containing `/` or ending in `.toml` is a file
  (relative to the cwd), anything else a preset name; empty means unset.
- A missing file is skipped; a file that exists but cannot be read or parsed,
  an unknown key, a value of the wrong type or outside the allowed set is a
  `PolicyError` naming the file, the line where known, the key and the
  allowed values. On a guarded command that exits 2 with the cache untouched.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from uvguard import paths, trust
from uvguard.errors import PolicyError
from uvguard.records import TYPE_CHECKING, NamedTuple
from uvguard.tomlfile import TomlFiles, key_line, parse_flat_toml, parse_toml

if TYPE_CHECKING:
    from typing import Any

ACTIONS = ("allow", "warn", "limit", "refuse")
OPERATION_KEYS = ("prune", "prune-ci", "clean", "clean-packages")
ACTION_KEYS = OPERATION_KEYS + ("uncertain", "unknown", "gc")
GC_ACTIONS = ("limit", "refuse")  # gc never removes what is in use: there is nothing to allow or warn about
LOCKABLE_KEYS = ACTION_KEYS + ("log",)
KEYS = ACTION_KEYS + ("roots", "log", "locked")
PRESETS = ("default", "strict", "ci", "permissive")

SYSTEM_POLICY_FILE = "/etc/uvguard/policy.toml"
PROJECT_FILE = "uvguard.toml"
ENV_VAR = "UVGUARD_POLICY"

_TOML_TYPES = ((bool, "a boolean"), (str, "a string"), (int, "an integer"), (float, "a float"),
               (list, "an array"), (dict, "a table"))


class Source(NamedTuple):
    """Where a value came from: the layer, and the file (None: a shipped preset) and line."""

    layer: str
    file: str | None = None
    preset: str | None = None
    line: int | None = None

    def describe(self) -> str:
        if self.layer == "built-in":
            return "the built-in default policy"
        if self.file is None:
            return f"preset `{self.preset}` (from {ENV_VAR})"
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"`{where}` ({self.layer} policy)"

    def to_json(self) -> dict:
        return {"layer": self.layer, "file": self.file, "preset": self.preset, "line": self.line}


class Setting(NamedTuple):
    """The effective value of one key; `ignored`: what higher layers tried while it was locked."""

    key: str
    value: Any  # an action's name, or the log path
    source: Source
    locked_by: Source | None = None
    ignored: tuple[tuple[object, Source], ...] = ()

    @property
    def locked(self) -> bool:
        return self.locked_by is not None


class PolicyFile(NamedTuple):
    """One layer's validated content: key -> value, the line of each key; who owns the file, its
    mode and content hash (None for a preset); `trusted`: False for a project file not yet trusted."""

    source: Source
    values: Mapping[str, Any]  # as validated: strings, and lists for `roots` and `locked`
    lines: Mapping[str, int] = MappingProxyType({})  # read-only: a default shared by every instance
    owner: int | None = None
    mode: int | None = None
    digest: str | None = None
    trusted: bool = True

    def source_of(self, key: str) -> Source:
        return self.source._replace(line=self.lines.get(key))


class Ignored(NamedTuple):
    """What uvguard does not obey, and why: a key of an untrusted project file (`untrusted`), a whole
    project file another user owns (`foreign`, `key` None), a `locked` a user could change (`lock`)."""

    kind: str
    key: str | None
    value: object
    source: Source
    reason: str

    def describe(self) -> str:
        if self.kind == "foreign":
            return f"{self.source.describe()}: {self.reason}"
        why = f"not trusted, and {self.reason}" if self.kind == "untrusted" else self.reason
        return f"`{self.key} = {json.dumps(self.value)}` in {self.source.describe()}: {why}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "key": self.key, "value": self.value, **self.source.to_json(),
                "reason": self.reason}


class Policy(NamedTuple):
    """The layered policy: one Setting per action key and `log`, the roots of every layer, and what
    was ignored (untrusted keys, foreign files, locks that cannot bind)."""

    settings: Mapping[str, Setting]
    roots: tuple[tuple[str, Source], ...] = ()
    files: tuple[PolicyFile, ...] = ()
    ignored: tuple[Ignored, ...] = ()

    def action(self, key: str) -> str:
        return self.settings[key].value

    @property
    def root_paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.roots)

    @property
    def log(self) -> str | None:
        setting = self.settings.get("log")
        return setting.value if setting and setting.value else None

    @property
    def warnings(self) -> list[str]:
        """One warning per file with something ignored: the file, each key, why, and the way on."""
        by_file: dict[str | None, list[Ignored]] = {}
        for item in self.ignored:
            by_file.setdefault(item.source.file, []).append(item)
        texts = []
        for file, items in by_file.items():
            kind = items[0].kind
            if kind == "foreign":
                texts.append(f"ignoring the project policy `{file}`: {items[0].reason}")
            elif kind == "lock":
                texts.append(f"ignoring `locked` in `{file}`: {items[0].reason}")
            else:
                keys = "; ".join(f"`{item.key} = {json.dumps(item.value)}` ({item.reason})" for item in items)
                texts.append(f"ignoring keys of the untrusted project policy `{file}`, which can only tighten "
                             f"the policy: {keys}; if you trust the file: `{trust_command(file)}`")
        return texts


def trust_command(file: str | None) -> str:
    return shlex.join(["uvguard", "policy", "trust", file or "."])


def load_policy(env: Mapping[str, str], cwd: str | os.PathLike, project_dir: str | os.PathLike | None = None,
                system_file: str | os.PathLike = SYSTEM_POLICY_FILE, uid: int | None = None,
                toml: TomlFiles | None = None) -> Policy:
    """The effective policy for a command run in `cwd` whose project walk starts at `project_dir`
    (`uvconfig.Location.discovery_start`), for the user `uid` (default: this process's effective
    uid); `toml` reads the files (a fresh reader when None)."""
    toml = toml or TomlFiles()
    builtin = read_preset("default", Source("built-in", preset="default"))
    xdg = _xdg_system_file(env, toml)
    etc = _existing(Path(system_file), "system", env, toml)
    start = Path(os.path.abspath(os.path.join(cwd, project_dir or ".")))
    project, skipped = project_policy(start, env, os.geteuid() if uid is None else uid, toml)
    higher = [*_user_file(env, toml), *project, *_env_file(env, cwd, toml)]
    policy = combine(builtin, xdg[0] if xdg else None, etc[0] if etc else None, higher)
    return policy._replace(ignored=(*skipped, *policy.ignored))


def combine(builtin: PolicyFile, xdg: PolicyFile | None, etc: PolicyFile | None,
            higher: list[PolicyFile]) -> Policy:
    """Apply the layers in order, holding locked keys at their system value; an untrusted
    file only tightens."""
    system = [layer_file for layer_file in (xdg, etc) if layer_file is not None]
    settings: dict[str, Setting] = {}
    ignored: list[Ignored] = []
    for layer_file in (builtin, *system):
        _apply(settings, layer_file, ignored)
    if xdg is not None and _binds_locks(xdg, ignored):
        for key in xdg.values.get("locked", ()):
            settings[key] = (settings.get(key) or Setting(key, "", builtin.source))._replace(
                locked_by=xdg.source_of("locked"))
    if etc is not None and _binds_locks(etc, ignored):
        for key in etc.values.get("locked", ()):
            holder = etc if key in etc.values else builtin
            settings[key] = Setting(key, holder.values.get(key, ""), holder.source_of(key),
                                    locked_by=etc.source_of("locked"))
    for layer_file in higher:
        _apply(settings, layer_file, ignored)
    roots: list[tuple[str, Source]] = []
    for layer_file in (builtin, *system, *higher):
        for path in layer_file.values.get("roots", ()):
            if path not in (seen for seen, _ in roots):
                roots.append((path, layer_file.source_of("roots")))
    return Policy(settings=settings, roots=tuple(roots), files=(builtin, *system, *higher), ignored=tuple(ignored))


def _apply(settings: dict[str, Setting], layer_file: PolicyFile, ignored: list[Ignored]) -> None:
    for key in LOCKABLE_KEYS:
        if key not in layer_file.values:
            continue
        value, source = layer_file.values[key], layer_file.source_of(key)
        current = settings.get(key)
        if current is not None and current.locked:
            if value != current.value:
                settings[key] = current._replace(ignored=current.ignored + ((value, source),))
            continue
        if not layer_file.trusted and not _tightens(key, value, current):
            ignored.append(Ignored("untrusted", key, value, source, _loosens(key, value, current)))
            continue
        settings[key] = Setting(key, value, source)


def _tightens(key: str, value: object, current: Setting | None) -> bool:
    """Whether an untrusted file may set `key` to `value`: only an action at least as strict as the one below."""
    return key in ACTION_KEYS and current is not None and ACTIONS.index(value) >= ACTIONS.index(current.value)


def _loosens(key: str, value: object, current: Setting | None) -> str:
    if key in ACTION_KEYS and current is not None:
        return f'"{value}" is weaker than "{current.value}" from {current.source.describe()}'
    if key == "log":
        return "only a trusted file chooses where uvguard writes"
    return "only a trusted file may set it"


def _binds_locks(system_file: PolicyFile, ignored: list[Ignored]) -> bool:
    """Whether `locked` in this system file binds: only in a file owned by root that nobody else can write."""
    if not system_file.values.get("locked"):
        return False
    why = None
    if system_file.owner != 0:
        why = f"it is owned by uid {system_file.owner}, not root"
    elif system_file.mode is not None and system_file.mode & 0o022:
        why = f"group or others can write it (mode {system_file.mode & 0o777:04o})"
    if why is None:
        return True
    ignored.append(Ignored("lock", "locked", list(system_file.values["locked"]), system_file.source_of("locked"),
                           f"{why}; a lock binds only in a system policy owned by root and writable by "
                           "nobody else, since a lock that a user can change protects nobody"))
    return False


# Finding the layers' files.

def _existing(path: Path, layer: str, env: Mapping[str, str], toml: TomlFiles) -> list[PolicyFile]:
    if not path.exists() and not path.is_symlink():
        return []
    return [read_policy_file(path, layer, env, toml)]


def _xdg_system_file(env: Mapping[str, str], toml: TomlFiles) -> list[PolicyFile]:
    for directory in paths.config_dirs(env):
        found = _existing(Path(directory, "uvguard", "policy.toml"), "system", env, toml)
        if found:
            return found
    return []


def user_policy_path(env: Mapping[str, str]) -> Path:
    return Path(paths.config_home(env), "uvguard", "policy.toml")


def _user_file(env: Mapping[str, str], toml: TomlFiles) -> list[PolicyFile]:
    return _existing(user_policy_path(env), "user", env, toml)


def project_policy(start: Path, env: Mapping[str, str], uid: int,
                   toml: TomlFiles | None = None) -> tuple[list[PolicyFile], list[Ignored]]:
    """The project layer for the walk from `start` (at most one file, marked trusted or not),
    and the files skipped because user `uid` does not own them (nor root)."""
    toml = toml or TomlFiles()
    skipped: list[Ignored] = []
    for directory in (start, *start.parents):
        for candidate in (directory / PROJECT_FILE, directory / "pyproject.toml"):
            if not candidate.is_file():
                continue
            content, info = toml.read(candidate, PolicyError)
            if info.st_uid not in (uid, 0):
                skipped.append(Ignored("foreign", None, None, Source("project", file=str(candidate)), (
                    f"it is owned by uid {info.st_uid}, neither you (uid {uid}) nor root, and a file "
                    "another user can change is not your policy")))
                continue
            try:
                data = toml.load(candidate, PolicyError)
            except PolicyError as error:
                if candidate.name == PROJECT_FILE:
                    raise
                raise PolicyError(error.message, hint=(
                    "uvguard cannot tell whether this file holds a project policy (`[tool.uvguard]`) "
                    "until it parses; fix it (uv only warns about it); the cache is untouched")) from None
            if candidate.name == "pyproject.toml" and not (isinstance(data.get("tool"), dict)
                                                           and "uvguard" in data["tool"]):
                continue
            found = _policy_file(candidate, "project", env, content, info, data)
            return [found._replace(trusted=trust.is_trusted(candidate, found.digest, env))], skipped  # type: ignore[arg-type]
        if (directory / "pyproject.toml").is_file():
            break  # uv's project discovery stops at the nearest pyproject.toml; so does the policy's walk
    return [], skipped


def _env_file(env: Mapping[str, str], cwd: str | os.PathLike, toml: TomlFiles) -> list[PolicyFile]:
    value = env.get(ENV_VAR, "")
    if not value:
        return []
    if "/" in value or value.endswith(".toml"):
        path = Path(_resolve(value, Path(cwd), env))
        if not path.is_file():
            raise PolicyError(f"{ENV_VAR}={value}: no such policy file (`{path}`)",
                              hint=f"set {ENV_VAR} to a policy file or to a preset: {', '.join(PRESETS)}")
        return [read_policy_file(path, "env", env, toml)]
    if value not in PRESETS:
        raise PolicyError(f"{ENV_VAR}={value}: unknown preset; expected one of {', '.join(PRESETS)}, "
                          "or a path to a policy file")
    return [read_preset(value, Source("env", preset=value))]


# Reading and validating one file.

def read_preset(name: str, source: Source) -> PolicyFile:
    if name not in PRESETS:
        raise PolicyError(f"unknown preset `{name}`; expected one of {', '.join(PRESETS)}")
    from uvguard import policies  # type: ignore[attr-defined]  # its directory, not importlib.resources: that import costs ~5 ms

    text = Path(policies.__file__).with_name(f"{name}.toml").read_text(encoding="utf-8")
    data = parse_flat_toml(text)  # what tomllib would read, without importing it
    if data is None:
        data = parse_toml(text, f"preset {name}", PolicyError)
    return validate(data, text, source, table="", env={})


def read_policy_file(path: Path, layer: str, env: Mapping[str, str], toml: TomlFiles | None = None) -> PolicyFile:
    """A file of layer `layer`, validated; `[tool.uvguard]` when it is a pyproject.toml."""
    toml = toml or TomlFiles()
    content, info = toml.read(path, PolicyError)  # one read, the file's own facts; a FIFO is refused
    return _policy_file(path, layer, env, content, info, toml.load(path, PolicyError))


def _policy_file(path: Path, layer: str, env: Mapping[str, str], content: bytes, info: os.stat_result,
                 data: dict) -> PolicyFile:
    text = content.decode("utf-8")
    source = Source(layer, file=str(path))
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("uvguard", {}) if isinstance(data.get("tool"), dict) else {}
        if not isinstance(table, dict):
            raise PolicyError(_where(source, key_line(text, "tool", "uvguard"))
                              + f"`tool.uvguard` must be a table, not {_type_name(table)}")
        checked = validate(table, text, source, table="tool.uvguard", env=env)
    else:
        checked = validate(data, text, source, table="", env=env)
    return checked._replace(owner=info.st_uid, mode=info.st_mode, digest=trust.digest(content))


def validate(data: dict, text: str, source: Source, table: str, env: Mapping[str, str]) -> PolicyFile:
    """Check every key and value of one layer; resolve its paths. Raises PolicyError."""
    values: dict[str, object] = {}
    lines: dict[str, int] = {}
    prefix = f"{table}." if table else ""
    for key, value in data.items():
        line = key_line(text, table, key)
        if key not in KEYS:
            raise PolicyError(f"{_where(source, line)}unknown key `{prefix}{key}`; expected one of {', '.join(KEYS)}")
        values[key] = _checked_value(key, value, f"{_where(source, line)}`{prefix}{key}`", source, env)
        if line is not None:
            lines[key] = line
    return PolicyFile(source=source, values=values, lines=lines)


def _checked_value(key: str, value: object, where: str, source: Source, env: Mapping[str, str]) -> object:
    base = Path(source.file).parent if source.file else None
    if key in ACTION_KEYS:
        return _check_choice(value, GC_ACTIONS if key == "gc" else ACTIONS, where, "an action")
    if key == "roots":
        return tuple(_resolve(path, base, env) for path in _check_strings(value, where, "paths or globs"))
    if key == "log":
        path = _check_string(value, where, 'a file path, or "" for none')
        return _resolve(path, base, env) if path else ""
    if source.layer != "system":  # key == "locked"
        raise PolicyError(f"{where} is honoured only in a system policy ({SYSTEM_POLICY_FILE} or "
                          f"$XDG_CONFIG_DIRS/uvguard/policy.toml), not in this {source.layer} policy; remove it")
    names = _check_strings(value, where, "keys")
    for name in names:
        if name not in LOCKABLE_KEYS:
            raise PolicyError(f"{where} lists `{name}`, which cannot be locked; "
                              f"expected keys from {', '.join(LOCKABLE_KEYS)}")
    return tuple(names)


def _where(source: Source, line: int | None) -> str:
    name = source.file or f"preset {source.preset}"
    return f"Invalid policy `{name}`: " + (f"line {line}: " if line else "")


def _type_name(value: object) -> str:
    return next(name for kind, name in _TOML_TYPES + ((object, "a date or time"),) if isinstance(value, kind))


def _check_choice(value: object, choices: tuple[str, ...], where: str, what: str) -> str:
    expected = f"expected one of {', '.join(choices)}"
    if not isinstance(value, str):
        raise PolicyError(f"{where} must be a string, not {_type_name(value)}; {expected}")
    if value not in choices:
        raise PolicyError(f"{where} = \"{value}\" is not {what}; {expected}")
    return value


def _check_string(value: object, where: str, expected: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"{where} must be a string, not {_type_name(value)}; expected {expected}")
    return value


def _check_strings(value: object, where: str, expected: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        wrong = value if not isinstance(value, list) else next(i for i in value if not isinstance(i, str))
        kind = _type_name(wrong) if not isinstance(value, list) else f"an array holding {_type_name(wrong)}"
        raise PolicyError(f"{where} must be an array of strings, not {kind}; expected {expected}")
    return value


def _resolve(path: str, base: Path | None, env: Mapping[str, str]) -> str:
    if path == "~" or path.startswith("~/"):
        path = paths.home(env) + path[1:]
    if base is not None and not os.path.isabs(path):
        path = os.path.join(base, path)
    return os.path.normpath(path)
