"""invocation.parse beyond the operation: the fields later stages read.

Which operation uv performs is proven against real uv in
test_classifier_real_uv.py; here: the options, command words, packages and
the subcommand's own arguments that uvconfig, roots and the guard read, and
the per-release rules on their own.
"""

from __future__ import annotations

import pytest

from uvguard.invocation import (
    CLEAN,
    CLEAN_PACKAGES,
    PASSTHROUGH,
    PRUNE,
    PRUNE_CI,
    is_package_name,
    parse,
    writes_environment,
)


@pytest.mark.parametrize("args, options", [
    (["sync", "--cache-dir", "X"], {"cache-dir": "X"}),
    (["--directory", "d", "sync", "--project=p", "-q"], {"directory": "d", "project": "p", "quiet": 1}),
    (["pip", "install", "-n", "x", "--offline"], {"no-cache": True, "offline": True}),
    (["run", "--cache-dir", "A", "prog", "--cache-dir", "B"], {"cache-dir": "A"}),
    (["run", "--python", "3.12", "--no-cache", "prog", "-n"], {"no-cache": True}),
    (["run", "-p", "3.12", "-v", "prog", "-q"], {"verbose": 1}),
    (["tool", "run", "--from", "x", "--offline", "ruff", "--offline"], {"offline": True}),
    (["sync", "--", "--cache-dir", "X"], {}),
    (["--cache-dir", "A", "pip", "install", "--cache-dir", "B"], {"cache-dir": "B"}),
    (["--allow-insecure-host", "a b", "sync", "--allow-insecure-host=c"], {"allow-insecure-host": ("c",)}),
    (["--preview-features", "a,b", "--preview-feature", "c", "lock"], {"preview-features": ("a", "b", "c")}),
])
def test_global_options_are_collected_on_every_command(args, options):
    invocation = parse(args)
    assert invocation.operation == PASSTHROUGH
    assert invocation.options == options


def test_the_deepest_level_wins_and_counts_add_up():
    invocation = parse(["-q", "--cache-dir", "A", "cache", "-q", "prune", "--cache-dir", "B", "-q"])
    assert invocation.operation == PRUNE
    assert invocation.options == {"quiet": 3, "cache-dir": "B"}


@pytest.mark.parametrize("args, value", [
    (["sync", "--link-mode", "symlink"], "symlink"),
    (["pip", "install", "--link-mode=copy", "x"], "copy"),
    (["sync", "--link-mode", "copy", "--link-mode", "symlink"], "symlink"),
    (["run", "--link-mode", "hardlink", "prog", "--link-mode", "symlink"], "hardlink"),
    (["run", "prog", "--link-mode", "symlink"], None),
    (["sync", "--", "--link-mode", "symlink"], None),
    (["sync"], None),
])
def test_command_option_reads_the_subcommands_own_option(args, value):
    assert parse(args).command_option("--link-mode") == value


@pytest.mark.parametrize("args, command, rest, trailing", [
    (["pip", "install", "-q", "x"], ("pip", "install"), ("x",), ()),
    (["run", "--with", "y", "prog", "a"], ("run",), ("--with", "y"), ("prog", "a")),
    (["tool", "run", "ruff", "check"], ("tool", "run"), (), ("ruff", "check")),
    (["run", "--", "cache", "prune"], ("run",), (), ("--", "cache", "prune")),
    (["cache", "clean", "numpy", "--force"], ("cache", "clean"), ("numpy", "--force"), ()),
    (["help", "cache", "prune"], ("help",), ("cache", "prune"), ()),
])
def test_command_words_rest_and_trailing(args, command, rest, trailing):
    invocation = parse(args)
    assert (invocation.command, invocation.rest, invocation.trailing) == (command, rest, trailing)


@pytest.mark.parametrize("args, operation, packages, force", [
    (["cache", "clean", "NumPy", "--force", "--", "scipy"], CLEAN_PACKAGES, ("NumPy", "scipy"), True),
    (["clean"], CLEAN, (), False),
    (["cache", "prune", "--ci", "--force"], PRUNE_CI, (), True),
])
def test_packages_and_force(args, operation, packages, force):
    invocation = parse(args)
    assert (invocation.operation, invocation.packages, invocation.force) == (operation, packages, force)


@pytest.mark.parametrize("args, version, operation", [
    (["cache", "clear"], (0, 10, 10), CLEAN),
    (["cache", "clear"], (0, 10, 9), PASSTHROUGH),
    (["cache", "clean", "--force"], (0, 8, 20), CLEAN),
    (["cache", "clean", "--force"], (0, 8, 19), PASSTHROUGH),
    (["cache", "prune", "--force"], (0, 8, 24), PRUNE),
    (["cache", "prune", "--force"], (0, 8, 23), PASSTHROUGH),
    (["-qq", "cache", "prune"], (0, 6, 11), PRUNE),
    (["-qq", "cache", "prune"], (0, 6, 10), PASSTHROUGH),
    (["--system-certs", "cache", "prune"], (0, 11, 0), PRUNE),
    (["--system-certs", "cache", "prune"], (0, 10, 12), PASSTHROUGH),
    (["--managed-python", "cache", "prune"], (0, 6, 8), PRUNE),
    (["--managed-python", "cache", "prune"], (0, 6, 7), PASSTHROUGH),
    (["--preview-features", "x", "cache", "prune"], (0, 8, 4), PRUNE),
    (["--preview-features", "x", "cache", "prune"], (0, 8, 3), PASSTHROUGH),
    (["cache", "clear"], None, CLEAN),
])
def test_release_boundaries(args, version, operation):
    """The first release of each difference, taken from uv's changelog and checked on binaries either side."""
    assert parse(args, version).operation == operation


@pytest.mark.parametrize("name, valid", [
    ("a", True), ("A1", True), ("zope.interface", True), ("foo_bar-baz", True), ("a--b", True),
    ("", False), ("-a", False), ("a-", False), (".a", False), ("a_", False), ("é", False), ("a b", False),
    ("a!", False), ("a/b", False),
])
def test_package_names_as_uv_accepts_them(name, valid):
    assert is_package_name(name) is valid


@pytest.mark.parametrize("args, writes", [
    (["sync"], True), (["-q", "run", "x"], True), (["pip", "install", "x"], True), (["pip", "-q", "sync", "r"], True),
    (["tool", "install", "ruff"], True), (["version", "--bump", "patch"], True), (["venv"], True), (["v"], True),
    (["sync", "--help"], False),
    (["pip", "list"], False), (["lock"], False), (["tool", "run", "ruff"], False), (["cache", "prune"], False),
])
def test_writes_environment(args, writes):
    assert writes_environment(parse(args)) is writes
