"""The `uv` shim end to end: rendered by shimfile, run as an executable.

Real uv checks that output and exit codes are those of bare uv. A recording
stand-in (a tiny script installed as the "real" uv) checks the plumbing:
argv byte for byte, stdin, exit codes, signals, real-uv discovery, nesting —
through the sh front (lines without `cache`/`clean`) and the Python side.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import uv_path
from uvguard import realuv, registry
from uvguard.shimfile import write_shim

# The sh front execs most lines itself and hands the rest over with
# `python -I -c "$uvguard_start" SHIM RECORDED_UV ARGS...`; both must behave the
# same, so the plumbing tests run each line through either.
FRONTS = ("sh", "python")

STANDIN = r'''#!{python}
import json, os, signal, subprocess, sys, time

out = os.environ["STANDIN_OUT"]

def dump(**extra):
    record = {{
        "argv": [os.fsencode(arg).hex() for arg in sys.argv[1:]],
        "exec_pid": os.environ.get("UVGUARD_EXEC_PID"),
        "pid": os.getpid(),
        **extra,
    }}
    with open(out, "w") as handle:
        json.dump(record, handle)

def on_signal(number, frame):
    dump(signal=number)
    sys.exit(128 + number)

if os.environ.get("STANDIN_WAIT"):
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    open(os.environ["STANDIN_WAIT"], "w").close()
    while True:
        time.sleep(0.05)

nested = None
if os.environ.get("STANDIN_NESTED"):
    env = dict(os.environ, STANDIN_OUT=out + ".nested")
    del env["STANDIN_NESTED"]
    nested = subprocess.run([os.environ["STANDIN_NESTED"], "nested", "call"], env=env).returncode
dump(stdin=sys.stdin.buffer.read().hex(), nested=nested)
sys.exit(int(os.environ.get("STANDIN_EXIT", "0")))
'''


def make_standin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "uv"
    path.write_text(STANDIN.format(python=sys.executable))
    path.chmod(0o755)
    return path


def make_shim(directory: Path, real_uv: str | Path | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "uv"
    write_shim(shim, sys.executable, str(real_uv) if real_uv else None)
    return shim


@pytest.fixture
def standin(sandbox):
    return make_standin(sandbox.root / "real-bin")


@pytest.fixture
def shim(sandbox, standin):
    return make_shim(sandbox.root / "shim-bin", standin)


def run(program, args, env, timeout=60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([os.fspath(program), *args], env=env, capture_output=True, timeout=timeout, **kwargs)


def front_argv(front: str, shim: Path, args: list) -> list:
    """The command line that runs `args` through the sh front, or straight through the Python side."""
    if front == "sh":
        return [os.fspath(shim), *args]
    baked = next(line for line in shim.read_text().splitlines() if line.startswith("uvguard_recorded_uv="))
    recorded_uv = shlex.split(baked.partition("=")[2])
    return [sys.executable, "-I", "-c", start_code(shim), os.fspath(shim), *(recorded_uv or [""]), *args]


def start_code(shim: Path) -> str:
    """The Python code the sh front starts its Python side with (`uvguard_start`)."""
    match = re.search(r"^uvguard_start='([^']*)'$", shim.read_text(), re.MULTILINE)
    assert match, "no uvguard_start in the shim"
    return match[1]


def run_front(front: str, shim: Path, args: list, env: dict, **kwargs) -> subprocess.CompletedProcess:
    argv = front_argv(front, shim, args)
    return run(argv[0], argv[1:], env, **kwargs)


def recorded(out: Path) -> dict:
    record = json.loads(out.read_text())
    record["argv"] = [bytes.fromhex(arg) for arg in record["argv"]]
    return record


# --- real uv: identical output and exit codes -------------------------------------------

@pytest.mark.parametrize("args", [
    ["--version"],
    ["cache", "dir"],
    ["cache", "size"],
    ["--cache-dir", "{root}/other", "cache", "dir"],
    ["no-such-command"],
    ["cache", "prune", "--help"],
    ["pip", "list", "--python", "{venv}"],
    ["pip", "install", "--python", "{venv}", "--no-index", "no-such-package"],
], ids=lambda args: " ".join(args))
def test_shim_output_and_exit_code_match_bare_uv(sandbox, args):
    venv = sandbox.root / "venv"
    sandbox.uv("venv", str(venv))
    shim = make_shim(sandbox.root / "shim-bin", uv_path())
    args = [arg.format(root=sandbox.root, venv=venv) for arg in args]
    bare = run(uv_path(), args, sandbox.env(), cwd=sandbox.work)
    through = run(shim, args, sandbox.env(), cwd=sandbox.work)
    assert (through.returncode, through.stdout, through.stderr) == (bare.returncode, bare.stdout, bare.stderr)


# --- the recording stand-in: argv, stdin, exit codes --------------------------------------

ODD_ARGS = [b"a b", b"", "ünïcödé".encode(), b"--", b"-", b"tab\there", b"--cache-dir=x y", b"'\"$HOME`",
            b"\xff\xfe not utf-8", b"*", b"-qqn"]


@pytest.mark.parametrize("front", FRONTS)
def test_argv_reaches_uv_byte_for_byte(sandbox, shim, front):
    out = sandbox.root / "out.json"
    args = ODD_ARGS
    result = run_front(front, shim, args, sandbox.env(STANDIN_OUT=out))
    assert result.returncode == 0, result.stderr
    assert recorded(out)["argv"] == args


LOCALE_STANDIN = """#!/bin/sh
printf '%s|%s' "${LC_CTYPE+set:}${LC_CTYPE-}" "${UVGUARD_SHIM_LC_CTYPE+set:}${UVGUARD_SHIM_LC_CTYPE-}" > "$STANDIN_OUT"
"""


@pytest.mark.parametrize("lc_ctype", [None, "C", "POSIX", ""])
@pytest.mark.parametrize("args", [["cache", "prune", "--help"], ["pip", "list"]])
def test_uv_sees_the_callers_lc_ctype_after_the_python_side(sandbox, lc_ctype, args):
    """In a C locale Python sets LC_CTYPE=C.UTF-8 for itself and its children (PEP 538);
    a line handed to the Python side must still reach uv with the caller's LC_CTYPE.
    The stand-in is sh here: a Python one would be coerced itself."""
    real = sandbox.root / "sh-bin" / "uv"
    real.parent.mkdir()
    real.write_text(LOCALE_STANDIN)
    real.chmod(0o755)
    shim = make_shim(sandbox.root / "shim-bin", real)
    out = sandbox.root / "out"
    env = {k: v for k, v in sandbox.env(STANDIN_OUT=out, LANG="C").items() if k not in ("LC_ALL", "LC_CTYPE")}
    if lc_ctype is not None:
        env["LC_CTYPE"] = lc_ctype
    assert run(shim, args, env).returncode == 0
    assert out.read_text() == ("" if lc_ctype is None else f"set:{lc_ctype}") + "|"


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("code", [0, 1, 2, 3, 42, 255])
def test_exit_code_and_stdin_pass_through(sandbox, shim, front, code):
    out = sandbox.root / "out.json"
    data = b"line one\n\x00binary\xff\n"
    result = run_front(front, shim, ["pip", "install", "x"], sandbox.env(STANDIN_OUT=out, STANDIN_EXIT=code),
                 input=data)
    assert result.returncode == code
    assert bytes.fromhex(recorded(out)["stdin"]) == data


def test_python_side_called_directly(sandbox, shim, standin):
    """The hand-off contract: python -m uvguard.shim SHIM RECORDED_UV ARGS..."""
    out = sandbox.root / "out.json"
    result = run(sys.executable, ["-I", "-m", "uvguard.shim", shim, standin, "cache", "dir", "a b", ""],
                 sandbox.env(STANDIN_OUT=out, STANDIN_EXIT=7))
    assert result.returncode == 7
    assert recorded(out)["argv"] == [b"cache", b"dir", b"a b", b""]


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_reach_uv(sandbox, shim, front, signum):
    out, ready = sandbox.root / "out.json", sandbox.root / "ready"
    process = subprocess.Popen(front_argv(front, shim, ["sync"]),
                               env=sandbox.env(STANDIN_OUT=out, STANDIN_WAIT=ready))
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "stand-in never started"
            time.sleep(0.01)
        process.send_signal(signum)
        assert process.wait(timeout=30) == 128 + signum
    finally:
        process.kill()
        process.wait()
    record = recorded(out)
    assert record["signal"] == signum
    assert record["pid"] == process.pid  # exec'd, not a child: uv is the process


# --- finding the real uv -----------------------------------------------------------------

@pytest.mark.parametrize("front", FRONTS)
def test_no_uv_anywhere_exits_127(sandbox, front):
    shim = make_shim(sandbox.root / "shim-bin", None)
    env = sandbox.env(PATH=f"{shim.parent}:/usr/bin:/bin")
    result = run_front(front, shim, ["sync"], env)
    assert result.returncode == 127
    assert b"no real uv found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("front", FRONTS)
def test_uvguard_real_uv_naming_a_missing_file_exits_127(sandbox, shim, front):
    env = sandbox.env(UVGUARD_REAL_UV=str(sandbox.root / "missing" / "uv"))
    result = run_front(front, shim, ["sync"], env)
    assert result.returncode == 127
    assert b"UVGUARD_REAL_UV=" in result.stderr


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("target", ["itself", "another copy"])
def test_real_uv_leading_back_to_a_shim_stops(sandbox, shim, standin, front, target):
    other = make_shim(sandbox.root / "other-shim-bin", standin)
    env = sandbox.env(UVGUARD_REAL_UV=str(shim if target == "itself" else other),
                      STANDIN_OUT=sandbox.root / "out.json")
    result = run_front(front, shim, ["sync"], env)
    assert result.returncode == 127
    assert b"shim" in result.stderr
    assert not (sandbox.root / "out.json").exists()


@pytest.mark.parametrize("front", FRONTS)
def test_path_search_skips_shims_and_finds_the_real_uv(sandbox, standin, front):
    """No recorded uv: PATH holds this shim, a copy of another install's shim, then the real uv."""
    shim = make_shim(sandbox.root / "shim-bin", None)
    other = make_shim(sandbox.root / "other-shim-bin", None)
    out = sandbox.root / "out.json"
    env = sandbox.env(PATH=f"{shim.parent}:{other.parent}:{standin.parent}:/usr/bin:/bin", STANDIN_OUT=out)
    result = run_front(front, shim, ["sync"], env)
    assert result.returncode == 0, result.stderr
    assert recorded(out)["argv"] == [b"sync"]


@pytest.mark.parametrize("front", FRONTS)
def test_recorded_uv_gone_falls_back_to_path(sandbox, standin, front):
    shim = make_shim(sandbox.root / "shim-bin", sandbox.root / "uninstalled" / "uv")
    out = sandbox.root / "out.json"
    env = sandbox.env(PATH=f"{shim.parent}:{standin.parent}:/usr/bin:/bin", STANDIN_OUT=out)
    assert run_front(front, shim, ["sync"], env).returncode == 0
    assert out.exists()


@pytest.mark.parametrize("front", FRONTS)
def test_nested_call_through_the_shim_works(sandbox, shim, front):
    """uv run starting a child that calls uv again: the child gets a fresh shim run."""
    out = sandbox.root / "out.json"
    env = sandbox.env(STANDIN_OUT=out, STANDIN_NESTED=shim)
    result = run_front(front, shim, ["run"], env)
    assert result.returncode == 0, result.stderr
    outer, inner = recorded(out), recorded(Path(f"{out}.nested"))
    assert outer["nested"] == 0
    assert inner["argv"] == [b"nested", b"call"]
    assert inner["exec_pid"] == str(inner["pid"]) != outer["exec_pid"]


def test_a_python_that_cannot_import_uvguard_stops_a_cache_command_with_an_error(sandbox):
    """uvguard uninstalled or moved after setup: the cache command is not run (real uv: the cache survives),
    with an error line and a hint instead of a traceback; lines the sh front execs itself still reach uv."""
    # The interpreter under the dev venv (`sys._base_executable` is the venv's own on 3.10).
    bare_python = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    if run(bare_python, ["-I", "-c", "import uvguard"], sandbox.env(), cwd="/").returncode == 0:
        pytest.skip(f"{bare_python} imports uvguard itself; no Python without it here")
    directory = sandbox.root / "broken-bin"
    directory.mkdir()
    write_shim(directory / "uv", bare_python, str(uv_path()))
    sandbox.uv("cache", "dir")
    marker = Path(sandbox.env()["UV_CACHE_DIR"]) / "keep"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("")
    result = run(directory / "uv", ["cache", "clean"], sandbox.env(), cwd=sandbox.work)
    assert result.returncode == 2
    assert result.stderr.startswith(b"error: the Python this uv shim runs (")
    assert b"cannot import uvguard" in result.stderr and b"hint: run `uvguard setup` again" in result.stderr
    assert b"Traceback" not in result.stderr
    assert marker.exists()
    assert run(directory / "uv", ["--version"], sandbox.env()).stdout.startswith(b"uv ")


def in_deleted_directory(sandbox, argv: list) -> list:
    """`argv` run from a working directory removed just before: getcwd() fails."""
    gone = sandbox.root / "gone"
    gone.mkdir()
    return ["/bin/sh", "-c", 'cd "$1" && rmdir "$1" && shift && exec "$@"', "sh", os.fspath(gone),
            *map(os.fspath, argv)]


def test_deleted_working_directory_passthrough_still_reaches_uv(sandbox, shim):
    """An uncertain line handed to the Python side (`-V` before the words) is uv's to answer, even there."""
    out = sandbox.root / "out.json"
    argv = in_deleted_directory(sandbox, front_argv("python", shim, ["-V", "sync", "cache"]))
    result = run(argv[0], argv[1:], sandbox.env(STANDIN_OUT=out, STANDIN_EXIT=5))
    assert result.returncode == 5, result.stderr
    assert recorded(out)["argv"] == [b"-V", b"sync", b"cache"]


def test_deleted_working_directory_refuses_a_cache_command_without_a_traceback(sandbox):
    shim = make_shim(sandbox.root / "shim-bin", uv_path())
    sandbox.uv("cache", "dir")
    marker = Path(sandbox.env()["UV_CACHE_DIR"]) / "keep"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("")
    argv = in_deleted_directory(sandbox, front_argv("python", shim, ["cache", "clean"]))
    result = run(argv[0], argv[1:], sandbox.env())
    assert result.returncode == 2
    assert b"error: the current directory does not exist" in result.stderr
    assert b"Traceback" not in result.stderr
    assert marker.exists()


# --- the passthrough path stays light -----------------------------------------------------

HEAVY = {"typer", "rich", "click", "tomllib", "tomli", "shellingham"}
PASSTHROUGH_PROBE = r"""
import json, os, sys
def fake_exec(path, argv, env):
    print(json.dumps(sorted(sys.modules)))
    sys.exit(0)
os.execve = fake_exec
from uvguard.shim import main
main()
"""


@pytest.mark.parametrize("args", [["cache", "dir"], ["pip", "install", "cache"], ["cache", "prune", "--help"]])
def test_passthrough_path_loads_no_heavy_module(sandbox, standin, args):
    result = run(sys.executable, ["-I", "-c", PASSTHROUGH_PROBE, "/nonexistent/shim", standin, *args],
                 sandbox.env())
    assert result.returncode == 0, result.stderr
    modules = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert "uvguard" in modules
    assert not modules & HEAVY


def test_importing_the_passthrough_modules_loads_no_heavy_module(sandbox):
    code = ("import json, sys, uvguard.shim, uvguard.invocation, uvguard.realuv, uvguard.registry, "
            "uvguard.errors; print(json.dumps(sorted(sys.modules)))")
    result = run(sys.executable, ["-I", "-c", code], sandbox.env())
    assert result.returncode == 0, result.stderr
    assert not {name.split(".")[0] for name in json.loads(result.stdout)} & HEAVY


def test_an_allowed_prune_with_nothing_live_loads_only_what_the_decision_needs(sandbox):
    """The guarded path with no TOML file to read: no tomllib (the built-in preset is read without it), no
    dataclasses (with inspect ~10 ms), no typing (~3 ms; `uvguard.records`), no hashlib (trust), no threading
    (a spinner), no uv run in a scratch cache (subprocess, tempfile: `uvrefusal`), no runpy (the shim starts
    with `-c`, not `-m`)."""
    unneeded = {"tomllib", "tomli", "dataclasses", "inspect", "typing", "hashlib", "threading", "tempfile",
                "subprocess",
                "runpy", "importlib.util", "uvguard.uvrefusal", "uvguard.prune_plan", "uvguard.skeleton",
                "uvguard.limited"}
    # The dev venv's editable-install finder, run at startup, imports some of them: forget those first.
    probe = f"import sys\nfor name in {sorted(unneeded)!r}: sys.modules.pop(name, None)\n{PASSTHROUGH_PROBE}"
    sandbox.uv("cache", "dir")
    for _ in range(2):  # the first run asks uv its version (subprocess) and remembers it, as an install does
        result = run(sys.executable, ["-I", "-c", probe, "/nonexistent/shim", uv_path(), "cache", "prune"],
                     sandbox.env(), cwd=sandbox.work)
    assert result.returncode == 0, result.stderr
    modules = set(json.loads(result.stdout))
    assert "uvguard.guard" in modules and "uvguard.live_set" in modules
    assert modules & unneeded == set()


def test_the_sh_front_starts_the_python_side_without_runpy(sandbox):
    """`python -m` imports runpy and importlib.util (~1.5 ms) on every guarded command; the start code does not."""
    python = sandbox.root / "python-bin" / "python"
    python.parent.mkdir()
    python.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -X importtime \"$@\"\n")
    python.chmod(0o755)
    shim = sandbox.root / "shim-bin" / "uv"
    shim.parent.mkdir()
    write_shim(shim, str(python), str(uv_path()))
    result = run(shim, ["cache", "prune"], sandbox.env(), cwd=sandbox.work)
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "uvguard.guard" in imported
    assert "runpy" not in imported


def test_the_start_code_loads_modules_with_the_gc_off_and_the_guard_runs_with_it_on(sandbox, shim):
    """Collecting among the import-time objects cost ~4 % of a guarded command: they are frozen instead."""
    probe = ("import gc, os, sys\n"
             "def fake_exec(path, argv, env):\n"
             "    print(gc.isenabled(), gc.get_freeze_count() > 0)\n"
             "    sys.exit(0)\n"
             "os.execve = fake_exec\n") + start_code(shim)
    sandbox.uv("cache", "dir")
    result = run(sys.executable, ["-I", "-c", probe, "/nonexistent/shim", uv_path(), "cache", "prune"],
                 sandbox.env(), cwd=sandbox.work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [b"True", b"True"]


def test_the_registry_module_loads_neither_dataclasses_nor_typing(sandbox):
    """The shim's Python side records through it; `dataclasses` alone pulls in `inspect` (~10 ms)."""
    code = "import json, sys, uvguard.registry; print(json.dumps(sorted(sys.modules)))"
    result = run(sys.executable, ["-I", "-c", code], sandbox.env())
    assert result.returncode == 0, result.stderr
    assert not set(json.loads(result.stdout)) & {"dataclasses", "typing", "inspect"}


# --- registry records: the sh front and the Python side agree ---------------------------

RECORD_ENV = {"VIRTUAL_ENV": "/venvs/with space", "UV_PROJECT_ENVIRONMENT": "ünï/.venv", "UV_CACHE_DIR": "/c"}


@pytest.mark.parametrize("args", [
    ["pip", "install", "a b", "ünïcödé", ""],
    ["sync", "--frozen"],
    ["--directory", "x y", "add", "pkg"],
    ["tool", "install", "ruff"],
    ["version", "--bump", "minor"],
])
def test_sh_front_records_what_registry_append_records(sandbox, shim, args):
    out = sandbox.root / "out.json"
    env = sandbox.env(STANDIN_OUT=out, **RECORD_ENV)
    assert run(shim, args, env, cwd=sandbox.work).returncode == 0
    lines = Path(registry.registry_path(env)).read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) == 1
    from_sh = registry.parse_record(lines[0])

    python_env = dict(env, XDG_STATE_HOME=str(sandbox.root / "python-state"))
    registry.append(str(sandbox.work), python_env, args)
    python_lines = Path(registry.registry_path(python_env)).read_text(encoding="utf-8").splitlines(keepends=True)
    from_python = registry.parse_record(python_lines[0])

    assert from_sh is not None and from_sh.args == tuple(args) and from_sh.cwd == str(sandbox.work)
    assert from_sh.env["VIRTUAL_ENV"] == RECORD_ENV["VIRTUAL_ENV"]
    assert from_sh == from_python


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("bad", ["new\nline", "unit\x1fseparator"])
def test_args_that_cannot_be_stored_are_not_recorded(sandbox, shim, front, bad):
    env = sandbox.env(STANDIN_OUT=sandbox.root / "out.json")
    assert run_front(front, shim, ["pip", "install", bad], env).returncode == 0
    assert not Path(registry.registry_path(env)).exists()
    assert registry.format_record("/cwd", {}, ["pip", "install", bad]) is None


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("variable", ["VIRTUAL_ENV", "HOME"])
@pytest.mark.parametrize("odd", ["\x1f", "\n"])
def test_a_record_whose_environment_cannot_be_stored_is_not_written(sandbox, shim, front, variable, odd):
    """The sh front checked only arguments for 0x1f: such a value shifted every later field; and a
    record dropped for its environment still got the arguments appended and written."""
    env = sandbox.env(STANDIN_OUT=sandbox.root / "out.json", **{variable: f"{sandbox.root}/odd{odd}name"})
    env["XDG_STATE_HOME"] = str(sandbox.root / "state")  # the registry's place must not depend on HOME
    assert run_front(front, shim, ["pip", "install", "x"], env, cwd=sandbox.work).returncode == 0
    assert not Path(registry.registry_path(env)).exists()


def test_a_long_record_is_written_with_one_write(sandbox, shim):
    """A shell's printf splits a long line into several write(2)s (dash at 8192 bytes, bash at
    4096), and a concurrent record landing between them corrupts both: strace shows the writes."""
    if shutil.which("strace") is None:
        pytest.skip("needs strace to see the write(2) calls")
    trace = sandbox.root / "trace"
    args = ["pip", "install", *(f"package-{n:05}" for n in range(2000))]
    env = sandbox.env(STANDIN_OUT=sandbox.root / "out.json")
    result = run("strace", ["-f", "-e", "trace=write", "-o", trace, shim, *args], env, cwd=sandbox.work)
    if result.returncode != 0 and b"ptrace" in result.stderr:
        pytest.skip("strace may not trace here")
    assert result.returncode == 0, result.stderr
    lines = Path(registry.registry_path(env)).read_bytes().splitlines(keepends=True)
    assert len(lines) == 1 and registry.parse_record(lines[0].decode()).args == tuple(args)
    written = [int(n) for n in re.findall(r"write(?:\(| resumed>).*\) += (\d+)$", trace.read_text(), re.M)]
    assert len(lines[0]) in written, written


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("args", [
    ["venv", "{venv}"],
    ["pip", "install", "--python", "{venv}", "--no-index", "no-such-package"],
    ["pip", "install", "--python", "{venv}", "--no-index", *(f"package-{n:04}" for n in range(300))],  # > 1000 chars
], ids=["venv", "pip-install-fails", "long-record"])
def test_a_fifo_at_the_registry_path_is_not_appended_to(sandbox, front, args):
    """Opening a FIFO to append waits for a reader: every install-type command hung at the sh
    front's `>>`. Now uv runs as bare uv does (its exit code, output), promptly; nothing is recorded."""
    shim = make_shim(sandbox.root / "shim-bin", uv_path())
    venv = sandbox.root / "venv"
    bare_venv = sandbox.root / "bare-venv"
    fifo = Path(registry.registry_path(sandbox.env()))
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    if args[0] != "venv":
        sandbox.uv("venv", str(venv))
        sandbox.uv("venv", str(bare_venv))
    bare = run(uv_path(), [arg.format(venv=bare_venv) for arg in args], sandbox.env(), cwd=sandbox.work, timeout=30)
    through = run_front(front, shim, [arg.format(venv=venv) for arg in args], sandbox.env(), cwd=sandbox.work,
                        timeout=30)  # it used to hang here, at the append
    assert through.returncode == bare.returncode, through.stderr
    assert through.stderr.replace(os.fsencode(venv), b"VENV") == bare.stderr.replace(os.fsencode(bare_venv), b"VENV")
    assert fifo.is_fifo()


@pytest.mark.parametrize("args", [["pip", "list"], ["cache", "dir"], ["--directory", "sync", "lock"],
                                  ["python", "list"]])
def test_commands_that_write_no_environment_are_not_recorded(sandbox, shim, args):
    env = sandbox.env(STANDIN_OUT=sandbox.root / "out.json")
    assert run(shim, args, env).returncode == 0
    assert not Path(registry.registry_path(env)).exists()


# --- the sh front never keeps a cache command from the Python side ------------------------

FAKE_PYTHON = "#!/bin/sh\nexit 99\n"  # stands for the Python side: "handed over"
FAKE_UV = "#!/bin/sh\nexit 0\n"  # a fast real uv: "exec'd directly"
TOKENS = ["cache", "clean", "prune", "clear", "dir", "size", "--ci", "--force", "-q", "-qn", "-V", "--cache-dir",
          "--directory", "--color", "never", "--foo", "-p", "run", "help", "--", "-", "sync", "pip", "--offline",
          "--cache-dir=x", "alpha"]


def _handoff_lines() -> list[list[str]]:
    import random
    import shlex

    from tests.test_classifier_real_uv import LATEST_TABLE, OLDER_TABLE

    rng = random.Random(20261125)
    lines = [shlex.split(line) for line, _ in LATEST_TABLE] + [shlex.split(line) for _, line, _ in OLDER_TABLE]
    lines += [[rng.choice(TOKENS) for _ in range(rng.randint(1, 6))] for _ in range(400)]
    return lines


def fake_front(sandbox) -> Path:
    """A shim whose Python side exits 99 and whose real uv exits 0: which way did a line go?

    The fake uv is remembered as one that takes the cache lock itself (as the
    Python side remembers uv >= 0.8.19), so install-type lines stay in sh.
    """
    for name, text in (("fake-python", FAKE_PYTHON), ("fake-uv", FAKE_UV)):
        (sandbox.root / name).write_text(text)
        (sandbox.root / name).chmod(0o755)
    shim = sandbox.root / "fake-shim-bin" / "uv"
    shim.parent.mkdir()
    write_shim(shim, str(sandbox.root / "fake-python"), str(sandbox.root / "fake-uv"))
    realuv.remember_takes_lock(str(sandbox.root / "fake-uv"), sandbox.env())
    return shim


def test_sh_front_hands_over_every_line_uv_might_read_as_a_cache_command(sandbox):
    from uvguard.invocation import parse

    shim = fake_front(sandbox)
    env = sandbox.env()
    handed = direct = 0
    for args in _handoff_lines():
        args = [arg.replace("{cache}", "/c").replace("{cfg}", "/cfg") for arg in args]
        code = run(shim, args, env).returncode
        assert code in (0, 99), (args, code)
        versions = [None, (0, 5, 31), (0, 6, 4), (0, 8, 18), (0, 8, 24), (0, 10, 12)]
        if any(parse(args, version).intercepted for version in versions):
            assert code == 99, f"the sh front exec'd uv directly for a cache command: {args}"
        handed += code == 99
        direct += code == 0
    assert handed > 50 and direct > 50  # both ways were exercised


@pytest.mark.parametrize("args", [
    ["--version"], ["cache", "dir"], ["-q", "cache", "size", "--cache-dir", "x"], ["run", "make", "clean"],
    ["run", "--", "uv", "cache", "prune"], ["--directory", "x", "pip", "install", "clean"], ["help", "cache", "prune"],
])
def test_sh_front_execs_certain_passthrough_lines_directly(sandbox, args):
    assert run(fake_front(sandbox), args, sandbox.env()).returncode == 0


# --- shimfile: rendering and writing ------------------------------------------------------

def test_shimfile_quotes_any_path_safely(sandbox):
    """Interpreter and real-uv paths with spaces, quotes and `$` still work once baked in."""
    odd = sandbox.root / "it's a \"dir\" $HOME `x`"
    python_link = odd / "python"
    odd.mkdir()
    python_link.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} \"$@\"\n")
    python_link.chmod(0o755)
    standin = make_standin(odd / "real")
    shim = sandbox.root / "bin" / "uv"
    shim.parent.mkdir()
    result = run(sys.executable, ["-m", "uvguard.shimfile", "--python", python_link, "--real-uv", standin, shim],
                 sandbox.env())
    assert result.returncode == 0, result.stderr
    assert shim.stat().st_mode & 0o777 == 0o755
    out = sandbox.root / "out.json"
    for args in (["sync"], ["cache", "prune", "--help"]):  # the sh front, then the Python side
        assert run(shim, args, sandbox.env(STANDIN_OUT=out)).returncode == 0
        assert recorded(out)["argv"] == [arg.encode() for arg in args]


def test_shimfile_replaces_an_existing_shim_and_leaves_no_temp_file(sandbox, standin):
    shim = make_shim(sandbox.root / "bin", None)
    write_shim(shim, sys.executable, str(standin))
    text = shim.read_text()
    assert f"uvguard_recorded_uv={shlex.quote(str(standin))}\n" in text
    assert [path.name for path in shim.parent.iterdir()] == ["uv"]
    assert not any(placeholder in text for placeholder in ("@PYTHON@", "@REAL_UV@", "@US@"))
    assert "\x1f" in text


def test_real_uv_run_calling_uv_again_through_the_shim(sandbox):
    """`uv run -- uv ...` with the shim first on PATH: uv's child reaches the shim, and the real uv."""
    shim = make_shim(sandbox.root / "shim-bin", uv_path())
    env = sandbox.env(PATH=f"{shim.parent}:/usr/bin:/bin")
    result = run(shim, ["run", "--no-project", "--", "uv", "cache", "dir"], env, cwd=sandbox.work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == env["UV_CACHE_DIR"]
