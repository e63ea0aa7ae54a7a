"""Shell code that makes `uv` resolve to the uvguard shim, and where it goes.

A PATH prepend, not an alias: it also reaches scripts and `uv run` children
started from the shell, and the shim's directory holds nothing but `uv` and
`uvx` and `uvguard`, so nothing else is shadowed. `uvguard shell-init` prints
the code and, with `--install`, appends it once to the shell's rc file;
`uvguard setup` writes the same code into the env files its rc lines source. Never imported
on the passthrough path (shellingham is loaded lazily, here only).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from uvguard import paths
from uvguard.errors import FileSystemFailure, UsageError, os_failure
from uvguard.installation import candidate_prefixes, make_dirs
from uvguard.realuv import is_shim

SHELLS = ("bash", "zsh", "fish", "powershell")
BLOCK_BEGIN = "# >>> uvguard shell-init >>>"
BLOCK_END = "# <<< uvguard shell-init <<<"
_ALIASES = {"pwsh": "powershell"}


def installed_shim_dir(env: Mapping[str, str], sys_prefix: str | os.PathLike = sys.prefix,
                       command: str = sys.argv[0]) -> Path:
    """The bin dir holding the shim of the installation this uvguard runs for (see
    `installation.candidate_prefixes`)."""
    candidates = [prefix / "bin" for prefix in candidate_prefixes(env, sys_prefix, command)]
    for directory in candidates:
        if is_shim(str(directory / "uv")):
            return directory
    raise UsageError(
        f"no uvguard shim found (looked for {' and '.join(str(d / 'uv') for d in candidates)})",
        hint="run `uvguard setup` (with --prefix DIR, put DIR/bin first on PATH yourself)",
    )


def render(shell: str, directory: Path) -> str:
    """The code, for `shell`, that puts `directory` first on PATH unless it already is."""
    header = f"# uvguard: make `uv` run the uvguard shim (from `uvguard shell-init {shell}`)\n"
    path = str(directory)
    if shell == "fish":
        quoted = _fish_quote(path)
        return header + f"if test \"$PATH[1]\" != {quoted}\n    set -gx PATH {quoted} $PATH\nend\n"
    if shell == "powershell":
        quoted = "'" + path.replace("'", "''") + "'"
        return header + (
            f"if (($env:PATH -split [IO.Path]::PathSeparator)[0] -ne {quoted}) {{\n"
            f"    $env:PATH = {quoted} + [IO.Path]::PathSeparator + $env:PATH\n}}\n"
        )
    quoted = "'" + path.replace("'", "'\\''") + "'"
    return header + (
        f'case ":${{PATH-}}:" in\n'
        f"  :{quoted}:*) ;;\n"
        f'  *) PATH={quoted}"${{PATH:+:$PATH}}"; export PATH ;;\n'
        "esac\n"
    )


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def normalize(name: str) -> str | None:
    """A supported shell name for a process or file name (`-bash`, `/bin/zsh`, `pwsh.exe`), else None."""
    base = os.path.basename(name).lstrip("-").lower()
    base = base[:-4] if base.endswith(".exe") else base
    base = _ALIASES.get(base, base)
    return base if base in SHELLS else None


def _shellingham_name() -> str:
    import shellingham

    return shellingham.detect_shell()[0]


def detect_shell(env: Mapping[str, str], detect: Callable[[], str] = _shellingham_name) -> str:
    """The user's shell: shellingham's answer when supported, else `$SHELL`."""
    try:
        detected = detect()
    except (RuntimeError, OSError) as error:  # shellingham's ShellDetectionFailure is an OSError
        detected, why = None, f"shellingham failed: {error or type(error).__name__}"
    else:
        why = f"shellingham found {detected!r}"
    shell = normalize(detected) if detected else None
    shell = shell or normalize(env.get("SHELL", ""))
    if shell is None:
        login = env.get("SHELL")
        raise UsageError(
            f"cannot tell which shell to initialise ({why}; SHELL is {login!r})" if login
            else f"cannot tell which shell to initialise ({why}; SHELL is not set)",
            hint="name it: uvguard shell-init bash|zsh|fish|powershell",
        )
    return shell


def rc_file(shell: str, env: Mapping[str, str]) -> Path:
    """The file an interactive `shell` reads at start-up."""
    home = env.get("HOME")
    if not home:
        raise UsageError("HOME is not set; cannot find your shell's rc file")
    config = Path(paths.config_home(env))
    if shell == "bash":
        return Path(home, ".bashrc")
    if shell == "zsh":
        return Path(env.get("ZDOTDIR") or home, ".zshrc")
    if shell == "fish":
        return config / "fish" / "config.fish"
    return config / "powershell" / "Microsoft.PowerShell_profile.ps1"


def install(shell: str, code: str, env: Mapping[str, str]) -> tuple[Path, bool]:
    """Append `code` to `shell`'s rc file inside marker lines, once; (file, whether added)."""
    path = rc_file(shell, env)
    return path, add_once(path, BLOCK_BEGIN, f"{BLOCK_BEGIN}\n{code}{BLOCK_END}\n")


def add_once(path: Path, marker: str, text: str, note: Callable[[str, str], None] | None = None) -> bool:
    """Append `text` to the start-up file `path` unless a line of it is `marker` already; whether it was
    added. The one writer of rc files (`uvguard shell-init --install`, `uvguard setup`): creates the file
    and its directories when missing, ends an unterminated last line first, and tells `note(key, path)`
    of each change as it is made (`dir`, `rc_created`, `rc_noeol`, then `rc`, also when the text is
    there already), so setup's receipt can undo exactly that. A file that cannot be read or written is
    a FileSystemFailure naming it."""
    note = note or (lambda key, value: None)
    try:
        if path.is_file() and marker in path.read_text(errors="surrogateescape").splitlines():
            note("rc", str(path))
            return False
        if not path.exists():
            for directory in make_dirs(path.parent):
                note("dir", str(directory))
            path.touch()
            note("rc_created", str(path))
        elif path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            with open(path, "a") as file:
                file.write("\n")
            note("rc_noeol", str(path))
        note("rc", str(path))
        with open(path, "a", errors="surrogateescape") as file:
            file.write(text)
    except OSError as error:
        raise FileSystemFailure(os_failure("cannot add uvguard's lines to a shell start-up file", error)) from None
    return True
