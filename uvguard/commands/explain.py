"""`uvguard explain`: the effective uv config for a command line, every value with its source.

For a line naming a cache operation the real uv is asked too (`uvrefusal`):
where it refuses the line, explain prints uv's own error and exits with uv's
code, as the shim does, rather than a configuration uv would never use.
Other lines are not run; their refusals are the ones `uvconfig` models.
"""

from __future__ import annotations

import os

import typer

from uvguard import globalopts, messages
from uvguard.commands.check import UV_LINE_HELP
from uvguard.jsonout import emit_json
from uvguard.pipeline import command_pipeline
from uvguard.uvconfig import EffectiveConfig
from uvguard.uvrefusal import refusal


def register(app: typer.Typer) -> None:
    @app.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
    def explain(
        as_json: bool = typer.Option(False, "--json", help="Print the config as JSON."),
        uv_args: list[str] = typer.Argument(None, metavar="UV-ARGS", help=f"{UV_LINE_HELP} Default: `cache prune`."),
    ) -> None:
        """Show the cache dir and link modes uv would use for a command line, and where each comes from.

        As for `uvguard check`, the uv command line starts at the first argument
        that is not one of uvguard's options, or after `--`.
        """
        env = dict(os.environ)
        uv_line = [*globalopts.current().uv_args, *(uv_args or ["cache", "prune"])]
        raise typer.Exit(_explain(uv_line, env, os.getcwd(), as_json))


def _explain(uv_args: list[str], env: dict, cwd: str, as_json: bool) -> int:
    pipeline = command_pipeline(uv_args, env, cwd)  # without a real uv: the newest measured behaviour
    real_uv = pipeline.real_uv
    if real_uv is not None and pipeline.invocation.names_cache_operation:
        refused = refusal(pipeline.invocation, real_uv, env, cwd)
        if refused is not None:
            raise refused
    config = pipeline.config
    for warning in config.warnings:
        messages.warning(warning, pipeline.voice)
    if as_json:
        emit_json("explain", as_dict(config, real_uv))
    else:
        typer.echo(render(config, real_uv))
    return 0


def as_dict(config: EffectiveConfig, real_uv: str | None = None) -> dict:
    return {
        "cache_dir": str(config.cache_dir),
        "cache_dir_source": config.cache_dir_source.describe(),
        "no_cache": config.no_cache,
        "no_cache_source": config.no_cache_source.describe(),
        "link_mode": config.link_mode,
        "link_mode_source": config.link_mode_source.describe(),
        "pip_link_mode": config.pip_link_mode,
        "pip_link_mode_source": config.pip_link_mode_source.describe(),
        "config_sources": config.sources_json(),
        "symlink_active": config.symlink_active,
        "working_dir": str(config.working_dir),
        "project_dir": str(config.project_dir),
        "config_discovery": config.discovery,
        "config_files": [{"path": f.path, "scope": f.scope, "used": f.used, "note": f.note}
                         for f in config.config_files],
        "warnings": list(config.warnings),
        "uv_version": ".".join(map(str, config.uv_version)) if config.uv_version else None,
        "real_uv": real_uv,
    }


def render(config: EffectiveConfig, real_uv: str | None = None) -> str:
    release = ".".join(map(str, config.uv_version)) if config.uv_version else None
    lines = [f"uv: {real_uv} ({release})" if release else
             f"uv: {real_uv or 'not found'} (release unknown: resolved as the newest measured release)"]
    if config.no_cache:
        cache = ("cache dir", "temporary: a fresh directory per command, the persistent one untouched",
                 f"{config.no_cache_source.describe()}; otherwise {config.cache_dir}, "
                 f"from {config.cache_dir_source.describe()}")
    else:
        cache = ("cache dir", str(config.cache_dir), config.cache_dir_source.describe())
    rows = [
        cache,
        ("no cache", "yes" if config.no_cache else "no", config.no_cache_source.describe()),
        ("link mode", f"{config.link_mode}  (uv sync, run, add...)", config.link_mode_source.describe()),
        ("pip link mode", f"{config.pip_link_mode}  (uv pip, uv venv)", config.pip_link_mode_source.describe()),
        ("symlink mode", "active" if config.symlink_active else "not active", ""),
        ("working dir", str(config.working_dir), ""),
        ("project dir", str(config.project_dir), ""),
    ]
    for name, value, source in rows:
        lines.append(f"{name + ':':<15}{value}" + (f"\n{'':<15}from {source}" if source else ""))
    lines.append(f"config files:  {config.discovery}" + (", highest precedence first:" if config.config_files else ""))
    for file in config.config_files:
        state = "used" if file.used else "not used"
        lines.append(f"  {file.scope:<12}{file.path}  [{state}{': ' + file.note if file.note else ''}]")
    return "\n".join(lines)
