"""Limited prune against real `uv cache prune`, on identical copies of a ~50k-file cache.

    python benchmarks/limited_prune.py [--archives 1000] [--files-per-archive 50] [--live 0.1] [--ci] [--uv PATH]

Builds a cache in uv 0.13's layout (`archive-v0/<id>/<pkg>/*.py`, half of
the archives referenced from `wheels-v8` by relative links as uv writes them,
half dangling), then per run copies it twice (`cp -a`) and times, each in its
own process: real `uv cache prune [--ci]` on one copy, and the limited prune
(`run_limited`, live entries given, i.e. without the live-set scan) on the
other, with a fraction of the archives live. Prints both times, their ratio
(budget: limited <= 1.5x uv) and the peak memory of each process. The
figures are measured on the machine at hand; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_LIMITED = """
import json, sys
from pathlib import Path
from types import SimpleNamespace
from uvguard import messages
from uvguard.invocation import parse
from uvguard.limited import run_limited
cache, uv, ci, live = sys.argv[1], sys.argv[2], sys.argv[3] == "1", json.loads(sys.argv[4])
args = ["--cache-dir", cache, "cache", "prune"] + (["--ci"] if ci else [])
result = run_limited(parse(args), SimpleNamespace(cache_dir=Path(cache), no_cache=False), uv, {"PATH": "/usr/bin:/bin"},
                     {entry: ["/bench/env"] for entry in live}, messages.Voice(quiet=1))
print(len(result.removed), result.num_files, len(result.kept))
"""


def build_cache(cache: Path, archives: int, files_per_archive: int) -> list[str]:
    """The cache; returns the archive entries (`archive-v0/<id>`)."""
    entries = []
    for index in range(archives):
        entry = f"archive-v0/a{index:06d}"
        package = cache / entry / f"pkg{index}"
        package.mkdir(parents=True)
        for module in range(files_per_archive - 1):
            (package / f"m{module}.py").write_bytes(b"x = 1\n" * 20)
        info = cache / entry / f"pkg{index}-1.0.dist-info"
        info.mkdir()
        (info / "RECORD").write_text("")
        entries.append(entry)
        if index % 2 == 0:  # referenced, as uv's wheel bucket does
            wheel = cache / "wheels-v8" / "pypi" / f"pkg{index}"
            wheel.mkdir(parents=True)
            (wheel / "1.0-py3-none-any.http").write_bytes(b"\x00" * 64)
            os.symlink(f"../../../archive-v0/a{index:06d}", wheel / "1.0-py3-none-any")
    (cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    return entries


def run_measured(args: list[str]) -> tuple[float, int, str]:
    """Seconds, peak RSS in MiB and stdout of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    out = process.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[0]} failed: {process.stderr.read()}")
    return elapsed, usage.ru_maxrss // 1024, out


def copy(source: Path, dest: Path) -> None:
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=1000)
    parser.add_argument("--files-per-archive", type=int, default=50)
    parser.add_argument("--live", type=float, default=0.1, help="fraction of archives that are live")
    parser.add_argument("--ci", action="store_true", help="prune --ci (removes every unzipped wheel)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--uv", default=str(ROOT / ".test-cache" / "uv" / "0.13.9" / "uv"))
    parser.add_argument("--dir", default=None, help="where to build the caches (default: the temp dir)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="uvguard-bench-", dir=options.dir) as tmp:
        base = Path(tmp)
        entries = build_cache(base / "template", options.archives, options.files_per_archive)
        step = max(1, round(1 / options.live)) if options.live else 0
        live = [entry for index, entry in enumerate(entries) if step and index % step == 1]
        files = sum(len(names) for _, _, names in os.walk(base / "template"))
        uv_args = ["cache", "prune"] + (["--ci"] if options.ci else [])
        uv_times, limited_times, uv_memory, limited_memory = [], [], [], []
        for run in range(options.repeat):
            copy(base / "template", base / f"uv{run}")
            copy(base / "template", base / f"limited{run}")
            elapsed, memory, _ = run_measured([options.uv, "--no-config", "--offline", "--no-progress",
                                               "--cache-dir", str(base / f"uv{run}"), *uv_args])
            uv_times.append(elapsed)
            uv_memory.append(memory)
            elapsed, memory, out = run_measured([sys.executable, "-c", _LIMITED, str(base / f"limited{run}"),
                                                 options.uv, "1" if options.ci else "0", json.dumps(live)])
            limited_times.append(elapsed)
            limited_memory.append(memory)
        uv_time, limited_time = statistics.median(uv_times), statistics.median(limited_times)
        removed, removed_files, kept = out.split()
        print(f"cache: {files} files in {len(entries)} archives (half referenced), {len(live)} live; "
              f"`uv {' '.join(uv_args)}` ({Path(options.uv).parent.name})")
        print(f"real uv:  {uv_time * 1000:.0f} ms median of {options.repeat}, peak {max(uv_memory)} MiB")
        print(f"limited:  {limited_time * 1000:.0f} ms median of {options.repeat}, peak {max(limited_memory)} MiB "
              f"({removed} entries, {removed_files} files removed, {kept} live kept)")
        print(f"ratio: {limited_time / uv_time:.2f}x (budget <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
