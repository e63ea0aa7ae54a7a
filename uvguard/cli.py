"""`uvguard`: explain, check and repair what the `uv` shim guards. A thin typer layer.

Each subcommand lives in `uvguard/commands/<name>.py` and exposes
`register(app)`; the functions doing the work live in the pipeline modules.
"""

from __future__ import annotations

import importlib

import typer

from uvguard import __version__
from uvguard.errors import run_guarded

COMMANDS = ("check", "explain", "doctor", "shell", "live", "roots", "policy", "prune", "gc")

app = typer.Typer(
    name="uvguard",
    help="Keep `uv cache prune` and `uv cache clean` from breaking environments that link into the cache.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no type tags, and rich stays unimported
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"uvguard {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Show uvguard's version and exit."),
) -> None:
    """Keep `uv cache prune` and `uv cache clean` from breaking environments that link into the cache."""


for _name in COMMANDS:
    importlib.import_module(f"uvguard.commands.{_name}").register(app)


def main() -> int:
    return run_guarded(app, standalone_mode=True) or 0
