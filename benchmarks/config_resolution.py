"""Cost of resolving uv's effective config for an intercepted `uv cache prune`.

    python benchmarks/config_resolution.py [--runs 500]

Lays out, in a temporary directory: a workspace member several directories
below a workspace root whose `pyproject.toml` has `[tool.uv]`, a `uv.toml`
beside it (so the hidden-fields check parses both), a user `uv.toml` and a
system one. Each run resolves from scratch, TOML parsing included (nothing
is cached between runs, as in the shim). Prints median and p95 (budget:
20 ms median), and the first resolution in a fresh interpreter, with the
imports it pulls in. The figures are measured on the machine at hand; nothing here
asserts them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from uvguard.invocation import parse  # noqa: E402
from uvguard.uvconfig import effective_config  # noqa: E402

PYPROJECT = """[project]
name = "root"
version = "1.0"
dependencies = ["requests>=2", "numpy", "rich"]

[tool.uv]
link-mode = "copy"
cache-dir = "/var/cache/uv"
dev-dependencies = ["pytest"]

[tool.uv.workspace]
members = ["packages/*"]

[tool.ruff]
line-length = 100
"""


def build(root: Path) -> tuple[dict, Path]:
    work = root / "work"
    member = work / "packages" / "app"
    (member / "src" / "app").mkdir(parents=True)
    (work / "pyproject.toml").write_text(PYPROJECT)
    (work / "uv.toml").write_text('link-mode = "symlink"\n[pip]\nlink-mode = "copy"\n')
    (member / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1.0"\n')
    (root / "home" / ".config" / "uv").mkdir(parents=True)
    (root / "home" / ".config" / "uv" / "uv.toml").write_text('cache-dir = "/home/me/.cache/uv"\n')
    (root / "etc-xdg" / "uv").mkdir(parents=True)
    (root / "etc-xdg" / "uv" / "uv.toml").write_text('[pip]\nlink-mode = "hardlink"\n')
    env = {"HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "home" / ".config"),
           "XDG_CONFIG_DIRS": str(root / "etc-xdg"), "PATH": "/usr/bin:/bin"}
    return env, member / "src" / "app"


COLD = """
import json, sys, time
start = time.perf_counter()
from uvguard.invocation import parse
from uvguard.uvconfig import effective_config
effective_config(parse(["cache", "prune"]), json.loads(sys.argv[1]), sys.argv[2])
print((time.perf_counter() - start) * 1000)
"""


def cold_start(env: dict, cwd: Path, runs: int = 15) -> float:
    """Median of a first resolution in a fresh interpreter, imports (tomllib, dataclasses) included."""
    root = str(Path(__file__).resolve().parent.parent)
    timings = [float(subprocess.run([sys.executable, "-c", COLD, json.dumps(env), str(cwd)], cwd=root,
                                    capture_output=True, text=True, check=True).stdout) for _ in range(runs)]
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env, cwd = build(Path(tmp))
        invocation = parse(["cache", "prune"])
        config = effective_config(invocation, env, cwd)
        assert config.link_mode == "symlink", config  # the uv.toml at the workspace root
        timings = []
        for _ in range(options.runs):
            start = time.perf_counter()
            effective_config(parse(["cache", "prune"]), env, cwd)
            timings.append((time.perf_counter() - start) * 1000)
        cold = cold_start(env, cwd)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"config resolution for `uv cache prune` ({len(config.config_files)} files consulted, "
          f"{options.runs} runs): median {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms "
          f"(budget: 20 ms median)")
    print(f"first resolution in a fresh interpreter, imports included: median {cold:.2f} ms")


if __name__ == "__main__":
    main()
