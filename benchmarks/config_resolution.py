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
from pathlib import Path

from harness import REPO, Stats, figure_line, interleave, ms, timed, verdict_line

from uvguard.invocation import parse
from uvguard.uvconfig import effective_config

BUDGET_MS = 20

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
    timings = [float(subprocess.run([sys.executable, "-c", COLD, json.dumps(env), str(cwd)], cwd=REPO,
                                    capture_output=True, text=True, check=True).stdout) for _ in range(runs)]
    return statistics.median(timings) / 1000


def measure(root: Path, runs: int) -> tuple[Stats, int]:
    """Resolution time over `runs` runs, and how many config files each consulted."""
    env, cwd = build(root)
    config = effective_config(parse(["cache", "prune"]), env, cwd)
    assert config.link_mode == "symlink", config  # the uv.toml at the workspace root
    samples = interleave({"resolve": timed(lambda: effective_config(parse(["cache", "prune"]), env, cwd))}, runs)
    return Stats.of(samples["resolve"]), len(config.config_files)


def verdict(stats: Stats, files: int) -> str:
    return verdict_line(stats.median <= BUDGET_MS / 1000, f"effective config of `uv cache prune` ({files} files)",
                        f"{ms(stats.median).strip()} median, {ms(stats.p95).strip()} p95", f"≤ {BUDGET_MS} ms median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stats, files = measure(Path(tmp), options.runs)
        cold = cold_start(*build(Path(tmp) / "cold"))
    print(figure_line(f"resolution, in-process ({options.runs} runs)", stats))
    print(f"    first resolution in a fresh interpreter, imports included: median {ms(cold).strip()}")
    print(verdict(stats, files))


if __name__ == "__main__":
    main()
