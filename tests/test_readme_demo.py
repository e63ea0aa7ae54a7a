"""The README's first line: `./install.sh && scripts/demo` shows the guard at work."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_readme_opens_with_install_then_demo():
    first_block = REPO.joinpath("README.md").read_text().split("```sh\n", 1)[1].split("```", 1)[0]
    assert first_block.splitlines()[0].split("#")[0].split() == ["./install.sh", "&&", "scripts/demo"]
    assert first_block.splitlines()[1].split("#")[0].split() == ["./scripts/test"]


def test_demo_keeps_the_venv_through_the_shim_and_breaks_it_bare(shared_install):
    prefix_bin = shared_install.prefix / "bin"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "demo")], env=shared_install.env,
                            capture_output=True, text=True, cwd=shared_install.sandbox.work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"$ {prefix_bin}/uv cache prune --ci" in result.stdout
    assert re.search(r"kept 1 entry \([\d.]+[KM]iB\) used by 1 environment", result.stdout)
    assert result.stdout.rstrip().endswith(
        "after the guarded prune the venv works; after the bare one it is broken.")
