"""`uvguard`: explain, check and repair what the `uv` shim guards. A thin typer layer.

Each subcommand lives in `uvguard/commands/<name>.py` and exposes
`register(app)`; the functions doing the work live in the pipeline modules.
uv's conventions are applied here, once, to every command in the tree
(`adopt`), so a command written with plain typer gets them all:

- `-h`/`--help`, help in uv's layout without typer's type tags;
- uv's global options (`uvguard.globalopts`): `-q`, `-v`, `--color`,
  `--no-progress` everywhere, `--cache-dir`, `--directory`, `--project` on
  the commands in `LOCATION_COMMANDS`; before or after the subcommand;
- usage errors as uv prints them (`error: ...`, `hint: ...`), exit 2;
- for the commands that take a uv command line (`UV_LINE_COMMANDS`), the
  rule of where that line starts (`split_uv_line`).
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
import types
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, Optional

import typer

from uvguard import __version__, messages
from uvguard.errors import EXIT_USAGE, UsageError, report, run_guarded
from uvguard.globalopts import META_KEY, GlobalOptions, click_errors, get_current_context
from uvguard.uvcli import GLOBAL_BY_LONG, GLOBAL_BY_SHORT

if TYPE_CHECKING:  # typer's own click, the one the commands are built on
    from typer._click import Command, Context, HelpFormatter, Parameter

COMMANDS = ("check", "explain", "doctor", "shell", "live", "roots", "policy", "prune", "gc", "completion", "setup")

# Commands that read a cache or a project, and so take --cache-dir, --directory and --project
# (and the groups above them: `uvguard --cache-dir DIR live`, as uv takes them before a subcommand).
LOCATION_COMMANDS = {"", "roots", "policy", "check", "explain", "live", "doctor", "repair", "materialize", "prune",
                     "clean", "gc", "policy show", "policy init"}
# Commands whose arguments end with a uv command line.
UV_LINE_COMMANDS = {"check", "explain"}

app = typer.Typer(
    name="uvguard",
    help="Keep `uv cache prune` and `uv cache clean` from breaking environments that link into the cache.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, and rich stays unimported
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"uvguard {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Display uvguard's version."),
) -> None:
    """Keep `uv cache prune` and `uv cache clean` from breaking environments that link into the cache."""


for _name in COMMANDS:
    importlib.import_module(f"uvguard.commands.{_name}").register(app)
completion = importlib.import_module("uvguard.commands.completion")


# The global options: declared with typer (so they are whatever parameter class this typer
# builds), then added to every command by `adopt`.

class ColorChoice(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


_globals = typer.Typer(add_completion=False)


@_globals.command()
def _options(
    quiet: int = typer.Option(0, "-q", "--quiet", count=True, help="Use quiet output (no warnings, no progress)."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="Use verbose output."),
    color: Optional[ColorChoice] = typer.Option(None, "--color", metavar="COLOR_CHOICE", show_choices=False,
                                                help="Control the use of color in output "
                                                     "[possible values: auto, always, never]."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide all progress outputs [env: UV_NO_PROGRESS=]."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", metavar="CACHE_DIR",
                                            help="Path to the cache directory [env: UV_CACHE_DIR=]."),
    directory: Optional[str] = typer.Option(None, "--directory", metavar="DIRECTORY",
                                            help="Change to the given directory before running the command."),
    project: Optional[str] = typer.Option(None, "--project", metavar="PROJECT",
                                          help="Discover a project in the given directory."),
) -> None:
    """Never run: its parameters are the global options."""


_LOCATION_OPTIONS = {"cache_dir", "directory", "project"}


def _global_params(locations: bool) -> list:
    params = [p for p in typer.main.get_command(_globals).params if locations or p.name not in _LOCATION_OPTIONS]
    for param in params:
        param.expose_value = False
        param.callback = _remember
        param.uvguard_global = True  # type: ignore[attr-defined]
    return params


def _remember(ctx, param, value):
    """Fold one global option into the run's GlobalOptions (shared by every level through ctx.meta)."""
    options = ctx.meta.get(META_KEY, GlobalOptions())
    ctx.meta[META_KEY] = options.merged(param.name, value.value if isinstance(value, Enum) else value)
    return value


def _apply(ctx: Context) -> None:
    """Check the options as uv would, and speak as they say from here on."""
    options: GlobalOptions = ctx.meta.get(META_KEY, GlobalOptions())
    if options.quiet and options.verbose:
        raise UsageError("the argument '--quiet' cannot be used with '--verbose'")
    from uvguard.uvinputs import boolish_env

    boolish_env(os.environ, "UV_NO_PROGRESS")  # an invalid value is an error, as in uv
    messages.use_voice(options.voice(os.environ))


# Adopting every command of the tree.

def adopt(command: Command, path: str = "") -> None:
    """Give `command` (and every subcommand) uv's conventions; see the module docstring."""
    own = {opt for param in command.params for opt in getattr(param, "opts", ())}
    command.params.extend(p for p in _global_params(path in LOCATION_COMMANDS) if not own & set(p.opts))
    if command.callback is not None:
        command.callback = _applying(command.callback)
    command.format_help = types.MethodType(format_help, command)  # type: ignore[method-assign]
    if path in UV_LINE_COMMANDS:
        command.parse_args = types.MethodType(_uv_line_parser(command.parse_args), command)  # type: ignore[method-assign]
    for name, sub in getattr(command, "commands", {}).items():
        adopt(sub, f"{path} {name}".strip())


def _applying(callback: Callable) -> Callable:
    def run(*args, **kwargs):
        _apply(get_current_context())
        return callback(*args, **kwargs)
    return run


# Where the uv command line starts (`uvguard check`, `uvguard explain`).

def split_uv_line(args: list[str], own: dict[str, bool]) -> tuple[list[str], list[str], bool]:
    """(uvguard's arguments, the uv command line, whether `--` started it).

    The uv command line starts after `--`, or else at the first argument that
    is not one of uvguard's options (`own`: option -> takes a value): a uv
    global option (`--no-cache`) or a subcommand word (`cache`). Any other
    option there is a mistake (`--jsn`), never quietly handed to uv.
    """
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            return args[:i], args[i + 1:], True
        if name in own:
            i += 2 if own[name] and "=" not in arg else 1
        elif re.fullmatch(r"-[a-zA-Z]+", arg) and all(f"-{c}" in own and not own[f"-{c}"] for c in arg[1:]):
            i += 1  # clustered short flags: -qq
        elif arg.startswith("-") and arg != "-" and not _uv_global(arg):
            raise click_errors.NoSuchOption(name, possibilities=difflib.get_close_matches(name, own, n=1))
        else:
            return args[:i], args[i:], False
    return args, [], False


def _uv_global(arg: str) -> bool:
    if arg.startswith("--"):
        return arg[2:].split("=", 1)[0] in GLOBAL_BY_LONG
    return all(c in GLOBAL_BY_SHORT for c in arg[1:])


def _uv_line_parser(parse_args: Callable) -> Callable:
    def parse_uv_line(self, ctx, args):
        mine, uv_line = _split_for(self, ctx, args)
        return parse_args(ctx, [*mine, "--", *uv_line])
    return parse_uv_line


def _split_for(adopted: Command, ctx: Context, args: list[str]) -> tuple[list[str], list[str]]:
    """`split_uv_line` with the options of `adopted`, refusing one of them inside the uv line (unless after `--`)."""
    own = {opt: not (param.is_flag or param.count) for param in adopted.params  # type: ignore[attr-defined]
           if param.param_type_name == "option" for opt in param.opts}
    own.update({opt: False for opt in ctx.help_option_names})
    try:
        mine, uv_line, explicit = split_uv_line(list(args), own)
    except click_errors.NoSuchOption as error:
        error.ctx = ctx
        raise
    if not explicit:
        misplaced = [arg for arg in uv_line[:uv_line.index("--") if "--" in uv_line else None]
                     if arg.split("=", 1)[0] in own and not _uv_global(arg)]
        if misplaced:
            rest = [arg for arg in uv_line if arg not in misplaced]
            command = " ".join(["uvguard", ctx.command_path.split()[-1], *misplaced, *rest[:3]])
            raise UsageError(f"`{misplaced[0]}` is an option of `{ctx.command_path}`, but it stands in the uv "
                             f"command line, which starts at `{uv_line[0]}`",
                             hint=f"put uvguard's options first (`{command} ...`), or start the uv command "
                                  "line with `--` to pass it to uv")
    return mine, uv_line


# Help, in uv's layout.

def format_help(self: Command, ctx: Context, formatter: HelpFormatter) -> None:
    if self.help:
        formatter.write_text(self.help.split("\f")[0])
        formatter.write_paragraph()
    formatter.write(f"Usage: {ctx.command_path} {' '.join(_usage_pieces(self))}\n")
    commands = getattr(self, "commands", None)
    if commands:
        with formatter.section("Commands"):
            formatter.write_dl([(name, _first_sentence(commands[name].help)) for name in sorted(commands)
                                if not commands[name].hidden])
    # typer's arguments carry help (click's do not), and only options are hidden
    arguments = [(_argument_name(p), p.help or "") for p in self.params if p.param_type_name == "argument"]  # type: ignore[attr-defined]
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    options: list[Any] = [p for p in self.get_params(ctx) if p.param_type_name == "option" and not p.hidden]  # type: ignore[attr-defined]
    for title, group in (("Options", [p for p in options if not _is_global(p, ctx)]),
                         ("Global options", [p for p in options if _is_global(p, ctx)])):
        if group:
            with formatter.section(title):
                formatter.write_dl([(_option_name(p), _HELP if set(p.opts) & {"-h", "--help"} else p.help or "")
                                    for p in group])


_HELP = "Display the concise help for this command."


def _first_sentence(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0].split(". ")[0].rstrip(".").replace("\n", " ")


def _is_global(param: Parameter, ctx: Context) -> bool:
    return bool(getattr(param, "uvguard_global", False) or set(param.opts) & set(ctx.help_option_names)
                or "--version" in param.opts)


def _usage_pieces(command: Command) -> list[str]:
    pieces = ["[OPTIONS]"]
    pieces += [_argument_name(p) for p in command.params if p.param_type_name == "argument"]
    if getattr(command, "commands", None):
        pieces.append("<COMMAND>" if not getattr(command, "invoke_without_command", False) else "[COMMAND]")
    return pieces


def _argument_name(param: Parameter) -> str:
    name = (param.metavar or param.name.upper()).removesuffix("...")
    if not name.startswith(("[", "<")):
        name = f"<{name}>" if param.required else f"[{name}]"
    return name + ("..." if param.nargs == -1 and not name.endswith("...") else "")


def _option_name(param: Parameter) -> str:
    names = ", ".join(sorted(param.opts, key=len))
    if param.is_flag or param.count:  # type: ignore[attr-defined]  # an option's
        return names
    return f"{names} <{param.metavar or param.name.upper()}>"


# Usage errors, in uv's voice.

def usage_error(error: click_errors.UsageError) -> UsageError:
    """click's usage error as uv words it, with a hint on how to go on."""
    ctx = error.ctx
    more = f"for more information, try `{ctx.command_path} --help`" if ctx is not None else None
    if isinstance(error, click_errors.NoSuchOption):
        similar = [p for p in error.possibilities or () if p.startswith("-")]
        hint = f"a similar argument exists: `{similar[0]}`" if similar else more
        return UsageError(f"unexpected argument '{error.option_name}' found", hint=hint)
    if isinstance(error, click_errors.MissingParameter) and error.param is not None:
        name = _argument_name(error.param) if error.param.param_type_name == "argument" else error.param.opts[0]
        return UsageError(f"the following required arguments were not provided: {name}", hint=more)
    if isinstance(error, click_errors.BadParameter) and error.param is not None:
        name = _option_name(error.param) if error.param.param_type_name == "option" else _argument_name(error.param)
        return UsageError(f"invalid value for '{name}': {error.message.removeprefix('Value error, ')}", hint=more)
    message = error.message
    found = re.match(r"No such command '(.*)'", message)
    if found:
        return UsageError(f"unrecognized subcommand '{found.group(1)}'", hint=more)
    found = re.match(r"Got unexpected extra argument.*? \((.*)\)", message)
    if found:
        return UsageError(f"unexpected argument '{found.group(1).split()[0]}' found", hint=more)
    found = re.match(r"Option '(.*)' requires an argument", message)
    if found:
        return UsageError(f"a value is required for '{found.group(1)}' but none was supplied", hint=more)
    return UsageError(message[:1].lower() + message[1:].rstrip("."), hint=more)


command = typer.main.get_command(app)
adopt(command)


_NO_ARGS_IS_HELP = getattr(click_errors, "NoArgsIsHelpError", ())


def main(argv: list[str] | None = None) -> int:
    messages.use_voice(None)
    return run_guarded(_run, argv) or 0


def _run(argv: list[str] | None) -> int:
    if completion.COMPLETE_VAR in os.environ:  # a shell asking for completions
        completion.register_shells()
    try:
        return command.main(args=argv, prog_name="uvguard", complete_var=completion.COMPLETE_VAR,
                            standalone_mode=False) or 0
    except _NO_ARGS_IS_HELP as error:  # `uvguard`, `uvguard policy`: the help, on stderr, exit 2 (as uv)
        sys.stderr.write(error.message + "\n")
        return EXIT_USAGE
    except click_errors.UsageError as error:
        return report(usage_error(error))
    except click_errors.ClickException as error:
        return report(UsageError(error.format_message()))
