"""A guarded `uv cache prune` after 10,000 and 100,000 recorded commands vs a fresh registry.

    python benchmarks/registry_growth.py [--uv PATH] [--runs N] [--records 10000 100000]

Twenty environments are alive (copy-mode venvs the registry names, each one
record in the fresh registry). The grown registries hold, besides those,
N records in the shim's format: four in five into per-task venvs that are
gone, the rest more commands into the live ones. They are written and
folded as a month of use does: in batches, a decision (an in-process fold)
after each, the clock moved on so the gone ones are long gone; the last
batch is left for the measured decisions to fold. Every variant then runs
`uv cache prune` through a shim whose Python side is a normal install, with
its own state directory and the same small cache, interleaved.

Budget: each grown registry at most 1.5x the fresh one (median). Also
printed, without a budget: the first decision after N records appended at
once with no decision between (it folds them all, once).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Stats, Variant, command, figure_line, interleave, isolated_env, ms, pinned_uv, verdict_line
from intercepted import install_uvguard, wheelhouse

from uvguard import paths, registry
from uvguard.roots import read_registry
from uvguard.shimfile import write_shim

BUDGET_RATIO = 1.5
LIVE_ENVIRONMENTS = 20
BATCH = 1000
FRESH = "fresh registry"


def grown(records: int) -> str:
    return f"{records:,} records"


def record_lines(records: int, live: list[Path], tasks: Path) -> list[str]:
    """The shim's lines: four in five into per-task venvs (made, used, deleted), the rest into live ones."""
    lines = []
    for index in range(records):
        if index % 5:
            task = tasks / f"task-{index}" / ".venv"
            args = ["venv", str(task)] if index % 2 else ["pip", "install", "--python", str(task), "requests"]
            cwd = task.parent
        else:
            venv = live[index % len(live)]
            args, cwd = ["pip", "install", "--python", str(venv), f"pkg{index % 97}"], venv.parent
        lines.append(registry.format_record(str(cwd), {"HOME": str(tasks)}, args))
    return lines


def grow(state: Path, lines: list[str], fold: bool) -> None:
    """Append `lines` as the shim does; with `fold`, a decision after each batch but the last, a day apart."""
    env = {"XDG_STATE_HOME": str(state), "HOME": str(state)}
    path = Path(registry.registry_path(env))
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.time() - 40 * 86400
    batches = [lines[max(0, end - BATCH):end] for end in range(len(lines), 0, -BATCH)][::-1]
    for number, batch in enumerate(batches):
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("".join(batch))
        if fold and number < len(batches) - 1:
            read_registry(env, now=start + number * 86400 / 3)


def variants(root: Path, real_uv: str, sizes: list[int]) -> tuple[dict[str, Variant], dict[str, Variant]]:
    """The interleaved variants, and the one-off first decisions over unfolded registries."""
    env = isolated_env(root)
    shim = root / "bin" / "uv"
    shim.parent.mkdir(parents=True)
    write_shim(shim, install_uvguard(root / "installed", real_uv, env), real_uv)
    live = []
    for index in range(LIVE_ENVIRONMENTS):
        venv = root / "projects" / f"p{index}" / ".venv"
        subprocess.run([real_uv, "venv", "--python", sys.executable, str(venv)], env=env, check=True,
                       capture_output=True)
        live.append(venv)
    subprocess.run([real_uv, "pip", "install", "--python", str(live[0]), "--link-mode", "copy", "--no-index",
                    "--find-links", str(wheelhouse()), "tomli-w"], env=env, check=True, capture_output=True)
    fresh = [registry.format_record(str(v.parent), {"HOME": str(root)}, ["venv", str(v)]) for v in live]
    states = {FRESH: root / "state-fresh"}
    grow(states[FRESH], fresh, fold=False)
    once = {}
    for size in sizes:
        lines = record_lines(size, live, root / "tasks")
        states[grown(size)] = root / f"state-{size}"
        grow(states[grown(size)], fresh + lines, fold=True)
        grow(root / f"state-{size}-unfolded", fresh + lines, fold=False)
        once[f"first decision, {grown(size)} unfolded"] = command(
            [str(shim), "cache", "prune"], {**env, "XDG_STATE_HOME": str(root / f"state-{size}-unfolded")})
    runs = {name: command([str(shim), "cache", "prune"], {**env, "XDG_STATE_HOME": str(state)})
            for name, state in states.items()}
    return runs, once


def verdicts(stats: dict[str, Stats], sizes: list[int]) -> list[str]:
    fresh = stats[FRESH]
    return [verdict_line(stats[grown(size)].median <= BUDGET_RATIO * fresh.median,
                         f"guarded `uv cache prune`, {grown(size)} vs a fresh registry",
                         f"{stats[grown(size)].median / fresh.median:.2f}x ({ms(stats[grown(size)].median).strip()} "
                         f"vs {ms(fresh.median).strip()})", f"≤ {BUDGET_RATIO}x median")
            for size in sizes]


def index_entries(root: Path, size: int) -> int:
    env = {"XDG_STATE_HOME": str(root / f"state-{size}"), "HOME": str(root)}
    import json

    return len(json.loads(Path(paths.state_dir(env), registry.INDEX).read_text())["entries"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", default=None, help="the real uv (default: the newest pinned test release)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uvguard-bench-") as tmp:
        runs, once = variants(Path(tmp), options.uv or pinned_uv(), options.records)
        stats = {name: Stats.of(values) for name, values in interleave(runs, options.runs).items()}
        for name, figures in stats.items():
            print(figure_line(name, figures))
        for name, run in once.items():
            print(f"    {name:42} {ms(run())}")
        print(*verdicts(stats, options.records), sep="\n")
        for size in options.records:
            print(f"    index entries after {grown(size)}: {index_entries(Path(tmp), size)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
