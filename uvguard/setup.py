"""Setting up an installation from an installed uvguard, and taking it down again.

`uvguard setup` writes the `uv` shim, a `uvx` beside it and a `uvguard` link
into PREFIX/bin, the env files that put that directory first on PATH, the
rc-file lines that source them, a policy file and a takeover, as asked.
install.sh makes a private virtualenv, installs uvguard into it and runs the
same `uvguard setup`; a uvguard installed with `uv tool install` or `pipx
install` runs it itself. The shim names this interpreter (the tool's
virtualenv keeps its path when the tool is reinstalled or upgraded).

Non-interactive and idempotent: running it again repairs and updates. Every
change is recorded in PREFIX/receipt before or as it is made, and
`--uninstall` undoes exactly what the receipt lists. With `--prefix` nothing
outside the prefix changes unless asked for (`--takeover`, `--policy`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import sysconfig
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from uvguard import messages, paths, shellinit
from uvguard.errors import RealUvNotFound, UsageError
from uvguard.installation import Receipt, default_link_dir, default_prefix, make_dirs
from uvguard.realuv import is_shim, search_path, version_line
from uvguard.shimfile import render_uvx, write_atomically, write_shim

ENV_MARKER = "uvguard-env: added by `uvguard setup`; `uvguard setup --uninstall` removes it"
ASIDE = ".uvguard-real"  # a taken-over uv is moved to PATH + ASIDE
COMMANDS = ("uv", "uvx", "uvguard")

Say = Callable[[str], None]


@dataclass(frozen=True)
class SetupOptions:
    """What `uvguard setup` (and install.sh) was asked to do."""

    prefix: str | None = None
    takeover: str | None = None
    policy: str | None = None
    system_policy: bool = False
    modify_path: bool = True


@dataclass(frozen=True)
class Layout:
    """Where an installation's files go. `link_dir` is None with `--prefix`: nothing outside it."""

    prefix: Path
    link_dir: Path | None

    @property
    def bin_dir(self) -> Path:
        return self.prefix / "bin"

    @property
    def receipt(self) -> Path:
        return self.prefix / "receipt"


@dataclass(frozen=True)
class Uvguard:
    """The uvguard setup runs from: the interpreter the shim execs, and its `uvguard` command."""

    python: str
    command: Path

    @classmethod
    def running(cls) -> Uvguard:
        command = Path(sysconfig.get_path("scripts"), "uvguard")
        if not command.is_file():
            raise UsageError(f"no `uvguard` command beside this interpreter ({command})",
                             hint="run `uvguard setup` from an installed uvguard (pip, uv tool, pipx or install.sh)")
        return cls(python=sys.executable, command=command)


def layout(prefix: str | None, env: Mapping[str, str], cwd: str) -> Layout:
    if prefix:
        return Layout(Path(os.path.abspath(os.path.join(cwd, prefix))), None)
    if not env.get("HOME"):
        raise UsageError("HOME is not set; name the installation's directory with --prefix")
    return Layout(default_prefix(env), default_link_dir(env))


def open_receipt(where: Layout) -> Receipt:
    if not Receipt.is_ours(where.receipt):
        raise UsageError(f"{where.receipt} is not a uvguard install receipt; is {where.prefix} the right --prefix?")
    return Receipt(where.receipt)


# --- install ----------------------------------------------------------------------------------

def install(options: SetupOptions, env: Mapping[str, str], cwd: str, uvguard: Uvguard, say: Say = print) -> None:
    where = layout(options.prefix, env, cwd)
    receipt = open_receipt(where)
    previous = receipt.values("takeover")
    takeover = os.path.abspath(os.path.join(cwd, options.takeover)) if options.takeover else None
    if takeover:
        check_takeover(takeover, previous[0] if previous else None)
    check_bin_dir(where, uvguard, receipt)
    created = make_dirs(where.prefix)
    receipt.save()
    record_dirs(created, receipt)
    taken = takeover or (previous[0] if previous else None)
    real_uv, real_uv_source = choose_real_uv(taken, env, cwd, uvguard)

    record_dirs(make_dirs(where.bin_dir), receipt)
    write_shim(where.bin_dir / "uv", uvguard.python, real_uv)
    real_uvx = os.path.join(os.path.dirname(real_uv), "uvx")
    write_atomically(where.bin_dir / "uvx", render_uvx(real_uvx if os.access(real_uvx, os.X_OK) else None))
    replace_link(uvguard.command, where.bin_dir / "uvguard")
    receipt.replace("real_uv", real_uv)
    if takeover:
        do_takeover(takeover, uvguard, receipt, say)
    elif taken:
        write_shim(taken, uvguard.python, real_uv)
    if where.link_dir:
        record_dirs(make_dirs(where.link_dir), receipt)
        for name in COMMANDS:
            link(where.bin_dir / name, where.link_dir / name, receipt)
    for shell, name in (("bash", "env"), ("fish", "env.fish")):
        write_atomically(where.prefix / name, shellinit.render(shell, where.bin_dir), mode=0o644)
    edited_rc = where.link_dir is not None and options.modify_path
    if edited_rc:
        modify_rc_files(where, env, receipt, say)
    if options.policy:
        write_policy(options.policy, options.system_policy, env, receipt, say)
    say(f"Real uv: {real_uv} ({real_uv_source}; {version_line(real_uv) or 'version unknown'})")
    say_how_to_use(where, taken, edited_rc, say)


def say_how_to_use(where: Layout, taken: str | None, edited_rc: bool, say: Say) -> None:
    """What is guarded now, and what (if anything) is left to the user: one message each."""
    env_file = sh_quote(str(where.prefix / "env"))
    linked = f", linked into {where.link_dir}" if where.link_dir else ""
    say(f"Installed: {where.bin_dir}/uv (the shim), uvx and uvguard{linked}")
    if taken:
        say(f"Every caller of {taken} is guarded; `uv` elsewhere on PATH is not, unless {where.bin_dir} comes first")
    if edited_rc:
        say(f"To use it in this shell now: . {env_file}   (new shells pick it up by themselves)")
    elif not taken:
        why = "--prefix" if where.link_dir is None else "--no-modify-path"
        say(f"PATH left unchanged ({why}): put {where.bin_dir} first on PATH (. {env_file}), or add its shell "
            f"code to your rc file: {sh_quote(str(where.bin_dir / 'uvguard'))} shell-init --install")
    say(f"Check it: {sh_quote(str((where.link_dir or where.bin_dir) / 'uvguard'))} doctor")


def record_dirs(created: list[Path], receipt: Receipt) -> None:
    for directory in created:
        receipt.record("dir", str(directory))


def is_uv(path: str) -> bool:
    return (version_line(path) or "").startswith("uv ")


def check_takeover(takeover: str, previous: str | None) -> None:
    """One takeover per installation, of a real uv, checked before anything changes."""
    if previous and previous != takeover:
        raise UsageError(f"this installation took over {previous} already; uninstall it first to take over {takeover}")
    if is_shim(takeover):
        if not os.path.isfile(takeover + ASIDE):
            raise UsageError(f"{takeover} is a uvguard shim already, and the real uv is not at {takeover}{ASIDE}")
        if previous != takeover:
            raise UsageError(f"{takeover} is the shim of another uvguard installation; uninstall that one first")
        return
    if not (os.path.isfile(takeover) and os.access(takeover, os.X_OK)):
        raise UsageError(f"--takeover {takeover}: not an executable file")
    if not is_uv(takeover):
        raise UsageError(f"--takeover {takeover}: `{takeover} --version` does not print a uv version; "
                         "not taking it over")
    if os.path.lexists(takeover + ASIDE):
        raise UsageError(f"--takeover {takeover}: {takeover}{ASIDE} exists already; move it away first")


def check_bin_dir(where: Layout, uvguard: Uvguard, receipt: Receipt) -> None:
    """Refuse to write the shim or the commands where something else lives."""
    for name in ("uv", "uvx"):
        path = where.bin_dir / name
        if os.path.lexists(path) and not is_shim(str(path)):
            raise UsageError(f"{path} exists and is not a uvguard shim; not overwriting it",
                             hint=f"--takeover {path} puts the shim in its place" if name == "uv" else None)
    command = where.bin_dir / "uvguard"
    ours = command.is_symlink() and (receipt.lines or os.readlink(command) == str(uvguard.command))
    if os.path.lexists(command) and not ours:
        raise UsageError(f"{command} exists and is not this installation's; not overwriting it")


def choose_real_uv(taken: str | None, env: Mapping[str, str], cwd: str, uvguard: Uvguard) -> tuple[str, str]:
    """The real uv and where it came from: the taken-over binary, else the first uv on PATH
    that is not a shim, else a uv installed beside uvguard (install.sh fetches one there)."""
    if taken:
        return taken + ASIDE, f"moved aside from {taken}"
    found = search_path(env.get("PATH", os.defpath), None)
    if found:
        return os.path.abspath(os.path.join(cwd, found)), "found on PATH"
    beside = os.path.join(os.path.dirname(uvguard.python), "uv")
    if os.path.isfile(beside) and os.access(beside, os.X_OK) and not is_shim(beside):
        return beside, "installed beside uvguard"
    raise RealUvNotFound("no real uv found: none on PATH (besides uvguard shims), none beside uvguard "
                         f"({beside})", hint="install uv first, or run uvguard's install.sh, which installs uv "
                         "from PyPI when none is on PATH")


def do_takeover(takeover: str, uvguard: Uvguard, receipt: Receipt, say: Say) -> None:
    """Move the real uv aside (recorded first, so an interrupted run can be undone) and put the shim there."""
    aside = takeover + ASIDE
    if not is_shim(takeover):
        receipt.record("takeover", takeover)
        os.rename(takeover, aside)
        say(f"Moved the real uv {takeover} aside to {aside}")
    try:
        write_shim(takeover, uvguard.python, aside)
    except OSError as error:
        os.rename(aside, takeover)
        receipt.replace("takeover", None)
        raise UsageError(f"could not write the shim at {takeover}: {error.strerror}; "
                         "the real uv is back in place") from error
    say(f"Took over {takeover}: it is the uvguard shim now")


def replace_link(target: Path, path: Path) -> None:
    """`ln -sf`, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    os.symlink(target, tmp)
    os.replace(tmp, path)


def link(target: Path, path: Path, receipt: Receipt) -> None:
    """A link to `target` at `path`, replacing only a uvguard shim or our own link."""
    if os.path.lexists(path):
        if _same_file(path, target):
            if os.path.islink(path) and os.readlink(path) == str(target):
                receipt.record("link", str(path))
            return  # e.g. `uv tool install`'s own link to the same uvguard
        if not (path.name in ("uv", "uvx") and is_shim(str(path))):
            messages.warning(f"{path} exists and is not uvguard's; left alone")
            return
    replace_link(target, path)
    receipt.record("link", str(path))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# --- rc files ---------------------------------------------------------------------------------

def sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def env_lines(prefix: Path) -> tuple[str, str]:
    """The lines rc files get: each sources an env file, with the marker."""
    return (f". {sh_quote(str(prefix / 'env'))} # {ENV_MARKER}",
            f"source {fish_quote(str(prefix / 'env.fish'))} # {ENV_MARKER}")


def modify_rc_files(where: Layout, env: Mapping[str, str], receipt: Receipt, say: Say) -> None:
    """Source the env file from the files each shell reads at start-up.

    Login shells read the first of .bash_profile/.bash_login/.profile; sh reads
    .profile; interactive bash reads .bashrc. Existing files all get the line;
    .bashrc, and .profile when bash would read it, are created; zsh's and
    fish's files only where that shell is installed.
    """
    home = Path(env["HOME"])
    sh_line, fish_line = env_lines(where.prefix)
    files = [home / name for name in (".profile", ".bash_profile", ".bash_login") if (home / name).is_file()]
    if not (home / ".bash_profile").is_file() and not (home / ".bash_login").is_file():
        files.append(home / ".profile")
    files.append(home / ".bashrc")
    zdot = Path(env.get("ZDOTDIR") or home)
    zsh_files = [zdot / name for name in (".zshrc", ".zshenv") if (zdot / name).is_file()]
    if not zsh_files and shutil.which("zsh", path=env.get("PATH", "")):
        zsh_files = [zdot / ".zshrc"]
    lines = [(path, sh_line) for path in dict.fromkeys([*files, *zsh_files])]
    fish_dir = Path(paths.config_home(env), "fish")
    if fish_dir.is_dir() or shutil.which("fish", path=env.get("PATH", "")):
        lines.append((fish_dir / "conf.d" / "uvguard.env.fish", fish_line))
    edited = [str(path) for path, line in lines if shellinit.add_once(path, line, line + "\n", receipt.record)]
    if edited:
        say(f"Added a line sourcing {where.prefix / 'env'} to: {' '.join(edited)}")
    else:
        say(f"Shell rc files already source {where.prefix / 'env'}")


def remove_lines(path: Path, lines: tuple[str, ...], receipt: Receipt, say: Say) -> None:
    """Take our lines out of `path`, in place (links and modes kept), undoing the newline
    an install added and deleting a file it created."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(errors="surrogateescape").splitlines(keepends=True)
            if line.rstrip("\n") not in lines]
    text = "".join(kept)
    if str(path) in receipt.values("rc_noeol") and text.endswith("\n"):
        text = text[:-1]
    with open(path, "w", errors="surrogateescape") as file:
        file.write(text)
    if not text and str(path) in receipt.values("rc_created"):
        path.unlink()
        say(f"Removed {path}")
    else:
        say(f"Removed uvguard's line from {path}")


# --- policy -----------------------------------------------------------------------------------

def write_policy(preset: str, system: bool, env: Mapping[str, str], receipt: Receipt, say: Say) -> None:
    from uvguard.commands.policy import write_preset
    from uvguard.policy import SYSTEM_POLICY_FILE, user_policy_path

    path = Path(SYSTEM_POLICY_FILE) if system else user_policy_path(env)
    if path.exists():
        if str(path) in receipt.values("policy"):
            say(f"Policy file {path} already written by an earlier install; left as it is")
        else:
            messages.warning(f"{path} exists; left alone (--policy {preset} not applied)")
        return
    record_dirs(make_dirs(path.parent), receipt)
    write_preset(path, preset, force=False)
    receipt.record("policy", str(path))
    receipt.record("policy_sha256", _sha256(path))
    say(f"Wrote the '{preset}' policy to {path}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- uninstall --------------------------------------------------------------------------------

def uninstall(prefix: str | None, env: Mapping[str, str], cwd: str, say: Say = print) -> None:
    where = layout(prefix, env, cwd)
    receipt = open_receipt(where)
    if not where.receipt.exists():
        say(f"Nothing to uninstall: no uvguard installation in {where.prefix}")
        return
    for target in receipt.values("takeover"):
        restore_takeover(target, say)
    for path in receipt.values("link"):
        if os.path.islink(path) and os.path.dirname(os.readlink(path)) == str(where.bin_dir):
            os.unlink(path)
            say(f"Removed {path}")
    lines = env_lines(where.prefix)
    for path in dict.fromkeys(receipt.values("rc")):
        remove_lines(Path(path), lines, receipt, say)
    remove_policy(receipt, say)
    for name in ("uv", "uvx"):
        if is_shim(str(where.bin_dir / name)):
            os.unlink(where.bin_dir / name)
    for path in (where.bin_dir / "uvguard", where.prefix / "env", where.prefix / "env.fish"):
        if os.path.lexists(path):
            os.unlink(path)
    for venv in receipt.values("venv"):  # install.sh's private virtualenv
        if os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
            shutil.rmtree(venv)
    where.receipt.unlink()
    for directory in reversed(receipt.values("dir")):
        try:
            os.rmdir(directory)
        except OSError:
            pass
    say(f"Uninstalled uvguard from {where.prefix}; open a new shell (or run `hash -r`) so `uv` is the real uv again")
    if os.path.isdir(paths.state_dir(env)):
        say(f"Kept uvguard's record of environments in {paths.state_dir(env)}; delete it if you like")


def restore_takeover(target: str, say: Say) -> None:
    aside = target + ASIDE
    if not os.path.isfile(aside):
        messages.warning(f"{aside} is missing; {target} left as it is")
    elif os.path.lexists(target) and not is_shim(target):
        messages.warning(f"{target} is no longer uvguard's shim; kept it, and the original uv stays at {aside}")
    else:
        os.replace(aside, target)
        say(f"Restored the real uv at {target}")


def remove_policy(receipt: Receipt, say: Say) -> None:
    for path in receipt.values("policy"):
        if not os.path.isfile(path):
            continue
        if _sha256(Path(path)) in receipt.values("policy_sha256"):
            os.unlink(path)
            say(f"Removed the policy file {path}")
        else:
            messages.warning(f"{path} changed since install; left in place")
