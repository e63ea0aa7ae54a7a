"""What the guard adds to `uv cache prune` when nothing is live (a benchmark, not a test).

    python benchmarks/intercepted.py [--uv PATH] [--runs N]

A small real cache (a venv installed from the test wheelhouse with
`--link-mode copy`, through the shim, so the registry names it and the guard
scans it) and `uv cache prune` on it, interleaved N times (default 40): bare,
through a shim whose Python side runs from a normal install (a throwaway venv
with uvguard and its dependencies installed from the wheelhouse, as
install.sh does), and through a shim run by the dev venv, whose editable
install adds its import finder. The guard decides "allow" and execs uv; after
the first run the prune has nothing left to remove, so every run measures the
decision plus uv's own scan of the cache.

Budget: the installed shim adds at most 40 ms median over bare uv.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import (
    REPO,
    Stats,
    Variant,
    command,
    figure_line,
    interleave,
    isolated_env,
    pinned_uv,
    signed_ms,
    verdict_line,
)

from uvguard.shimfile import write_shim

BUDGET_MS = 40
WHEELHOUSE = REPO / ".test-cache" / "wheelhouse"
INSTALLED, EDITABLE = "shim (installed) uv cache prune", "shim (dev venv, editable) uv cache prune"


def wheelhouse() -> Path:
    if not any(WHEELHOUSE.glob("typer-*.whl")):
        raise SystemExit(f"error: no wheels in {WHEELHOUSE}; run ./scripts/test once, it builds them")
    return WHEELHOUSE


def install_uvguard(venv: Path, real_uv: str, env: dict[str, str]) -> str:
    """A venv with uvguard installed as a user gets it (not editable); returns its python."""
    subprocess.run([real_uv, "venv", "--python", sys.executable, str(venv)], env=env, check=True, capture_output=True)
    subprocess.run([real_uv, "pip", "install", "--python", str(venv), "--no-index", "--find-links", str(wheelhouse()),
                    "--compile-bytecode", "--cache-dir", str(venv.parent / "build-cache"), str(REPO)],
                   env=env, check=True, capture_output=True)
    return str(venv / "bin" / "python")


def variants(root: Path, real_uv: str) -> dict[str, Variant]:
    env = isolated_env(root)
    installed_shim, editable_shim = root / "bin" / "uv", root / "dev-bin" / "uv"
    for shim, python in ((installed_shim, install_uvguard(root / "installed", real_uv, env)),
                         (editable_shim, sys.executable)):
        shim.parent.mkdir()
        write_shim(shim, python, real_uv)
    # The small cache, and an environment the registry knows of that links nowhere into it.
    subprocess.run([str(installed_shim), "venv", "--python", sys.executable, str(root / "project-venv")],
                   env=env, check=True, capture_output=True)
    subprocess.run([str(installed_shim), "pip", "install", "--python", str(root / "project-venv"), "--link-mode",
                    "copy", "--no-index", "--find-links", str(wheelhouse()), "typer", "tomli-w"],
                   env=env, check=True, capture_output=True)
    prune = ["cache", "prune"]
    return {
        "bare uv cache prune": command([real_uv, *prune], env),
        INSTALLED: command([str(installed_shim), *prune], env),
        EDITABLE: command([str(editable_shim), *prune], env),
    }


def verdict(stats: dict[str, Stats]) -> str:
    bare, installed = stats["bare uv cache prune"], stats[INSTALLED]
    overhead = installed.minus(bare)
    editable = stats[EDITABLE].minus(bare)
    return verdict_line(overhead.median <= BUDGET_MS / 1000, "guard overhead, `uv cache prune`, nothing live",
                        f"{signed_ms(overhead.median)} median, {signed_ms(overhead.p95)} p95, "
                        f"{installed.median / bare.median:.1f}x bare (editable dev venv: {signed_ms(editable.median)})",
                        f"≤ {BUDGET_MS} ms median over bare")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", default=None, help="the real uv (default: the newest pinned test release)")
    parser.add_argument("--runs", type=int, default=40)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uvguard-bench-") as tmp:
        samples = interleave(variants(Path(tmp), options.uv or pinned_uv()), options.runs)
    stats = {name: Stats.of(values) for name, values in samples.items()}
    for name, figures in stats.items():
        print(figure_line(name, figures))
    print(verdict(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
