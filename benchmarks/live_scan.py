"""Live-set scan throughput, the remembered scan, and registry read cost, on a synthetic machine.

    python benchmarks/live_scan.py [--environments 20] [--files 200000] [--records 2000] [--dir /dev/shm]
                                   [--memory-environments 200] [--memory-files-each 10000]

Builds, in a temporary directory: a fake uv cache (`archive-v0/<id>/...`),
environments laid out like symlink-mode venvs (`lib/pythonX/site-packages/
<pkg>/<module>.py` links into the archive, plus a few real files and
dist-info directories), and a registry of `uv sync`/`uv venv`/`uv pip
install` records across projects. Prints directory entries scanned per
second (budget: 100k/s), the cost of reading and resolving the registry,
and a decision's live-set step over 200 environments of 10,000 links each
with no scan remembered (cold) and with every environment remembered and
checked unchanged (warm; budget 0.3 s; `uvguard.scanmemory`).
The figures are measured on the machine at hand; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from harness import Stats, figure_line, interleave, ms, timed, verdict_line

from uvguard import registry, scanmemory
from uvguard.live_set import scan_live_set
from uvguard.roots import Root, read_registry

BUDGET_PER_SECOND = 100_000
WARM_BUDGET_SECONDS = 0.3
FILES_PER_ARCHIVE = 50


def build_cache(cache: Path, archives: int) -> list[Path]:
    files = []
    for index in range(archives):
        package = cache / "archive-v0" / f"id{index:06d}" / f"pkg{index}"
        package.mkdir(parents=True)
        for module in range(FILES_PER_ARCHIVE):
            path = package / f"m{module}.py"
            path.write_bytes(b"")
            files.append(path)
    return files


def build_environment(root: Path, targets: list[Path]) -> int:
    """A venv whose files link to `targets`; returns how many directory entries it holds."""
    site = root / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "bin").mkdir()
    (root / "bin" / "python").symlink_to("/usr/bin/python3")
    entries = 5  # lib, python3.12, site-packages, pyvenv.cfg, bin (+ bin/python below)
    for start in range(0, len(targets), FILES_PER_ARCHIVE):
        chunk = targets[start:start + FILES_PER_ARCHIVE]
        package = site / chunk[0].parent.name
        package.mkdir()
        info = site / f"{chunk[0].parent.name}-1.0.dist-info"
        info.mkdir()
        (info / "RECORD").write_text("")
        entries += 3
        for target in chunk:
            (package / target.name).symlink_to(target)
        entries += len(chunk)
    return entries + 1


def build_registry(base: Path, env: dict, records: int, projects: int) -> None:
    for index in range(projects):
        project = base / "projects" / f"p{index}"
        project.mkdir(parents=True)
        (project / "pyproject.toml").write_text(f'[project]\nname = "p{index}"\nversion = "0"\n')
        (project / ".venv").mkdir()
    commands = (["sync", "--frozen"], ["venv", ".venv"], ["pip", "install", "-r", "requirements.txt"],
                ["run", "pytest"])
    for index in range(records):
        project = base / "projects" / f"p{index % projects}"
        registry.append(str(project), env, [*commands[index % len(commands)], f"--extra=x{index}"])


def build_machine(base: Path, environments: int, files: int) -> tuple[list[Root], int]:
    """The cache and the environments linking into it; returns the roots and their directory entries."""
    per_environment = files // environments
    targets = build_cache(base / "cache", 2 * per_environment // FILES_PER_ARCHIVE)
    entries, roots = 0, []
    for index in range(environments):
        # Environments share half their packages, as real ones do.
        chosen = sorted(targets[(index * per_environment // 2 + k) % len(targets)] for k in range(per_environment))
        entries += build_environment(base / "envs" / f"env{index}" / ".venv", chosen)
        roots.append(Root(str(base / "envs" / f"env{index}" / ".venv"), "registry"))
    return roots, entries


def measure_scan(base: Path, environments: int, files: int, repeat: int) -> tuple[Stats, int]:
    """Seconds per scan of the whole machine, and the directory entries it holds."""
    roots, entries = build_machine(base, environments, files)
    live = scan_live_set(base / "cache", roots)
    assert not live.uncertain and all(env.state == "ok" for env in live.environments)
    samples = interleave({"scan": timed(lambda: scan_live_set(base / "cache", roots))}, repeat, warmup=0)
    return Stats.of(samples["scan"]), entries


def measure_memory(base: Path, environments: int, files_each: int, repeat: int) -> tuple[Stats, Stats]:
    """Seconds for a decision's live-set step with nothing remembered (cold) and everything (warm).

    Both read the memory file from disk and write it when something changed,
    as a decision does; cold runs start without the file (removed off the clock).
    """
    roots, _ = build_machine(base, environments, environments * files_each)
    state = str(base / "state")
    memory = scanmemory.memory_path(state)
    time.sleep(scanmemory.RACY_SECONDS)  # directories just made are not trusted yet

    def cold() -> float:
        if os.path.exists(memory):
            os.unlink(memory)
        return timed(lambda: scan_live_set(base / "cache", roots, state))()

    expected = scan_live_set(base / "cache", roots)
    samples = interleave({"cold": cold, "warm": timed(lambda: scan_live_set(base / "cache", roots, state))},
                         repeat, warmup=1)
    warm = scan_live_set(base / "cache", roots, state)
    assert warm.environments == expected.environments, "the remembered scan differs from a full one"
    return Stats.of(samples["cold"]), Stats.of(samples["warm"])


def memory_verdict(cold: Stats, warm: Stats, environments: int, files_each: int) -> str:
    return verdict_line(warm.median <= WARM_BUDGET_SECONDS,
                        f"live set, {environments} environments × {files_each:,} links, warm",
                        f"{ms(warm.median).strip()} median, {ms(warm.p95).strip()} p95 "
                        f"(cold {ms(cold.median).strip()}, {cold.median / warm.median:.0f}x)",
                        f"≤ {WARM_BUDGET_SECONDS} s median")


def scan_verdict(stats: Stats, environments: int, entries: int) -> str:
    median, slow = entries / stats.median, entries / stats.p95
    return verdict_line(median >= BUDGET_PER_SECOND, f"live-set scan, {environments} environments, {entries} entries",
                        f"{median / 1000:.0f}k entries/s median ({ms(stats.median).strip()}), "
                        f"{slow / 1000:.0f}k/s p95 ({ms(stats.p95).strip()})",
                        f"≥ {BUDGET_PER_SECOND // 1000}k/s median")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, default=20)
    parser.add_argument("--files", type=int, default=200_000, help="total links across all environments")
    parser.add_argument("--records", type=int, default=2000, help="registry records")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory-environments", type=int, default=200)
    parser.add_argument("--memory-files-each", type=int, default=10_000)
    parser.add_argument("--dir", default=None, help="where to build the tree (default: the temp dir)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="uvguard-bench-", dir=options.dir) as tmp:
        base = Path(tmp)
        stats, entries = measure_scan(base, options.environments, options.files, options.repeat)
        print(figure_line(f"scan ({options.repeat} runs)", stats))
        print(scan_verdict(stats, options.environments, entries))
        env = {"XDG_STATE_HOME": str(base / "state"), "HOME": str(base)}
        build_registry(base, env, options.records, projects=50)
        samples = interleave({"read": timed(lambda: read_registry(env))}, options.repeat, warmup=0)
        print(figure_line(f"registry read, {options.records} records", Stats.of(samples["read"])))
    with tempfile.TemporaryDirectory(prefix="uvguard-bench-", dir=options.dir) as tmp:
        cold, warm = measure_memory(Path(tmp), options.memory_environments, options.memory_files_each, options.repeat)
        print(figure_line("live set, cold", cold))
        print(figure_line("live set, warm", warm))
        print(memory_verdict(cold, warm, options.memory_environments, options.memory_files_each))
    return 0


if __name__ == "__main__":
    sys.exit(main())
