"""`uvguard generate-shell-completion SHELL`: the completion script, named as uv names its own."""

from __future__ import annotations

import typer

from uvguard.errors import UsageError

SHELLS = ("bash", "zsh", "fish", "powershell")
COMPLETE_VAR = "_UVGUARD_COMPLETE"  # what the script sets when it asks `uvguard` for completions


def register_shells() -> None:
    """typer's completion classes, for the script here and for the shell asking (COMPLETE_VAR set)."""
    from typer._completion_classes import completion_init

    completion_init()


def completion_script(shell: str) -> str:
    """The script for `shell`; completions come from the running uvguard, so they follow its commands."""
    from uvguard.cli import command
    from uvguard.globalopts import shell_completion

    if shell not in SHELLS:
        raise UsageError(f"invalid value '{shell}' for '<SHELL>'", hint=f"possible values: {', '.join(SHELLS)}")
    register_shells()
    complete = shell_completion.get_completion_class(shell)
    assert complete is not None  # registered above
    return complete(command, {}, "uvguard", COMPLETE_VAR).source()


def register(app: typer.Typer) -> None:
    @app.command("generate-shell-completion")
    def generate_shell_completion(
        shell: str = typer.Argument(..., metavar="SHELL", help=f"The shell: {', '.join(SHELLS)}.",
                                    autocompletion=lambda: list(SHELLS)),
    ) -> None:
        """Generate shell completion (`eval "$(uvguard generate-shell-completion bash)"`)."""
        typer.echo(completion_script(shell))
