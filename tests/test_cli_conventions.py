"""uv's conventions on every `uvguard` command: help, global options, colours, progress, usage errors."""

from __future__ import annotations

import io
import json
import os
import re
import time
from unittest.mock import patch

import pytest

from uvguard import messages, progress
from uvguard.cli import LOCATION_COMMANDS, command, main, split_uv_line
from uvguard.errors import UsageError
from uvguard.guard import voice_for
from uvguard.invocation import parse


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def every_command(group=command, path=()):
    for name, sub in getattr(group, "commands", {}).items():
        yield (*path, name)
        yield from every_command(sub, (*path, name))


COMMANDS = list(every_command())
TYPE_TAGS = re.compile(r"<(list\[|str>|path>|int>|bool>)|\{\w+\}|\.\.\.\]\.\.\.")


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_dash_h_and_plain_help_with_uv_global_options(capsys, path):
    code, out, err = run(capsys, *path, "-h")
    assert code == 0 and err == ""
    assert out.startswith(out.split("\n")[0]) and f"Usage: uvguard {' '.join(path)} " in out
    assert not TYPE_TAGS.search(out), out
    globals_section = out[out.index("Global options:"):]
    for option in ("-q, --quiet", "-v, --verbose", "--color <COLOR_CHOICE>", "--no-progress", "-h, --help"):
        assert option in globals_section
    takes_locations = " ".join(path) in LOCATION_COMMANDS
    for option in ("--cache-dir <CACHE_DIR>", "--directory <DIRECTORY>", "--project <PROJECT>"):
        if option.startswith("--project") and path == ("policy", "init"):
            continue  # its own --project (write into the project) wins
        assert (option in globals_section) == takes_locations, (path, option)
    assert run(capsys, *path, "--help")[1] == out


def test_global_options_stand_before_or_after_the_subcommand(capsys, sandbox):
    cache = sandbox.root / "other-cache"
    for args in (["live", "--json", "--cache-dir", str(cache)], ["--cache-dir", str(cache), "live", "--json"],
                 ["-q", "live", "--json", f"--cache-dir={cache}", "--no-progress", "--color", "never"]):
        code, out, err = run(capsys, *args)
        assert code == 0, err
        assert json.loads(out)["cache_dir"] == str(cache)


def test_directory_and_project_reach_the_effective_config(capsys, sandbox):
    project = sandbox.root / "proj"
    project.mkdir()
    (project / "uv.toml").write_text('cache-dir = "/from/project"\n')
    for option in ("--directory", "--project"):
        code, out, err = run(capsys, "explain", option, str(project), "--json")
        assert code == 0, err
        assert json.loads(out)["cache_dir"] == "/from/project", option


def test_a_command_reading_no_cache_takes_no_cache_dir(capsys):
    code, out, err = run(capsys, "shell-init", "bash", "--cache-dir", "/x")
    assert code == 2 and out == ""
    assert err.startswith("error: unexpected argument '--cache-dir' found\n")


@pytest.mark.parametrize("args, message", [
    (["live", "--bogus"], "error: unexpected argument '--bogus' found"),
    (["frobnicate"], "error: unrecognized subcommand 'frobnicate'"),
    (["policy", "validate"], "error: the following required arguments were not provided: <FILE>"),
    (["--color", "sometimes", "live"], "error: invalid value for '--color <COLOR_CHOICE>'"),
    (["live", "--cache-dir"], "error: a value is required for '--cache-dir' but none was supplied"),
    (["roots", "add", "a", "b"], "error: unexpected argument 'b' found"),
    (["live", "-q", "-v"], "error: the argument '--quiet' cannot be used with '--verbose'"),
])
def test_usage_errors_speak_as_uv_and_exit_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith(message), err
    assert "Usage:" not in err and "Error:" not in err and "Try '" not in err


def test_invalid_uv_no_progress_is_an_error_as_in_uv(capsys):
    with patch.dict(os.environ, {"UV_NO_PROGRESS": "maybe"}):
        code, _, err = run(capsys, "live")
    assert code == 2 and "UV_NO_PROGRESS=maybe" in err


def test_quiet_silences_warnings(capsys, sandbox, monkeypatch):
    monkeypatch.chdir(sandbox.work)
    assert "warning: no environments known" in run(capsys, "doctor")[2]
    assert run(capsys, "-q", "doctor")[2] == ""
    assert run(capsys, "doctor", "-q")[2] == ""


@pytest.mark.parametrize("env, flag, colored", [
    ({}, None, False),
    ({"CLICOLOR_FORCE": "1"}, None, True),
    ({"FORCE_COLOR": "1"}, None, True),
    ({"CLICOLOR_FORCE": "1", "NO_COLOR": "1"}, None, False),
    ({"CLICOLOR_FORCE": "1"}, "never", False),
    ({"NO_COLOR": "1"}, "always", True),
])
def test_colour_follows_uv(capsys, tmp_path, env, flag, colored):
    """uv 0.13.9: --color wins, then NO_COLOR, then FORCE_COLOR or CLICOLOR_FORCE, then the terminal."""
    args = (["--color", flag] if flag else []) + ["policy", "validate", str(tmp_path / "missing.toml")]
    with patch.dict(os.environ, env):
        code, _, err = run(capsys, *args)
    assert code == 2 and ("\x1b[" in err) == colored, err


def test_progress_is_off_under_no_progress_quiet_and_uv_no_progress():
    assert messages.Voice.detect(env={}).progress
    assert not messages.Voice.detect(env={}, no_progress=True).progress
    assert not messages.Voice.detect(env={}, quiet=1).progress
    assert not messages.Voice.detect(env={"UV_NO_PROGRESS": "1"}).progress
    assert messages.Voice.detect(env={"UV_NO_PROGRESS": "false"}).progress
    # The shim's voice, from the uv line.
    assert voice_for(parse(["cache", "prune", "--ci"]), {}).progress
    assert not voice_for(parse(["--no-progress", "cache", "prune", "--ci"]), {}).progress
    assert not voice_for(parse(["cache", "prune", "--ci"]), {"UV_NO_PROGRESS": "true"}).progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_phase_draws_on_a_terminal_only_when_the_voice_allows(monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
    for voice, drawn in ((messages.Voice(progress=True), True), (messages.Voice(progress=False), False)):
        stream = Terminal()
        with progress.phase("Scanning environments", voice, stream):
            time.sleep(0.3)
        assert ("Scanning environments: " in stream.getvalue()) == drawn
        assert not drawn or stream.getvalue().endswith("\r\x1b[K")  # cleared at the end
    piped = io.StringIO()
    with progress.phase("Scanning environments", messages.Voice(progress=True), piped):
        time.sleep(0.2)
    assert piped.getvalue() == ""


def test_the_limited_removal_draws_no_counter_under_no_progress(tmp_path, monkeypatch):
    from uvguard.removal import Remover

    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
    cache = tmp_path / "cache"
    cache.mkdir()
    for voice_args, enabled in ((["--no-progress", "cache", "prune"], False), (["cache", "prune"], True)):
        stream = Terminal()
        remover = Remover(cache, set(), voice_for(parse(voice_args), {}), stream, 0, False)
        assert remover.progress.enabled == enabled
        remover.run([])
        if not enabled:
            assert stream.getvalue() == ""


@pytest.mark.parametrize("args, mine, uv_line, explicit", [
    (["cache", "prune"], [], ["cache", "prune"], False),
    (["--json", "cache", "prune"], ["--json"], ["cache", "prune"], False),
    (["--json", "--no-cache", "cache", "clean"], ["--json"], ["--no-cache", "cache", "clean"], False),
    (["-q", "--json", "cache", "prune"], ["-q", "--json"], ["cache", "prune"], False),
    (["--cache-dir", "X", "cache", "prune"], ["--cache-dir", "X"], ["cache", "prune"], False),
    (["--json", "--", "run", "--json"], ["--json"], ["run", "--json"], True),
    (["cache", "prune", "--json"], [], ["cache", "prune", "--json"], False),
])
def test_where_the_uv_command_line_starts(args, mine, uv_line, explicit):
    own = {"--json": False, "-q": False, "--quiet": False, "--cache-dir": True, "-h": False}
    assert split_uv_line(args, own) == (mine, uv_line, explicit)


def test_an_unknown_option_before_the_uv_command_line_is_refused():
    from uvguard.globalopts import click_errors

    with pytest.raises(click_errors.NoSuchOption):
        split_uv_line(["--jsn", "cache", "prune"], {"--json": False})


def test_usage_error_is_the_one_hierarchy():
    assert issubclass(UsageError, Exception) and UsageError("x").exit_code == 2


@pytest.mark.parametrize("name", ["check", "explain"])
def test_help_says_where_the_uv_command_line_starts(capsys, name):
    out = " ".join(run(capsys, name, "-h")[1].split())
    assert "the uv command line starts at the first argument that is not" in out and "or after `--`" in out
