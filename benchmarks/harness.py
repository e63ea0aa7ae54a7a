"""What every benchmark shares: interleaved runs, median and p95, and the verdict line.

On a shared machine absolute times drift from minute to minute, so variants
that are compared are run interleaved, in a fresh shuffled order each round:
drift then hits every variant alike and their ratio holds. A variant is a
callable that returns the seconds it took (`command` and `timed` make one),
so a variant can keep its own set-up, such as copying a cache, off the clock.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

Variant = Callable[[], float]


def pinned_uv() -> str:
    """The newest pinned uv release, as the tests use it; exits with the command that fetches it."""
    from tests import uv_releases

    try:
        return str(uv_releases.path(uv_releases.LATEST))
    except FileNotFoundError as error:
        raise SystemExit(f"error: {error} (or run ./scripts/test, which fetches every pinned release)") from None


def isolated_env(root: Path) -> dict[str, str]:
    """An environment of its own for uv and the shim: HOME, state, config and cache under `root`, offline."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root),
            "XDG_STATE_HOME": str(root / "state"), "XDG_CONFIG_HOME": str(root / "config"),
            "UV_CACHE_DIR": str(root / "cache"), "UV_NO_PROGRESS": "1", "UV_OFFLINE": "1",
            "UV_PYTHON_DOWNLOADS": "never"}


def command(argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None) -> Variant:
    """A variant that runs `argv` and returns its wall time; output is discarded, failure is an error."""
    def run() -> float:
        start = time.perf_counter()
        result = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"error: {' '.join(argv)} exited {result.returncode}: {result.stderr.decode()}")
        return elapsed

    return run


def timed(function: Callable[[], object]) -> Variant:
    """A variant that calls `function` in this process."""
    def run() -> float:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    return run


def interleave(variants: Mapping[str, Variant], runs: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per run of each variant, `runs` rounds in shuffled order after `warmup` unrecorded ones."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for round_number in range(warmup + runs):
        random.shuffle(order)
        for name in order:
            elapsed = variants[name]()
            if round_number >= warmup:
                samples[name].append(elapsed)
    return samples


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was measured, not an interpolation."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Stats:
    median: float
    p95: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        return cls(statistics.median(values), percentile(values, 0.95))

    def minus(self, other: Stats) -> Stats:
        """The overhead over `other`: difference of medians, and of p95s."""
        return Stats(self.median - other.median, self.p95 - other.p95)

    def scaled(self, factor: float) -> Stats:
        return Stats(self.median * factor, self.p95 * factor)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def signed_ms(seconds: float) -> str:
    """A difference: always with its sign."""
    return f"{seconds * 1000:+.2f} ms"


def figure_line(name: str, stats: Stats, unit: Callable[[float], str] = ms) -> str:
    return f"    {name:42} median {unit(stats.median)}   p95 {unit(stats.p95)}"


def verdict(passed: bool) -> str:
    return "PASS" if passed else "OVER"


def verdict_line(passed: bool, what: str, detail: str, budget: str) -> str:
    """The one line a reader looks for: PASS or OVER, the figure, the budget."""
    return f"  {verdict(passed)}  {what}: {detail} (budget {budget})"


# GNU time forks the command from its own small process, so the peak it reports is the command's own:
# a child started from this Python process carries this process's memory high-water mark through exec.
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


def run_measured(argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[float, float | None, str]:
    """Wall seconds, peak resident memory in MiB (None without GNU time) and stdout of one child process."""
    with tempfile.NamedTemporaryFile(mode="r", prefix="peak-") as peak:
        wrapper = [GNU_TIME, "-f", "%M", "-o", peak.name] if GNU_TIME else []
        start = time.perf_counter()
        result = subprocess.run([*wrapper, *argv], env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"error: {argv[0]} exited {result.returncode}: {result.stderr}")
        kib = peak.read().strip()
    return elapsed, int(kib) / 1024 if kib else None, result.stdout


def machine() -> str:
    """One line naming what the figures were measured on, load included."""
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} × {cpu}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average {load}")
