"""`uvguard generate-shell-completion SHELL`, loaded by real shells, and the pre-commit hook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = str(Path(sys.executable).parent)


def shell_env(sandbox) -> dict:
    return sandbox.env(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")


def script(shell: str) -> str:
    result = subprocess.run([f"{BIN}/uvguard", "generate-shell-completion", shell], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_a_script_for_every_shell_uv_names(shell):
    assert "uvguard" in script(shell) and "_UVGUARD_COMPLETE" in script(shell)


def test_an_unknown_shell_is_a_usage_error():
    result = subprocess.run([f"{BIN}/uvguard", "generate-shell-completion", "tcsh"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("error: invalid value 'tcsh' for '<SHELL>'\n"
                             "hint: possible values: bash, zsh, fish, powershell\n")


def needs(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed")
    return path


def test_bash_completes_commands_subcommands_options_and_shells(sandbox):
    bash = needs("bash")
    code = '''eval "$(uvguard generate-shell-completion bash)"
complete -p uvguard
ask() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _uvguard_completion uvguard; echo "[${COMPREPLY[*]}]"; }
ask uvguard pol
ask uvguard policy va
ask uvguard live --no-pro
ask uvguard generate-shell-completion ""
'''  # noqa: E501
    result = subprocess.run([bash, "--norc", "--noprofile", "-c", code], env=shell_env(sandbox),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["complete -o default -F _uvguard_completion uvguard", "[policy]",
                                          "[validate]", "[--no-progress]", "[bash zsh fish powershell]"]


def test_zsh_loads_the_script_and_registers_the_completion(sandbox):
    zsh = needs("zsh")
    code = '''autoload -U compinit && compinit -u -D
eval "$(uvguard generate-shell-completion zsh)"
print -r -- "${_comps[uvguard]}"
_TYPER_COMPLETE_ARGS="uvguard pol" _UVGUARD_COMPLETE=complete_zsh uvguard
'''
    result = subprocess.run([zsh, "-f", "-c", code], env=shell_env(sandbox), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first == "_uvguard_completion"
    assert re.search(r'"policy":"Show, check and write uvguard policies', "\n".join(rest))


def test_fish_loads_the_script_and_completes(sandbox):
    fish = needs("fish")
    code = 'uvguard generate-shell-completion fish | source; complete -C "uvguard pol"; complete -C "uvguard policy va"'
    result = subprocess.run([fish, "--no-config", "-c", code], env=shell_env(sandbox), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == ["policy", "validate"]


# The pre-commit hook: what pre-commit runs is `entry` followed by every matching file.

def hook() -> dict:
    """The one hook of .pre-commit-hooks.yaml (flat `key: value` lines; no YAML library needed)."""
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    fields = dict(re.findall(r"^\s*-?\s*(\w+): (.*)$", text, re.MULTILINE))
    return {key: value.strip().strip("'") for key, value in fields.items()}


def test_the_hook_validates_every_matching_file_in_one_run(sandbox):
    spec = hook()
    assert spec["id"] == "uvguard-policy" and spec["language"] == "python" and spec["pass_filenames"] == "true"
    repo = sandbox.work
    files = {"uvguard.toml": 'prune = "limit"\n', "sub/uvguard.toml": 'clean = "refuse"\n',
             "etc/uvguard/policy.toml": 'unknown = "warn"\n', "pyproject.toml": "[project]\nname = 'x'\n",
             "notes/policy.md": "not a policy"}
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    matched = sorted(name for name in files if re.search(spec["files"], name))
    assert matched == ["etc/uvguard/policy.toml", "sub/uvguard.toml", "uvguard.toml"]
    entry = [f"{BIN}/{spec['entry'].split()[0]}", *spec["entry"].split()[1:]]
    ok = subprocess.run([*entry, *matched], cwd=repo, env=sandbox.env(), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == 3
    (repo / "sub/uvguard.toml").write_text('clean = "sometimes"\n')
    bad = subprocess.run([*entry, *matched], cwd=repo, env=sandbox.env(), capture_output=True, text=True)
    assert bad.returncode == 2
    assert "sub/uvguard.toml" in bad.stderr and "line 1" in bad.stderr
    assert len(bad.stdout.splitlines()) == 2  # the other files were still checked
