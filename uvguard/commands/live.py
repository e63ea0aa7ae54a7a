"""`uvguard live`: the cache entries environments link into, who uses them, and the space they keep."""

from __future__ import annotations

import os

import typer

from uvguard import globalopts, messages
from uvguard.jsonout import emit_json
from uvguard.live_set import LiveSet
from uvguard.messages import human_readable_bytes
from uvguard.pipeline import Pipeline, location_pipeline
from uvguard.progress import phase
from uvguard.sizes import counts_blocks, measure


def size_counting(pipeline: Pipeline) -> bool:
    """Whether sizes count blocks freed (the real uv's way since 0.12) or file sizes: as the run would."""
    if pipeline.real_uv is None:
        return False
    return counts_blocks(pipeline.config.cache_dir, pipeline.invocation, pipeline.real_uv, pipeline.env)


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
        # the shim's own pipeline for the `uv cache prune` these global options describe
        pipeline = location_pipeline(globalopts.current().uv_args, dict(os.environ), os.getcwd())
        live = pipeline.live_set
        with phase("Measuring"):
            report = live_report(live, size_counting(pipeline))
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
