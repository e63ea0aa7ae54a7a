"""`uvguard policy show | validate | init | trust | untrust`: the layered policy, seen, checked,
written, and the project files the user trusts to loosen it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import typer

from uvguard import globalopts, policy as policies, trust as trust_store
from uvguard.errors import UsageError, UvguardError, report
from uvguard.jsonout import emit_json
from uvguard.pipeline import location_pipeline
from uvguard.tomlfile import load_toml

SCOPES = ("system", "user", "project")


def effective_policy(env: Mapping[str, str], cwd: str) -> policies.Policy:
    """The policy a cache command run here would get: the shim's own pipeline's (the project walk
    starts where uv's config walk does, at the workspace root)."""
    return location_pipeline(globalopts.current().uv_args, env, cwd).policy


def policy_json(policy: policies.Policy, env: Mapping[str, str]) -> dict:
    return {
        "settings": {key: _setting_json(setting) for key, setting in policy.settings.items()},
        "roots": [{"path": path, **source.to_json()} for path, source in policy.roots],
        "log": policy.log,
        "files": [{**layer_file.source.to_json(), "trusted": layer_file.trusted} for layer_file in policy.files],
        "ignored": [item.to_json() for item in policy.ignored],
        "trusted_files": [{"path": path, "state": state} for path, state in trust_store.states(env)],
    }


def _setting_json(setting: policies.Setting) -> dict:
    return {
        "value": setting.value,
        **setting.source.to_json(),
        "locked": setting.locked,
        "locked_by": setting.locked_by.to_json() if setting.locked_by else None,
        "ignored": [{"value": value, **source.to_json()} for value, source in setting.ignored],
    }


def render(policy: policies.Policy, env: Mapping[str, str]) -> str:
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
    lines.extend(f"  {f.source.layer}: {f.source.file or f'preset {f.source.preset}'}{_trust_note(f)}"
                 for f in policy.files)
    if policy.ignored:
        lines.append("ignored:")
    lines.extend(f"  {item.describe()}" for item in policy.ignored)
    states = trust_store.states(env)
    lines.append("trusted project files (`uvguard policy untrust PATH` forgets one):" if states
                 else "trusted project files: none")
    lines.extend(f"  {path}{_STATE_NOTES[state]}" for path, state in states)
    return "\n".join(lines)


_STATE_NOTES = {"trusted": "", "changed": "  (changed since: it can only tighten until trusted again)",
                "gone": "  (gone)"}


def _trust_note(layer_file: policies.PolicyFile) -> str:
    if layer_file.source.layer != "project":
        return ""
    if layer_file.trusted:
        return " (trusted)"
    return f" (not trusted: it can only tighten; `{policies.trust_command(layer_file.source.file)}` trusts it)"


def project_file(path: Path | None, env: Mapping[str, str], cwd: str) -> Path:
    """The project policy file `policy trust`/`untrust` act on: `path`, or the one found from that
    directory (default: the cwd) as a guarded command run there would find it."""
    where = os.path.abspath(os.path.join(cwd, path or "."))
    if not os.path.isdir(where):
        return Path(where)
    found = [f for f in effective_policy(env, where).files if f.source.layer == "project"]
    if not found:
        raise UsageError(f"no project policy found from `{where}` (`{policies.PROJECT_FILE}`, or `[tool.uvguard]` "
                         "in `pyproject.toml`, up to the project's own directory)", hint="name the file: "
                         "`uvguard policy trust PATH`")
    return Path(found[0].source.file)  # type: ignore[arg-type]  # a project layer is a file


def trust_file(path: Path, env: Mapping[str, str], uid: int) -> str:
    """Check `path` as a project policy and trust its present content; returns its real path."""
    if path.name not in ("pyproject.toml", policies.PROJECT_FILE):
        raise UsageError(f"`{path}` is not a project policy file; expected `{policies.PROJECT_FILE}` or "
                         "`pyproject.toml` (system, user and UVGUARD_POLICY files need no trust)")
    checked, _ = validate_file(path, env)
    if checked.owner not in (uid, 0):
        raise UsageError(f"`{path}` is owned by uid {checked.owner}, neither you (uid {uid}) nor root; "
                         "uvguard ignores such a file, trusted or not",
                         hint="copy it into a file of your own, read it, then trust that")
    return trust_store.trust(path, checked.digest, env)  # type: ignore[arg-type]  # a file read has one


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
                     "$XDG_CONFIG_DIRS/uvguard/policy.toml) owned by root and writable by nobody else; "
                     "in any other layer it is an error")
    return checked, notes


def target_path(scope: str, env: Mapping[str, str], cwd: str) -> Path:
    if scope == "system":
        return Path(policies.SYSTEM_POLICY_FILE)
    if scope == "user":
        return policies.user_policy_path(env)
    return location_pipeline(globalopts.current().uv_args, env, cwd).location.project_dir / policies.PROJECT_FILE


def write_preset(path: Path, preset: str, force: bool) -> bytes:
    """Write preset `preset` to `path` with tomli-w (an existing file only with `force`); returns the content."""
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
    return path.read_bytes()


def register(app: typer.Typer) -> None:
    policy_app = typer.Typer(help="Show, check and write uvguard policies.", no_args_is_help=True)
    app.add_typer(policy_app, name="policy")

    @policy_app.command()
    def show(json_output: bool = typer.Option(False, "--json", help="Print the policy as JSON.")) -> None:
        """Show the effective policy: each key's value and the file (and layer) it comes from."""
        def run() -> int:
            env = dict(os.environ)
            policy = effective_policy(env, os.getcwd())
            if json_output:
                emit_json("policy-show", policy_json(policy, env))
            else:
                typer.echo(render(policy, env))
            return 0
        raise typer.Exit(run())

    @policy_app.command()
    def validate(files: list[Path] = typer.Argument(
            ..., metavar="FILE", help="Policy files: uvguard.toml, pyproject.toml, policy.toml.")) -> None:
        """Check policy files; exit 2 with the file, line, key and allowed values if any is invalid.

        Every file is checked, so one run (a pre-commit hook) reports them all.
        """
        raise typer.Exit(max(_validate_one(file) for file in files))

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
            env = dict(os.environ)
            path = target_path(chosen[0] if chosen else "user", env, os.getcwd())
            content = write_preset(path, preset, force)
            typer.echo(f"Wrote preset `{preset}` to `{path}`")
            if project:  # the user's own choice, made here: trusted as written
                trust_store.trust(path, trust_store.digest(content), env)
                typer.echo(f"Trusted `{path}` as written (it changes: `uvguard policy trust` again)")
            return 0
        raise typer.Exit(run())

    @policy_app.command()
    def trust(path: Path = typer.Argument(None, metavar="PATH", show_default=False,
                                           help="A project policy file, or a directory to find it from "
                                           "(default: here).")) -> None:
        """Trust a project policy as it is now: it may then loosen the policy and set `log`."""
        def run() -> int:
            env, cwd = dict(os.environ), os.getcwd()
            real = trust_file(project_file(path, env, cwd), env, os.geteuid())
            typer.echo(f"Trusted `{real}`: every key in it now applies, until the file changes")
            return 0
        raise typer.Exit(run())

    @policy_app.command()
    def untrust(path: Path = typer.Argument(None, metavar="PATH", show_default=False,
                                             help="A project policy file, or a directory to find it from "
                                             "(default: here).")) -> None:
        """Withdraw trust from a project policy: it can then only tighten the policy again."""
        def run() -> int:
            env, cwd = dict(os.environ), os.getcwd()
            real, was = trust_store.untrust(project_file(path, env, cwd), env)
            typer.echo(f"`{real}` is no longer trusted" if was else f"`{real}` was not trusted")
            return 0
        raise typer.Exit(run())


def _validate_one(file: Path) -> int:
    """Check one file; a bad one is reported here, so the next is checked too."""
    try:
        checked, notes = validate_file(file, dict(os.environ))
    except (UvguardError, OSError) as error:
        return report(error)
    keys = ", ".join(checked.values) or "no keys"
    typer.echo(f"`{file}` is a valid uvguard policy ({keys})")
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    return 0

