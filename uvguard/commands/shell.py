"""`uvguard shell-init`: the shell code that makes `uv` run the shim, printed or installed."""

from __future__ import annotations

import os
from typing import Optional

import typer

from uvguard import shellinit
from uvguard.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command("shell-init")
    def shell_init(
        shell: Optional[str] = typer.Argument(
            None, metavar="[bash|zsh|fish|powershell]",
            help="The shell to initialise; detected from the running shell, then $SHELL, when left out."),
        install: bool = typer.Option(
            False, "--install", help="Append the code to the shell's rc file (once) instead of printing it."),
    ) -> None:
        """Print the code that makes `uv` resolve to the uvguard shim in an interactive shell."""
        env = os.environ
        if shell is None:
            shell = shellinit.detect_shell(env)
        elif shellinit.normalize(shell) is None or "/" in shell:
            raise UsageError(f"unsupported shell '{shell}'", hint="use one of: bash, zsh, fish, powershell")
        shell = shellinit.normalize(shell)
        code = shellinit.render(shell, shellinit.installed_shim_dir(env))  # type: ignore[arg-type]  # checked above
        if not install:
            typer.echo(code, nl=False)
            return
        path, added = shellinit.install(shell, code, env)  # type: ignore[arg-type]
        if added:
            typer.echo(f"Added uvguard's shell-init for {shell} to {path}; open a new shell to use it.", err=True)
        else:
            typer.echo(f"{path} already has uvguard's shell-init; nothing to do.", err=True)
