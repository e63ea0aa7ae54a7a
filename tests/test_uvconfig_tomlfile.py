"""uvguard.tomlfile: errors name the file, the line and column, and what was wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from uvguard.errors import ConfigError, PolicyError
from uvguard.tomlfile import key_line, load_toml, parse_flat_toml, tomllib_module


def test_loads_a_valid_file(tmp_path):
    path = tmp_path / "uv.toml"
    path.write_text('link-mode = "symlink"\n[pip]\nlink-mode = "copy"\n')
    assert load_toml(path) == {"link-mode": "symlink", "pip": {"link-mode": "copy"}}


@pytest.mark.parametrize("text, position", [
    ('a = 1\nlink-mode = \n', "line 2, column 13"),
    ('a = 1\nb = "x"\nc = [1,\n', "line 4"),
    ('[pip]\n[pip]\n', "line 2"),
])
def test_syntax_error_names_file_and_position(tmp_path, text, position):
    path = tmp_path / "uv.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_toml(path)
    assert str(path) in caught.value.message
    assert position in caught.value.message


def test_error_class_is_chosen_by_the_caller(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("x = \n")
    with pytest.raises(PolicyError):
        load_toml(path, error=PolicyError)


def test_unreadable_and_non_utf8_files_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="Failed to read"):
        load_toml(tmp_path / "missing.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'a = 1\nb = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="line 2: the file is not valid UTF-8"):
        load_toml(path)


def test_key_line_finds_keys_in_tables_and_dotted_form():
    text = 'cache-dir = "c"\n\n[pip]\n# comment\nlink-mode = "copy"\n[tool.uv]\nlink-mode="x"\n'
    assert key_line(text, "", "cache-dir") == 1
    assert key_line(text, "pip", "link-mode") == 5
    assert key_line(text, "tool.uv", "link-mode") == 7
    assert key_line(text, "", "link-mode") is None
    assert key_line('pip.link-mode = "copy"\n', "pip", "link-mode") == 1


def test_a_fifo_is_refused_at_once_never_read(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: the guarded command used to hang."""
    import os
    import threading

    path = tmp_path / "uv.toml"
    os.mkfifo(path)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(ConfigError, load_toml, path)),
                              daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # let the stuck reader go, then fail
        with open(path, "wb"):
            pass
        pytest.fail("load_toml blocked on a FIFO")
    assert outcome[0].value.message == f"Failed to read `{path}`: not a regular file; " \
                                       "replace it with a regular file or remove it"


@pytest.mark.parametrize("nesting", ["[" * 5000 + "]" * 5000, "{a = " * 5000 + "1" + "}" * 5000])
def test_values_nested_thousands_deep_are_a_parse_error_not_a_recursion_error(tmp_path, nesting):
    path = tmp_path / "uv.toml"
    path.write_text(f"x = {nesting}\n")
    with pytest.raises(ConfigError) as caught:
        load_toml(path)
    assert caught.value.message == f"Failed to parse `{path}`: arrays or inline tables nested too deeply"


# --- the shipped presets, read without tomllib ---------------------------------------------

FLAT_CASES = [
    '# a comment\nprune = "limit"\n\nclean = "refuse"\n',
    'a-b_1 = "é, with spaces"\n',
    '',
    # Each of these is something the flat reader leaves to tomllib (or invalid TOML it must not accept).
    'prune = "limit" # trailing comment\n',
    ' prune = "limit"\n',
    'prune="limit"\n',
    'prune = "li\\"mit"\n',
    'prune = "a\\tb"\n',
    'prune = "limit"\r\nclean = "refuse"\r\n',
    '# a\x01 control character\n',
    'prune = "a\x7fb"\n',
    'prune = "limit"\nprune = "warn"\n',
    '"quoted" = "x"\n',
    'prune = \'limit\'\n',
    'roots = ["a", "b"]\n',
    '[gc]\nkeep = "x"\n',
    'n = 1\n',
]


@pytest.mark.parametrize("text", FLAT_CASES)
def test_the_flat_reader_reads_what_tomllib_reads_or_declines(text):
    flat = parse_flat_toml(text)
    try:
        full = tomllib_module().loads(text)
    except tomllib_module().TOMLDecodeError:
        full = None
    assert flat is None or flat == full


def test_the_flat_reader_declines_what_it_does_not_read():
    assert [parse_flat_toml(text) is not None for text in FLAT_CASES] == [True] * 3 + [False] * (len(FLAT_CASES) - 3)


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "policies").glob("*.toml")), ids=str)
def test_every_shipped_preset_is_read_without_tomllib(path):
    text = path.read_text(encoding="utf-8")
    assert parse_flat_toml(text) == tomllib_module().loads(text) != {}
