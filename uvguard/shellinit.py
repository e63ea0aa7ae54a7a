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

from uvguard.errors import UsageError
from uvguard.installation import candidate_prefixes
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
    config = Path(env.get("XDG_CONFIG_HOME") or Path(home, ".config"))
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
    try:
        existing = path.read_text() if path.exists() else ""
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    if BLOCK_BEGIN in existing.splitlines():
        return path, False
    separator = "\n" if existing and not existing.endswith("\n") else ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as file:
            file.write(f"{separator}{BLOCK_BEGIN}\n{code}{BLOCK_END}\n")
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error}") from None
    return path, True
