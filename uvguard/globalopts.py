"""uv's global options on every `uvguard` command, as one value the commands read.

`-q`, `-v`, `--color`, `--no-progress` go on every command; `--cache-dir`,
`--directory` and `--project` on the commands that read a cache or a project
(`uvguard.cli.LOCATION_COMMANDS`). Like uv's, they may stand before or after
the subcommand (`uvguard -q live`, `uvguard live -q`). They are uv's own
global options, so a command hands them to the uv command line it reads
(`parse(options.uv_args)`), and the config then names them as the source
(`--cache-dir`), exactly as uv would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from uvguard import messages, uvcli

try:  # typer vendors a trimmed click since 0.2x; older releases depend on click itself
    from typer._click import exceptions as click_errors, shell_completion
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover (cli and completion import these from here)
    from click import exceptions as click_errors, get_current_context, shell_completion  # type: ignore[no-redef]  # noqa: F401

META_KEY = "uvguard.global_options"


@dataclass(frozen=True)
class GlobalOptions:
    quiet: int = 0
    verbose: int = 0
    color: str | None = None
    no_progress: bool = False
    cache_dir: str | None = None
    directory: str | None = None
    project: str | None = None

    @property
    def uv_args(self) -> list[str]:
        """These options as uv's global options, for the uv command line a command reads.

        Each field is the uv global option of the same name (`uvguard.uvcli`),
        spelled as the table says it is taken: counted, with a value, or a flag.
        """
        args: list[str] = []
        for field in fields(self):
            option = uvcli.GLOBAL_BY_NAME[field.name.replace("_", "-")]
            value = getattr(self, field.name)
            if option.counted:
                args += [f"-{option.short}"] * value
            elif option.takes_value and value is not None:
                args.append(f"--{option.name}={value}")
            elif not option.takes_value and value:
                args.append(f"--{option.name}")
        return args

    def voice(self, env: Mapping[str, str]) -> messages.Voice:
        return messages.Voice.detect(color_flag=self.color, quiet=self.quiet, env=env, no_progress=self.no_progress)

    def merged(self, name: str, value: Any) -> GlobalOptions:
        """With one more option seen (a later level adds counts and overrides values)."""
        if uvcli.GLOBAL_BY_NAME[name.replace("_", "-")].counted:
            return replace(self, **{name: getattr(self, name) + value})
        if value is None or value is False:
            return self
        return replace(self, **{name: value})


def current() -> GlobalOptions:
    """The global options of the running `uvguard` command (defaults outside one)."""
    ctx = get_current_context(silent=True)
    return ctx.meta.get(META_KEY, GlobalOptions()) if ctx is not None else GlobalOptions()
