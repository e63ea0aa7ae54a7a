"""`uvguard live`: the cache entries environments link into, who uses them, and the space they keep."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import typer

from uvguard import globalopts, messages
from uvguard.invocation import parse
from uvguard.jsonout import emit_json
from uvguard.live_set import LiveSet, scan_live_set
from uvguard.messages import human_readable_bytes
from uvguard.policy import load_policy
from uvguard.progress import phase
from uvguard.registry import state_dir
from uvguard.roots import find_roots
from uvguard.sizes import counts_blocks, measure
from uvguard.uvconfig import effective_config


def current_live_set(env: Mapping[str, str], cwd: str, uv_args: Sequence[str] = ()) -> LiveSet:
    """The live set of the cache `uv UV_ARGS` (global options) would use from `cwd`, with every kind of root."""
    invocation = parse(uv_args)
    config = effective_config(invocation, env, cwd)
    policy_roots = load_policy(env, cwd, config.project_dir).root_paths
    roots = find_roots(invocation, config, env, cwd, policy_roots)
    with phase("Scanning environments"):
        return scan_live_set(config.cache_dir, roots, state_dir(env))


def size_counting(cache_dir: str, uv_args: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether sizes count blocks freed (the real uv's way since 0.12) or file sizes: as the run would."""
    from uvguard.errors import RealUvNotFound
    from uvguard.realuv import find_real_uv

    try:
        real_uv = find_real_uv(env, shim=None)
    except RealUvNotFound:
        return False
    return counts_blocks(cache_dir, parse([*uv_args, "cache", "prune"]), real_uv, env)


def live_report(live: LiveSet, physical: bool) -> dict:
    entries = [{"path": entry, "bytes": measure(os.path.join(live.cache_dir, entry), physical).bytes,
                "environments": list(users)} for entry, users in live.entries.items()]
    return {"cache_dir": live.cache_dir, "uncertain": live.uncertain, "uncertain_reasons": list(live.reasons),
            "size_accounting": "physical" if physical else "logical",
            "entries": entries, "kept_bytes": sum(e["bytes"] for e in entries)}


def register(app: typer.Typer) -> None:
    @app.command()
    def live(as_json: bool = typer.Option(False, "--json", help="Print the live set as JSON.")) -> None:
        """List the cache entries that environments link into, and the total size they keep."""
        env, uv_args = dict(os.environ), globalopts.current().uv_args
        live = current_live_set(env, os.getcwd(), uv_args)
        with phase("Measuring"):
            report = live_report(live, size_counting(live.cache_dir, uv_args, env))
        if as_json:
            emit_json("live", report)
            return
        typer.echo(f"cache: {report['cache_dir']}")
        for entry in report["entries"]:
            typer.echo(f"{entry['path']}  {human_readable_bytes(entry['bytes'])}  used by "
                       f"{', '.join(entry['environments'])}")
        typer.echo(f"{len(report['entries'])} live entries, {human_readable_bytes(report['kept_bytes'])} kept")
        for reason in report["uncertain_reasons"]:
            messages.warning(f"the live set is uncertain: {reason}")
