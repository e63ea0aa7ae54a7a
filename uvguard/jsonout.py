"""Every `--json` output, and every decisions-log line, through one emitter: a versioned contract.

Each carries `"schema_version"`; the JSON Schema of each kind ships in
`uvguard/schemas/<kind>.schema.json` (the tests validate real outputs
against them). Raise SCHEMA_VERSION when a field is renamed, removed or
changes meaning; adding a field does not.
"""

from __future__ import annotations

import json

SCHEMA_VERSION = 1
KINDS = ("check", "explain", "live", "roots", "roots-discover", "doctor", "cache-operation", "gc", "policy-show",
         "decision-log")


def stamped(kind: str, data: dict) -> dict:
    """`data` with the schema version first; `kind` must name a shipped schema."""
    if kind not in KINDS:
        raise ValueError(f"no JSON schema for output kind {kind!r}")
    return {"schema_version": SCHEMA_VERSION, **data}


def emit_json(kind: str, data: dict) -> None:
    """Print `data` (one `--json` output of kind `kind`) on stdout."""
    import typer  # not at the top: the shim's guarded path stamps its log lines without typer

    typer.echo(json.dumps(stamped(kind, data), indent=2))
