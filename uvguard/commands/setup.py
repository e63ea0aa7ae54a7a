"""`uvguard setup`: put the `uv` shim, `uvx` and the shell integration in place from an installed uvguard."""

from __future__ import annotations

import os
from typing import Optional

import typer

from uvguard import setup as installer
from uvguard.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command()
    def setup(
        prefix: Optional[str] = typer.Option(
            None, "--prefix", metavar="DIR",
            help="Install into DIR (commands in DIR/bin) and change nothing outside it unless asked "
                 "(--takeover, --policy). Default: ${XDG_DATA_HOME:-~/.local/share}/uvguard, with links in "
                 "${XDG_BIN_HOME:-~/.local/bin} and a line in your shell rc files."),
        takeover: Optional[str] = typer.Option(
            None, "--takeover", metavar="PATH",
            help="Move the real uv at PATH aside (to PATH.uvguard-real) and put the shim there, so callers "
                 "of that path (Docker RUN lines, CI actions) are guarded."),
        policy: Optional[str] = typer.Option(
            None, "--policy", metavar="PRESET",
            help="Write a policy file from a preset (default, strict, ci, permissive); an existing one is kept."),
        system: bool = typer.Option(False, "--system", help="With --policy: write /etc/uvguard/policy.toml."),
        no_modify_path: bool = typer.Option(
            False, "--no-modify-path", help="Do not add the env file to ~/.profile, ~/.bashrc, ~/.zshrc, fish."),
        uninstall: bool = typer.Option(
            False, "--uninstall", help="Remove what setup added (same --prefix); restore a taken-over uv."),
    ) -> None:
        """Install the `uv` shim, a `uvx` beside it and the shell integration. Idempotent.

        For a uvguard installed with `uv tool install`, `pipx install` or `pip install`; install.sh runs it too.
        """
        env, cwd = dict(os.environ), os.getcwd()
        if system and not policy:
            raise UsageError("--system goes with --policy PRESET")
        if uninstall:
            if takeover or policy or no_modify_path:
                raise UsageError("--uninstall takes no other option than --prefix")
            installer.uninstall(prefix, env, cwd)
            return
        options = installer.SetupOptions(prefix=prefix, takeover=takeover, policy=policy, system_policy=system,
                                         modify_path=not no_modify_path)
        installer.install(options, env, cwd, installer.Uvguard.running())
