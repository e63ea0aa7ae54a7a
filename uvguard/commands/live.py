"""`uvguard live`: the cache entries environments link into, who uses them, and the space they keep."""

from __future__ import annotations

import json
import os
from typing import Mapping

import typer

from uvguard import messages
from uvguard.messages import human_readable_bytes
from uvguard.invocation import parse
from uvguard.live_set import LiveSet, scan_live_set
from uvguard.policy import load_policy
from uvguard.registry import state_dir
from uvguard.roots import find_roots
from uvguard.uvconfig import effective_config


def current_live_set(env: Mapping[str, str], cwd: str) -> LiveSet:
    """The live set of the cache a plain `uv` would use from `cwd`, with every kind of root."""
    invocation = parse([])
    config = effective_config(invocation, env, cwd)
    policy_roots = load_policy(env, cwd, config.project_dir).root_paths
    roots = find_roots(invocation, config, env, cwd, policy_roots)
    return scan_live_set(config.cache_dir, roots, state_dir(env))


def entry_size(path: str) -> int:
    """Bytes under a cache entry, each inode once, never following a link."""
    total, seen, pending = 0, set(), [path]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        total += info.st_size
        except OSError:
            continue
    return total


def live_report(live: LiveSet) -> dict:
    entries = {entry: {"environments": list(users), "bytes": entry_size(os.path.join(live.cache_dir, entry))}
               for entry, users in live.entries.items()}
    return {"cache_dir": live.cache_dir, "uncertain": live.uncertain, "reasons": list(live.reasons),
            "entries": entries, "total_bytes": sum(e["bytes"] for e in entries.values())}


def register(app: typer.Typer) -> None:
    @app.command()
    def live(as_json: bool = typer.Option(False, "--json", help="Print the live set as JSON.")) -> None:
        """List the cache entries that environments link into, and the total size they keep."""
        report = live_report(current_live_set(dict(os.environ), os.getcwd()))
        if as_json:
            typer.echo(json.dumps(report, indent=2))
            return
        typer.echo(f"cache: {report['cache_dir']}")
        for entry, info in report["entries"].items():
            typer.echo(f"{entry}  {human_readable_bytes(info['bytes'])}  used by {', '.join(info['environments'])}")
        typer.echo(f"{len(report['entries'])} live entries, {human_readable_bytes(report['total_bytes'])} kept")
        for reason in report["reasons"]:
            messages.warning(f"the live set is uncertain: {reason}")
