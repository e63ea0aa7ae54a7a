"""How much the `uv` shim adds to a passthrough command (a benchmark, not a test).

    python benchmarks/passthrough.py [--uv PATH] [--runs N]

Renders the shim with `uvguard.shimfile` (as install.sh does) and runs each
command line N times (default 150), interleaved, printing median and p95 wall
time per variant, the shim's overhead over bare uv and the ratio:

- `uv --version` and `uv pip list` bare and through the shim (the sh front);
- `python -I -S -c pass`, the floor of any Python entry point;
- `uv cache prune --help` bare and through the shim: a line the sh front
  hands to the Python side (a possible cache command), which then execs uv;
- the sh front alone: the shim with `/bin/true` as the real uv against bare
  `true` (least disturbed by a busy machine, as uv's own run time is gone);
- the registry append: that shim on an install-type line (which appends a
  record) against one that does not, plus `registry.append` in-process.

Budget: the sh front adds at most 1 ms median; an append at most 1 ms.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import (
    Stats,
    Variant,
    command,
    figure_line,
    interleave,
    isolated_env,
    ms,
    pinned_uv,
    signed_ms,
    timed,
    verdict_line,
)

from uvguard import registry
from uvguard.shimfile import write_shim

BUDGET_MS = 1


def make_shim(dest: Path, python: str, real_uv: str) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_shim(dest, python, real_uv)
    return dest


def variants(root: Path, real_uv: str) -> dict[str, Variant]:
    """The variants the budget is about: bare uv, uv through the shim, the Python floor."""
    env = isolated_env(root)
    shim = make_shim(root / "bin" / "uv", sys.executable, real_uv)
    venv = root / "venv"
    subprocess.run([real_uv, "venv", "--python", sys.executable, str(venv)], env=env, check=True,
                   capture_output=True)
    pip_list = ["pip", "list", "--python", str(venv)]
    return {
        "bare uv --version": command([real_uv, "--version"], env),
        "shim uv --version": command([str(shim), "--version"], env),
        "bare uv pip list": command([real_uv, *pip_list], env),
        "shim uv pip list": command([str(shim), *pip_list], env),
        "python -I -S -c pass": command([sys.executable, "-I", "-S", "-c", "pass"], env),
    }


def verdicts(stats: dict[str, Stats]) -> list[str]:
    """One PASS/OVER line per command: the shim's overhead over bare uv, with the Python floor beside it."""
    floor = stats["python -I -S -c pass"].median
    lines = []
    for name in ("uv --version", "uv pip list"):
        shim, bare = stats[f"shim {name}"], stats[f"bare {name}"]
        overhead = shim.minus(bare)
        lines.append(verdict_line(
            overhead.median <= BUDGET_MS / 1000, f"shim overhead, `{name}`",
            f"{signed_ms(overhead.median)} median, {signed_ms(overhead.p95)} p95, "
            f"{shim.median / bare.median:.2f}x bare; a Python entry point would add ≥ {ms(floor).strip()}",
            f"≤ {BUDGET_MS} ms median"))
    return lines


def registry_append(state: Path) -> None:
    env = {"XDG_STATE_HOME": str(state), "HOME": str(state), "VIRTUAL_ENV": "/tmp/venv"}
    registry.append("/tmp/project", env, ["pip", "install", "requests", "--python", "/tmp/venv/bin/python"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", default=None, help="the real uv (default: the newest pinned test release)")
    parser.add_argument("--runs", type=int, default=150)
    options = parser.parse_args()
    real_uv = options.uv or pinned_uv()

    with tempfile.TemporaryDirectory(prefix="uvguard-bench-") as tmp:
        root = Path(tmp)
        env = isolated_env(root)
        shim = str(root / "bin" / "uv")
        true = shutil.which("true") or "/bin/true"
        true_env = dict(env, UVGUARD_REAL_UV=true)
        timings = variants(root, real_uv) | {
            "bare uv cache prune --help": command([real_uv, "cache", "prune", "--help"], env),
            "shim uv cache prune --help (py)": command([shim, "cache", "prune", "--help"], env),
            "bare true": command([true], env),
            "shim->true pip list": command([shim, "pip", "list"], true_env),
            "shim->true pip install (records)": command([shim, "pip", "install", "requests"], true_env),
            "registry.append in-process": timed(lambda: registry_append(root / "append-state")),
        }
        stats = {name: Stats.of(values) for name, values in interleave(timings, options.runs).items()}
        print(f"uv: {real_uv}; python: {sys.executable}; {options.runs} interleaved runs per variant")
        for name, figures in stats.items():
            print(figure_line(name, figures))
        print()
        for label, shimmed, bare in [
            ("python side, over bare uv", "shim uv cache prune --help (py)", "bare uv cache prune --help"),
            ("sh front alone, over bare true", "shim->true pip list", "bare true"),
            ("registry append, over no append", "shim->true pip install (records)", "shim->true pip list"),
        ]:
            print(figure_line(label, stats[shimmed].minus(stats[bare])))
        print(*verdicts(stats), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
