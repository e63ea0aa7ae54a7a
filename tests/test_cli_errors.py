"""uvguard's own errors: a clear line on stderr and a documented exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys


def uvguard(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from uvguard.cli import main; sys.exit(main())", *args],
                          env=env, capture_output=True, text=True)


def test_an_unusable_state_dir_is_an_error_naming_the_path(sandbox):
    state = sandbox.root / "state-is-a-file"
    state.write_text("")
    result = uvguard("roots", env=sandbox.env(XDG_STATE_HOME=str(state)))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: cannot use a file uvguard needs: `{state}")
    assert result.stderr.rstrip().endswith("`: Not a directory")


def test_unknown_subcommand_is_a_usage_error(sandbox):
    result = uvguard("frobnicate", env=sandbox.env())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_a_policy_command_names_the_file_it_could_not_write(sandbox):
    """`uvguard policy` had its own catch, which printed Python's `[Errno 20] ...` form."""
    state = sandbox.root / "state-is-a-file"
    state.write_text("")
    policy = sandbox.work / "uvguard.toml"
    policy.write_text('clean = "refuse"\n')
    result = uvguard("policy", "trust", str(policy), env=sandbox.env(XDG_STATE_HOME=str(state)))
    assert result.returncode == 2
    assert result.stderr == f"error: cannot use a file uvguard needs: `{state}/uvguard`: Not a directory\n"
