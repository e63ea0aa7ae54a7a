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
    assert result.stderr.startswith("error: Not a directory: ")
    assert str(state) in result.stderr


def test_unknown_subcommand_is_a_usage_error(sandbox):
    result = uvguard("frobnicate", env=sandbox.env())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
