"""`uvguard policy show | validate | init`: the layered policy, seen, checked and written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Mapping

import typer

from uvguard import globalopts, policy as policies
from uvguard.errors import UsageError, UvguardError, report
from uvguard.invocation import parse
from uvguard.jsonout import emit_json
from uvguard.tomlfile import load_toml
from uvguard.uvconfig import discovery_start, resolve_dirs

SCOPES = ("system", "user", "project")


def effective_policy(env: Mapping[str, str], cwd: str) -> policies.Policy:
    """The policy a cache command run here would get (the project walk starts where uv's does)."""
    _, project_dir = resolve_dirs(parse(globalopts.current().uv_args), env, cwd)
    return policies.load_policy(env, cwd, discovery_start(project_dir))


def policy_json(policy: policies.Policy) -> dict:
    return {
        "settings": {key: _setting_json(setting) for key, setting in policy.settings.items()},
        "roots": [{"path": path, **source.to_json()} for path, source in policy.roots],
        "log": policy.log,
        "files": [layer_file.source.to_json() for layer_file in policy.files],
    }


def _setting_json(setting: policies.Setting) -> dict:
    return {
        "value": setting.value,
        **setting.source.to_json(),
        "locked": setting.locked,
        "locked_by": setting.locked_by.to_json() if setting.locked_by else None,
        "ignored": [{"value": value, **source.to_json()} for value, source in setting.ignored],
    }


def render(policy: policies.Policy) -> str:
    lines = []
    for key, setting in policy.settings.items():
        text = f'{key} = "{setting.value}"'
        lines.append(f"{text:<26} from {setting.source.describe()}")
        if setting.locked_by:
            lines.append(f"{'':<26} locked by {setting.locked_by.describe()}")
        for value, source in setting.ignored:
            lines.append(f'{"":<26} ignored (locked): "{value}" from {source.describe()}')
    if "log" not in policy.settings:
        lines.append(f"{'log':<26} none")
    lines.append("roots:" if policy.roots else "roots: none")
    lines.extend(f"  {path}  (from {source.describe()})" for path, source in policy.roots)
    lines.append("files read, lowest layer first:")
    lines.extend(f"  {f.source.layer}: {f.source.file or f'preset {f.source.preset}'}" for f in policy.files)
    return "\n".join(lines)


def validate_file(path: Path, env: Mapping[str, str]) -> tuple[policies.PolicyFile, list[str]]:
    """Check `path` by the rules of the layer its name implies; `locked` is checked as for a system file."""
    if not path.is_file():
        raise UsageError(f"`{path}` is not a file")
    project = path.name in ("pyproject.toml", policies.PROJECT_FILE)
    if path.name == "pyproject.toml":
        tool = load_toml(path, policies.PolicyError).get("tool")
        if not isinstance(tool, dict) or "uvguard" not in tool:
            raise policies.PolicyError(f"`{path}` has no `[tool.uvguard]` table")
    checked = policies.read_policy_file(path, "project" if project else "system", env)
    notes = []
    if "locked" in checked.values:
        notes.append(f"`locked` takes effect only in a system policy ({policies.SYSTEM_POLICY_FILE} or "
                     "$XDG_CONFIG_DIRS/uvguard/policy.toml); anywhere else it is an error")
    return checked, notes


def target_path(scope: str, env: Mapping[str, str], cwd: str) -> Path:
    if scope == "system":
        return Path(policies.SYSTEM_POLICY_FILE)
    if scope == "user":
        return policies.user_policy_path(env)
    _, project_dir = resolve_dirs(parse(globalopts.current().uv_args), env, cwd)
    return project_dir / policies.PROJECT_FILE


def write_preset(path: Path, preset: str, force: bool) -> None:
    """Write preset `preset` to `path` with tomli-w; an existing file only with `force`."""
    import tomli_w

    if preset not in policies.PRESETS:
        raise UsageError(f"unknown preset `{preset}`; expected one of {', '.join(policies.PRESETS)}")
    if (path.exists() or path.is_symlink()) and not force:
        raise UsageError(f"`{path}` already exists", hint="pass --force to overwrite it")
    values = dict(policies.read_preset(preset, policies.Source("built-in", preset=preset)).values)
    header = (f"# uvguard policy, from preset `{preset}` (`uvguard policy init`).\n"
              "# Actions: allow | warn | limit | refuse. `uvguard policy show` prints the effective policy.\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(header + tomli_w.dumps(values), encoding="utf-8")
    os.replace(tmp, path)


def register(app: typer.Typer) -> None:
    policy_app = typer.Typer(help="Show, check and write uvguard policies.", no_args_is_help=True)
    app.add_typer(policy_app, name="policy")

    @policy_app.command()
    def show(json_output: bool = typer.Option(False, "--json", help="Print the policy as JSON.")) -> None:
        """Show the effective policy: each key's value and the file (and layer) it comes from."""
        def run() -> int:
            policy = effective_policy(dict(os.environ), os.getcwd())
            if json_output:
                emit_json("policy-show", policy_json(policy))
            else:
                typer.echo(render(policy))
            return 0
        raise typer.Exit(_guarded(run))

    @policy_app.command()
    def validate(files: List[Path] = typer.Argument(..., metavar="FILE",
                                                    help="Policy files: uvguard.toml, pyproject.toml, policy.toml.")) -> None:
        """Check policy files; exit 2 with the file, line, key and allowed values if any is invalid.

        Every file is checked, so one run (a pre-commit hook) reports them all.
        """
        raise typer.Exit(max(_guarded(lambda: _validate_one(file)) for file in files))

    @policy_app.command()
    def init(
        preset: str = typer.Option("default", "--preset", help=f"One of: {', '.join(policies.PRESETS)}."),
        system: bool = typer.Option(False, "--system", help=f"Write {policies.SYSTEM_POLICY_FILE}."),
        user: bool = typer.Option(False, "--user", help="Write the user policy (the default)."),
        project: bool = typer.Option(False, "--project", help="Write uvguard.toml in the project directory."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write a preset as a policy file to edit."""
        def run() -> int:
            chosen = [scope for scope, flag in zip(SCOPES, (system, user, project)) if flag]
            if len(chosen) > 1:
                raise UsageError("--system, --user and --project exclude each other")
            path = target_path(chosen[0] if chosen else "user", dict(os.environ), os.getcwd())
            write_preset(path, preset, force)
            typer.echo(f"Wrote preset `{preset}` to `{path}`")
            return 0
        raise typer.Exit(_guarded(run))


def _validate_one(file: Path) -> int:
    checked, notes = validate_file(file, dict(os.environ))
    keys = ", ".join(checked.values) or "no keys"
    typer.echo(f"`{file}` is a valid uvguard policy ({keys})")
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    return 0


def _guarded(function) -> int:
    try:
        return function()
    except UvguardError as error:
        return report(error)
    except OSError as error:
        return report(UsageError(str(error)))
