"""Every speed budget of uvguard, measured side by side in one run (what `benchmarks/run` runs).

    benchmarks/run [--quick] [--uv PATH] [--dir DIR]

Runs, in order: passthrough overhead, the guard on `uv cache prune` with
nothing live, effective-config resolution, live-set scan throughput, the
limited prune against real `uv cache prune` with its peak memory, the
guard after 10,000 and 100,000 recorded commands against a fresh registry,
the live set of 200 environments × 10,000 links cold and remembered, and
`uvguard gc` against real `uv cache prune`. Each
section prints median and p95 of its variants, measured interleaved in this
run, and a PASS or OVER line against its budget. Nothing here is a test:
a figure over budget is reported, never an error.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import config_resolution
import gc_vs_prune
import intercepted
import limited_prune
import live_scan
import passthrough
import registry_growth
from harness import Stats, figure_line, interleave, machine, ms, pinned_uv

SIZES = {
    # runs per variant, and the sizes of the synthetic trees
    "default": {"passthrough": 100, "intercepted": 40, "config": 500, "scan_files": 200_000, "scan": 7,
                "prune_archives": 1000, "prune": 5, "records": [10_000, 100_000], "growth": 20,
                "memory_files_each": 10_000, "memory": 5, "gc": 3},
    # --quick keeps the 50k-file prune cache: on a smaller one a Python start dominates the ratio.
    "quick": {"passthrough": 30, "intercepted": 10, "config": 100, "scan_files": 50_000, "scan": 3,
              "prune_archives": 1000, "prune": 2, "records": [10_000], "growth": 5,
              "memory_files_each": 1_000, "memory": 3, "gc": 1},
}
SCAN_ENVIRONMENTS = 20
MEMORY_ENVIRONMENTS = 200


def section(title: str) -> None:
    print(f"\n{title}", flush=True)


def interleaved_stats(variants: dict, runs: int) -> dict[str, Stats]:
    stats = {name: Stats.of(values) for name, values in interleave(variants, runs).items()}
    for name, figures in stats.items():
        print(figure_line(name, figures))
    return stats


def show(lines: list[str]) -> list[str]:
    print(*lines, sep="\n", flush=True)
    return lines


def run(options: argparse.Namespace, real_uv: str) -> list[str]:
    """Every section in turn; returns the verdict lines."""
    size = SIZES["quick" if options.quick else "default"]
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="uvguard-bench-", dir=options.dir) as tmp:
        base = Path(tmp)
        section(f"1. passthrough overhead ({size['passthrough']} interleaved runs)")
        stats = interleaved_stats(passthrough.variants(base / "passthrough", real_uv), size["passthrough"])
        verdicts += show(passthrough.verdicts(stats))

        section(f"2. guarded `uv cache prune`, nothing live ({size['intercepted']} interleaved runs)")
        stats = interleaved_stats(intercepted.variants(base / "intercepted", real_uv), size["intercepted"])
        verdicts += show([intercepted.verdict(stats)])

        section(f"3. effective config resolution ({size['config']} runs)")
        (base / "config").mkdir()
        config, files = config_resolution.measure(base / "config", size["config"])
        print(figure_line("effective_config(`uv cache prune`)", config))
        verdicts += show([config_resolution.verdict(config, files)])

        section(f"4. live-set scan, {SCAN_ENVIRONMENTS} environments, {size['scan_files']} links "
                f"({size['scan']} runs, tree in {options.scan_dir})")
        with tempfile.TemporaryDirectory(prefix="uvguard-bench-", dir=options.scan_dir) as scan_tmp:
            scan, entries = live_scan.measure_scan(Path(scan_tmp), SCAN_ENVIRONMENTS, size["scan_files"], size["scan"])
        print(figure_line("scan_live_set, 20 roots", scan))
        verdicts += show([live_scan.scan_verdict(scan, SCAN_ENVIRONMENTS, entries)])

        section(f"5–6. limited prune vs real `uv cache prune` ({size['prune']} interleaved runs, fresh copies)")
        result = limited_prune.measure(base / "prune", real_uv, size["prune_archives"], runs=size["prune"])
        for name, figures in result.times.items():
            print(figure_line(name, figures))
        verdicts += show(limited_prune.verdicts(result))

        section(f"7. guarded `uv cache prune` after {' and '.join(f'{n:,}' for n in size['records'])} recorded "
                f"commands vs a fresh registry ({size['growth']} interleaved runs)")
        runs, once = registry_growth.variants(base / "growth", real_uv, size["records"])
        stats = interleaved_stats(runs, size["growth"])
        for name, run_once in once.items():
            print(f"    {name:42} {ms(run_once())} (once)")
        verdicts += show(registry_growth.verdicts(stats, size["records"]))

        section(f"8. live set, {MEMORY_ENVIRONMENTS} environments × {size['memory_files_each']:,} links, cold and "
                f"remembered ({size['memory']} interleaved runs, tree in {options.scan_dir})")
        with tempfile.TemporaryDirectory(prefix="uvguard-bench-", dir=options.scan_dir) as scan_tmp:
            cold, warm = live_scan.measure_memory(Path(scan_tmp), MEMORY_ENVIRONMENTS, size["memory_files_each"],
                                                  size["memory"])
        print(figure_line("live set, nothing remembered (cold)", cold))
        print(figure_line("live set, every environment remembered", warm))
        verdicts += show([live_scan.memory_verdict(cold, warm, MEMORY_ENVIRONMENTS, size["memory_files_each"])])

        section(f"9. `uvguard gc` vs real `uv cache prune`, half the wheels in use ({size['gc']} interleaved runs)")
        times, outcome, files, _ = gc_vs_prune.measure(base / "gc", real_uv, size["prune_archives"], runs=size["gc"])
        for name, figures in times.items():
            print(figure_line(name, figures))
        verdicts += show(gc_vs_prune.verdicts(times, outcome, files))
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller trees (about a minute)")
    parser.add_argument("--uv", default=None, help="the real uv (default: the newest pinned test release)")
    parser.add_argument("--dir", default=None, help="where to build caches and venvs (default: the temp dir)")
    parser.add_argument("--scan-dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                        help="where to build the 200k-entry scan tree (default: /dev/shm, which builds it in "
                             "seconds; the scan reads from the dentry cache either way)")
    options = parser.parse_args()
    real_uv = options.uv or pinned_uv()
    version = subprocess.run([real_uv, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    started = time.monotonic()
    print(f"uvguard benchmarks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
          f"{' (--quick)' if options.quick else ''}")
    print(f"machine: {machine()}")
    print(f"real uv: {version} ({real_uv}); dev python: {sys.executable}")
    verdicts = run(options, real_uv)
    print(f"\nsummary ({time.monotonic() - started:.0f} s; {machine().rsplit('; ', 1)[1]} at the end)")
    print(*verdicts, sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
