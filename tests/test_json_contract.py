"""The JSON contract: every `--json` output and decisions-log line is versioned, named consistently,
and valid against the schema shipped in the package; the policy schema accepts the presets."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, make_sandbox, uv_path
from tests.test_guard_shim import Machine
from uvguard import jsonout, policy
from uvguard.tomlfile import load_toml

jsonschema = pytest.importorskip("jsonschema")

UVGUARD = str(Path(sys.executable).parent / "uvguard")
SCHEMAS = REPO / "uvguard" / "schemas"


def schema(kind: str) -> dict:
    return json.loads((SCHEMAS / f"{kind}.schema.json").read_text())


def validate(kind: str, data: dict) -> None:
    jsonschema.Draft202012Validator(schema(kind)).validate(data)


def test_every_output_kind_has_a_valid_schema_and_every_schema_a_kind():
    files = {path.name.removesuffix(".schema.json") for path in SCHEMAS.glob("*.schema.json")}
    assert files == {*jsonout.KINDS, "policy"}
    for kind in files:
        jsonschema.Draft202012Validator.check_schema(schema(kind))
    for kind in jsonout.KINDS:
        assert schema(kind)["properties"]["schema_version"] == {
            "const": jsonout.SCHEMA_VERSION, "description": schema(kind)["properties"]["schema_version"]["description"]}
        assert "schema_version" in schema(kind)["required"]


def test_the_schemas_ship_in_the_wheel():
    wheels = sorted((REPO / ".test-cache" / "wheelhouse").glob("uvguard-*.whl"))
    if not wheels:
        pytest.skip("no uvguard wheel built (scripts/test builds one)")
    names = set(zipfile.ZipFile(wheels[-1]).namelist())
    assert {f"uvguard/schemas/{p.name}" for p in SCHEMAS.glob("*.json")} <= names


def properties(kind: str) -> dict:
    found = {}

    def walk(node):
        if isinstance(node, dict):
            found.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema(kind))
    return found


def test_the_same_thing_has_the_same_name_everywhere():
    every = {kind: set(properties(kind)) for kind in jsonout.KINDS}
    drifted = {"reasons", "dangling", "remove", "keep", "bytes_removed", "bytes_kept", "total_bytes"}
    assert not {kind: names & drifted for kind, names in every.items() if names & drifted}
    for kind in ("check", "live", "roots", "decision-log"):
        assert {"uncertain", "uncertain_reasons"} <= every[kind], kind
    assert "dangling_into_cache" in every["roots"] and "dangling_into_cache" in every["doctor"]
    # A live entry is one shape: in `live`, and kept by a prune or clean (run or dry run).
    assert schema("live")["$defs"]["entry"] == schema("cache-operation")["$defs"]["entry"]
    # gc's kept entry is that shape too, plus why it is in use.
    live_entry = schema("live")["$defs"]["entry"]["properties"]
    assert {key: schema("gc")["$defs"]["kept"]["properties"][key] for key in live_entry} == live_entry
    # The decisions log nests `decided_by` exactly as `check` does.
    assert properties("decision-log")["decided_by"] == properties("check")["decided_by"]
    assert set(schema("check")["properties"]) - {"cache_dir", "config_sources"} <= \
        set(schema("decision-log")["properties"])


def test_the_readme_links_every_schema_and_lists_the_check_keys():
    readme = (REPO / "README.md").read_text()
    for path in SCHEMAS.glob("*.schema.json"):
        assert f"uvguard/schemas/{path.name}" in readme, path.name
    row = next(line for line in readme.splitlines() if line.startswith("| `uvguard check"))
    for key in schema("check")["properties"]:
        assert f"`{key}`" in row, key


# The policy file.

def test_the_policy_schema_accepts_every_preset_as_a_file_and_as_tool_uvguard():
    policy_schema = schema("policy")
    jsonschema.Draft202012Validator.check_schema(policy_schema)
    presets = sorted((REPO / "policies").glob("*.toml"))
    assert {p.stem for p in presets} == set(policy.PRESETS)
    for preset in presets:
        values = load_toml(preset, policy.PolicyError)
        jsonschema.validate(values, policy_schema)
        pyproject = {"$ref": "#/$defs/pyproject", "$defs": policy_schema["$defs"]}
        jsonschema.validate({"project": {"name": "x"}, "tool": {"uvguard": values}}, pyproject)


def test_the_policy_schema_knows_exactly_the_keys_and_actions_uvguard_does():
    table = schema("policy")["$defs"]["policy"]
    assert set(table["properties"]) == set(policy.KEYS)
    for key in policy.ACTION_KEYS:
        assert table["properties"][key]["enum"] == list(policy.GC_ACTIONS if key == "gc" else policy.ACTIONS), key
    assert table["properties"]["locked"]["items"]["enum"] == list(policy.LOCKABLE_KEYS)


@pytest.mark.parametrize("text", ['prune = "maybe"\n', 'gc = "warn"\n', 'frobnicate = "limit"\n', "roots = \"/one\"\n",
                                  'locked = ["roots"]\n'])
def test_what_the_schema_rejects_uvguard_rejects_too(tmp_path, text):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(load_toml(path, policy.PolicyError), schema("policy"))
    with pytest.raises(policy.PolicyError):
        policy.read_policy_file(path, "system", {})


# Real outputs.

@pytest.fixture(scope="module")
def machine(tmp_path_factory, wheelhouse):
    """A symlink-mode environment made through the shim, and a dead archive beside it."""
    machine = Machine(make_sandbox(tmp_path_factory.mktemp("contract")), wheelhouse)
    machine.venv = machine.symlink_venv("app", "purepkg")
    machine.symlink_venv("gone", "otherpkg")
    import shutil

    shutil.rmtree(machine.sandbox.work / "gone")
    return machine


def uvguard(machine, *args: str) -> dict:
    env = {**machine.env, "UVGUARD_REAL_UV": str(uv_path())}
    result = subprocess.run([UVGUARD, *args], env=env, cwd=machine.sandbox.work / "app", capture_output=True,
                            text=True)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind, args", [
    ("check", ["check", "--json", "cache", "prune", "--ci"]),
    ("check", ["check", "--json", "cache", "clean"]),
    ("check", ["check", "--json", "sync"]),
    ("explain", ["explain", "--json"]),
    ("live", ["live", "--json"]),
    ("roots", ["roots", "--json"]),
    ("roots", ["roots", "--all", "--json"]),
    ("doctor", ["doctor", "--json"]),
    ("roots-discover", ["roots", "discover", "--dry-run", "--json", "."]),
    ("policy-show", ["policy", "show", "--json"]),
    ("cache-operation", ["prune", "--ci", "--dry-run", "--json"]),
    ("cache-operation", ["clean", "purepkg", "--dry-run", "--json"]),
    ("gc", ["gc", "--dry-run", "--json"]),
])
def test_real_outputs_match_their_schema(machine, kind, args):
    data = uvguard(machine, *args)
    assert data["schema_version"] == jsonout.SCHEMA_VERSION
    validate(kind, data)


def test_a_real_limited_prune_and_the_decisions_log_match_their_schemas(machine):
    log = Path(machine.env["XDG_STATE_HOME"]) / "uvguard" / "decisions.jsonl"
    before = machine.decisions() if log.exists() else []
    dry = uvguard(machine, "prune", "--ci", "--dry-run", "--json")
    real = uvguard(machine, "prune", "--ci", "--json")
    validate("cache-operation", real)
    assert real["dry_run"] is False and dry["dry_run"] is True
    assert [e["path"] for e in real["kept"]] == [e["path"] for e in dry["kept"]] != []
    assert machine.imports(machine.venv, "purepkg.hello()")
    refused = machine.uv("cache", "clean")
    assert refused.returncode == 3
    lines = machine.decisions()[len(before):]
    assert lines and lines[-1]["action"] == "refuse"
    for line in lines:
        validate("decision-log", line)
    assert lines[-1]["decided_by"]["key"] == "clean" and lines[-1]["decided_by"]["layer"] == "built-in"


def test_commands_print_json_only_through_the_emitter():
    """So every output is stamped and has a schema: no command serialises JSON itself."""
    for path in sorted((REPO / "uvguard" / "commands").glob("*.py")):
        assert "json.dumps" not in path.read_text(), f"{path.name}: use jsonout.emit_json(kind, data)"
