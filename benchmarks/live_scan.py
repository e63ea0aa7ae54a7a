"""Live-set scan throughput and registry read cost, on a synthetic machine.

    python benchmarks/live_scan.py [--environments 20] [--files 200000] [--records 2000] [--dir /dev/shm]

Builds, in a temporary directory: a fake uv cache (`archive-v0/<id>/...`),
environments laid out like symlink-mode venvs (`lib/pythonX/site-packages/
<pkg>/<module>.py` links into the archive, plus a few real files and
dist-info directories), and a registry of `uv sync`/`uv venv`/`uv pip
install` records across projects. Prints directory entries scanned per
second (budget: 100k/s) and the cost of reading and resolving the registry.
The figures are measured on the machine at hand; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from uvguard import registry  # noqa: E402
from uvguard.live_set import scan_live_set  # noqa: E402
from uvguard.roots import Root, read_registry  # noqa: E402

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
    commands = (["sync", "--frozen"], ["venv", ".venv"], ["pip", "install", "-r", "requirements.txt"], ["run", "pytest"])
    for index in range(records):
        project = base / "projects" / f"p{index % projects}"
        registry.append(str(project), env, [*commands[index % len(commands)], f"--extra=x{index}"])


def timed(function, repeat: int) -> tuple[float, float, object]:
    """(median, best) seconds over `repeat` runs, and the last result; best shows the cost on an idle machine."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, default=20)
    parser.add_argument("--files", type=int, default=200_000, help="total links across all environments")
    parser.add_argument("--records", type=int, default=2000, help="registry records")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where to build the tree (default: the temp dir)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="uvguard-bench-", dir=options.dir) as tmp:
        base = Path(tmp)
        per_environment = options.files // options.environments
        archives = 2 * per_environment // FILES_PER_ARCHIVE
        targets = build_cache(base / "cache", archives)
        entries, roots = 0, []
        for index in range(options.environments):
            # Environments share half their packages, as real ones do.
            chosen = [targets[(index * per_environment // 2 + k) % len(targets)] for k in range(per_environment)]
            chosen.sort()
            entries += build_environment(base / "envs" / f"env{index}" / ".venv", chosen)
            roots.append(Root(str(base / "envs" / f"env{index}" / ".venv"), "registry"))

        median, best, live = timed(lambda: scan_live_set(base / "cache", roots), options.repeat)
        assert not live.uncertain and all(env.state == "ok" for env in live.environments)
        print(f"scan: {options.environments} environments, {entries} directory entries, "
              f"{len(live.entries)} live entries: {median * 1000:.0f} ms median, {best * 1000:.0f} ms best "
              f"of {options.repeat} -> {entries / median / 1000:.0f}k entries/s median, "
              f"{entries / best / 1000:.0f}k best (budget >= 100k/s)")

        env = {"XDG_STATE_HOME": str(base / "state"), "HOME": str(base)}
        build_registry(base, env, options.records, projects=50)
        median, best, view = timed(lambda: read_registry(env), options.repeat)
        print(f"registry read: {options.records} records, {len(view.paths)} environments: "
              f"{median * 1000:.1f} ms median, {best * 1000:.1f} ms best ({best / options.records * 1e6:.1f} us/record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
