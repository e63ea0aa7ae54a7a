"""How much the `uv` shim adds to a passthrough command (a benchmark, not a test).

    python benchmarks/passthrough.py [--uv PATH] [--runs N]

Runs each command line N times (default 150), interleaved in a shuffled order
so drift on a busy machine hits every variant alike, and prints median and p95
wall time per variant, the shim's overhead over bare uv and the ratio:

- `uv --version` and `uv pip list` bare and through the shim (the sh front);
- `uv cache prune --help` bare and through the shim: a line the sh front
  hands to the Python side (a possible cache command), which then execs uv;
- `python -I -S -c pass`, the floor of any Python entry point;
- the sh front alone: the shim with `/bin/true` as the real uv against bare
  `true` (least disturbed by a busy machine, as uv's own run time is gone);
- the registry append: that shim on an install-type line (which appends a
  record) against one that does not, plus `registry.append` in-process.

Budget: the sh front adds at most 10 ms median (goal 5); an append at most 1 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from uvguard import registry  # noqa: E402
from uvguard.shimfile import write_shim  # noqa: E402


def default_uv() -> str:
    from tests import uv_releases

    return str(uv_releases.path(uv_releases.LATEST))


def time_once(argv: list[str], env: dict) -> int:
    start = time.perf_counter_ns()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter_ns() - start


def measure(variants: dict[str, tuple[list[str], dict]], runs: int) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {name: [] for name in variants}
    order = list(variants)
    for name in order:  # warm the page cache once
        time_once(*variants[name])
    for _ in range(runs):
        random.shuffle(order)
        for name in order:
            samples[name].append(time_once(*variants[name]))
    return samples


def percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def ms(nanoseconds: float) -> str:
    return f"{nanoseconds / 1e6:7.2f} ms"


def report(samples: dict[str, list[int]], pairs: list[tuple[str, str]]) -> None:
    print(f"{'variant':34} {'median':>10} {'p95':>10}")
    for name, values in samples.items():
        print(f"{name:34} {ms(statistics.median(values))} {ms(percentile(values, 0.95))}")
    print()
    print(f"{'overhead (shim - bare)':34} {'median':>10} {'p95':>10} {'ratio':>7}")
    for shimmed, bare in pairs:
        median_shim, median_bare = statistics.median(samples[shimmed]), statistics.median(samples[bare])
        p95_diff = percentile(samples[shimmed], 0.95) - percentile(samples[bare], 0.95)
        print(f"{shimmed:34} {ms(median_shim - median_bare)} {ms(p95_diff)} {median_shim / median_bare:6.2f}x")


def time_registry_append(state: Path, runs: int) -> list[int]:
    env = {"XDG_STATE_HOME": str(state), "HOME": str(state), "VIRTUAL_ENV": "/tmp/venv"}
    args = ["pip", "install", "requests", "--python", "/tmp/venv/bin/python"]
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        registry.append("/tmp/project", env, args)
        samples.append(time.perf_counter_ns() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", default=None, help="the real uv (default: the newest pinned test release)")
    parser.add_argument("--runs", type=int, default=150)
    options = parser.parse_args()
    real_uv = options.uv or default_uv()

    with tempfile.TemporaryDirectory(prefix="uvguard-bench-") as tmp:
        root = Path(tmp)
        (root / "bin").mkdir()
        shim = root / "bin" / "uv"
        write_shim(shim, sys.executable, real_uv)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root),
               "XDG_STATE_HOME": str(root / "state"), "UV_CACHE_DIR": str(root / "cache"),
               "UV_NO_PROGRESS": "1", "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never"}
        venv = root / "venv"
        subprocess.run([real_uv, "venv", "--python", sys.executable, str(venv)], env=env, check=True,
                       capture_output=True)
        pip_list = ["pip", "list", "--python", str(venv)]
        true_env = dict(env, UVGUARD_REAL_UV=shutil.which("true") or "/bin/true")
        variants = {
            "bare uv --version": ([real_uv, "--version"], env),
            "shim uv --version": ([str(shim), "--version"], env),
            "bare uv pip list": ([real_uv, *pip_list], env),
            "shim uv pip list": ([str(shim), *pip_list], env),
            "bare uv cache prune --help": ([real_uv, "cache", "prune", "--help"], env),
            "shim uv cache prune --help (py)": ([str(shim), "cache", "prune", "--help"], env),
            "python -I -S -c pass": ([sys.executable, "-I", "-S", "-c", "pass"], env),
            "bare true": ([true_env["UVGUARD_REAL_UV"]], env),
            "shim->true pip list": ([str(shim), "pip", "list"], true_env),
            "shim->true pip install (records)": ([str(shim), "pip", "install", "requests"], true_env),
        }
        samples = measure(variants, options.runs)
        print(f"uv: {real_uv}; python: {sys.executable}; {options.runs} interleaved runs per variant")
        print()
        report(samples, [
            ("shim uv --version", "bare uv --version"),
            ("shim uv pip list", "bare uv pip list"),
            ("shim uv cache prune --help (py)", "bare uv cache prune --help"),
            ("shim->true pip list", "bare true"),
            ("shim->true pip install (records)", "shim->true pip list"),
        ])
        append = time_registry_append(root / "append-state", options.runs)
        print()
        print(f"registry.append in-process: median {ms(statistics.median(append))}, "
              f"p95 {ms(percentile(append, 0.95))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
