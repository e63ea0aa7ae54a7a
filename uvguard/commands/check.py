"""`uvguard check`: what the shim would decide for a uv command line, without acting."""

from __future__ import annotations

import json
from typing import List

import typer

from uvguard.invocation import parse


def register(app: typer.Typer) -> None:
    @app.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
    def check(
        uv_args: List[str] = typer.Argument(None, metavar="UV-ARGS...", help="A uv command line, without `uv`."),
        as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
    ) -> None:
        """Show the decision for a uv command line, without running it."""
        invocation = parse(uv_args or [])
        result = {"operation": invocation.operation}
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            typer.echo(f"operation: {invocation.operation}")
