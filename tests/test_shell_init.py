"""`uvguard shell-init`: code that parses and works in each shell, detection, --install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.installer import interactive
from uvguard import shellinit
from uvguard.errors import FileSystemFailure, UsageError

AWKWARD_DIR = "/opt/it's a \"dir\" with $HOME and \\ in it/bin"
PARSE = {
    "bash": ["bash", "-n"],
    "zsh": ["zsh", "-n"],
    "fish": ["fish", "--no-execute"],
}


def _require(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed (.ci/run installs it with apt-get where it can)")


@pytest.mark.parametrize("shell", sorted(PARSE))
def test_code_parses(shell, tmp_path):
    _require(PARSE[shell][0])
    script = tmp_path / "init"
    script.write_text(shellinit.render(shell, Path(AWKWARD_DIR)))
    result = subprocess.run([*PARSE[shell], str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_broken_code_does_not_parse(tmp_path):
    """The control for the parse checks above: `bash -n` does reject bad code."""
    script = tmp_path / "init"
    script.write_text(shellinit.render("bash", Path("/x")).replace("esac", ""))
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode != 0


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "sh"])
def test_code_puts_the_dir_first_once(shell, tmp_path):
    _require(shell)
    code = shellinit.render("fish" if shell == "fish" else "bash", Path(AWKWARD_DIR))
    script = tmp_path / "init"
    script.write_text(code)
    show = 'printf "%s\\n" $PATH' if shell == "fish" else 'printf "%s\\n" "$PATH"'
    result = subprocess.run([shell, "-c", f"source {script}; source {script}; {show}"
                             if shell == "fish" else f". {script}; . {script}; {show}"],
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    entries = result.stdout.splitlines() if shell == "fish" else result.stdout.strip().split(":")
    assert entries == [AWKWARD_DIR, "/usr/bin", "/bin"]


def test_powershell_code_quotes_the_path():
    code = shellinit.render("powershell", Path("/a'b/bin"))
    assert "'/a''b/bin'" in code
    assert "$env:PATH = '/a''b/bin' + [IO.Path]::PathSeparator + $env:PATH" in code


def _fails():
    raise RuntimeError("no /proc")


def test_detection_uses_shellingham_then_shell():
    assert shellinit.detect_shell({"SHELL": "/bin/bash"}, detect=lambda: "zsh") == "zsh"
    assert shellinit.detect_shell({"SHELL": "/usr/bin/fish"}, detect=_fails) == "fish"
    assert shellinit.detect_shell({"SHELL": "/bin/zsh"}, detect=lambda: "sh") == "zsh"
    assert shellinit.detect_shell({}, detect=lambda: "pwsh") == "powershell"


def test_detection_failure_is_a_usage_error():
    with pytest.raises(UsageError) as failure:
        shellinit.detect_shell({"SHELL": "/bin/tcsh"}, detect=_fails)
    assert "no /proc" in failure.value.message and "'/bin/tcsh'" in failure.value.message
    with pytest.raises(UsageError) as failure:
        shellinit.detect_shell({}, detect=lambda: "ksh")
    assert "shellingham found 'ksh'; SHELL is not set" in failure.value.message


def test_without_an_installed_shim_says_so(tmp_path, sandbox):
    (tmp_path / "venv").mkdir()
    with pytest.raises(UsageError) as failure:
        shellinit.installed_shim_dir(sandbox.env(), tmp_path / "venv")
    assert str(tmp_path / "bin" / "uv") in failure.value.message
    assert str(sandbox.home / ".local/share/uvguard/bin/uv") in failure.value.message


def _uvguard(shared, *args, env):
    return subprocess.run([str(shared.prefix / "bin" / "uvguard"), "shell-init", *args], env=env,
                          capture_output=True, text=True)


def test_installed_command_prints_code_for_its_shim(shared_install):
    result = _uvguard(shared_install, "bash", env=shared_install.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shellinit.render("bash", shared_install.prefix / "bin")


def test_unknown_shell_exits_2(shared_install):
    result = _uvguard(shared_install, "tcsh", env=shared_install.env)
    assert result.returncode == 2
    assert "unsupported shell 'tcsh'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_install_appends_once_and_the_shell_then_finds_the_shim(shell, sandbox, shared_install):
    _require(shell)
    env = sandbox.env(PATH=shared_install.env["PATH"])  # a HOME with no rc files, the shared install's PATH
    first = _uvguard(shared_install, shell, "--install", env=env)
    second = _uvguard(shared_install, shell, "--install", env=env)
    rc = shellinit.rc_file(shell, env)
    assert f"to {rc}" in first.stderr, first.stderr
    assert "nothing to do" in second.stderr
    assert rc.read_text().count(shellinit.BLOCK_BEGIN) == 1
    probe = {"bash": "type -P uv", "zsh": "whence -p uv", "fish": "command -s uv"}[shell]
    found = interactive(shell, probe, env)
    assert found.stdout.strip() == str(shared_install.prefix / "bin" / "uv"), found.stderr


def test_install_ends_an_unterminated_last_line_and_adds_the_block_once(sandbox):
    env = sandbox.env()
    rc = shellinit.rc_file("bash", env)
    rc.write_text("alias ll='ls -l'")
    assert shellinit.install("bash", "code\n", env) == (rc, True)
    assert shellinit.install("bash", "code\n", env) == (rc, False)
    assert rc.read_text() == f"alias ll='ls -l'\n{shellinit.BLOCK_BEGIN}\ncode\n{shellinit.BLOCK_END}\n"


def test_the_one_rc_writer_tells_setup_each_change_it_makes(tmp_path):
    notes = []
    path = tmp_path / "a" / "b" / "rc"
    assert shellinit.add_once(path, "line", "line\n", lambda key, value: notes.append((key, value)))
    assert notes == [("dir", str(tmp_path / "a")), ("dir", str(tmp_path / "a" / "b")),
                     ("rc_created", str(path)), ("rc", str(path))]
    assert not shellinit.add_once(path, "line", "line\n", lambda key, value: notes.append((key, value)))
    assert notes[-1] == ("rc", str(path)) and len(notes) == 5
    assert path.read_text() == "line\n"


def test_an_rc_file_that_cannot_be_written_is_an_error_naming_it(sandbox):
    env = sandbox.env()
    rc = shellinit.rc_file("bash", env)
    rc.mkdir(parents=True)
    with pytest.raises(FileSystemFailure) as failure:
        shellinit.install("bash", "code\n", env)
    assert failure.value.message == f"cannot add uvguard's lines to a shell start-up file: `{rc}`: Is a directory"
