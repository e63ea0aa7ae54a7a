"""The table of uv's command line (`uvguard.uvcli`) against the real releases, and the sh front against the table.

Each pinned release describes its own grammar: `uv generate-shell-completion
zsh` is clap's full list of every command's options, hidden ones too, each
marked as taking a value or not. Aliases are not in it: those are asked of
the binaries (`uv sync --constraint` with no value: "a value is required").
The sh front (`shim.sh`) is checked against the table, so the two cannot drift.
"""

from __future__ import annotations

import functools
import re
import subprocess

import pytest

from tests import uv_releases
from tests.conftest import REPO
from uvguard import uvcli

RELEASES = uv_releases.pinned()


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class Options:
    """One command's options as clap's zsh completion lists them."""

    def __init__(self) -> None:
        self.value_longs: set[str] = set()
        self.flag_longs: set[str] = set()
        self.value_shorts: set[str] = set()
        self.flag_shorts: set[str] = set()


_OPTION = re.compile(r"'(?:\([^)]*\))?\*?(--?[\w-]+)([=+])?\[")


@functools.cache
def completion(version: str) -> dict[tuple[str, ...], Options]:
    """{command words: its options} from the release's zsh completion script.

    The script nests `case $line[1] in (name) _arguments ... ;; esac` per
    command level; each `_arguments` block lists `'--name=[...]'` (takes a
    value), `'-p+[...]'` (a short taking a value) or `'--flag[...]'`.
    """
    text = subprocess.run([str(uv_releases.path(version)), "generate-shell-completion", "zsh"],
                          capture_output=True, text=True, check=True).stdout
    commands: dict[tuple[str, ...], Options] = {}
    stack: list[str] = []
    pending = last = None
    current: Options | None = None
    after_state = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("case $state in"):
            after_state = True
            continue
        branch = re.fullmatch(r"\(([\w-]+)\)", stripped)
        if branch:
            if after_state:
                after_state = False  # the state's name, not a command
            else:
                pending = branch.group(1)
            continue
        if line.startswith("_arguments"):
            current = commands.setdefault(tuple(stack + [pending]) if pending else (), Options())
            last = pending
        elif stripped.startswith("case $line[1] in"):
            stack.append(last)
            pending = None
        elif line == "        esac":
            stack.pop()
        elif line.startswith("&& ret=0"):
            current = pending = None
        elif current is not None and (option := _OPTION.match(line)):
            name, value = option.groups()
            if name.startswith("--"):
                (current.value_longs if value else current.flag_longs).add(name[2:])
            else:
                (current.value_shorts if value else current.flag_shorts).add(name[1:])
    return {tuple(word for word in words if word): options for words, options in commands.items()}


def listed(version: str, words: tuple[str, ...]) -> Options | None:
    """The completion of `words`; the aliases of `uv venv` as `venv`."""
    if words in (("virtualenv",), ("v",)):
        words = ("venv",)
    return completion(version).get(words)


def test_the_zsh_reader_reads_what_uv_prints():
    options = completion(uv_releases.LATEST)
    assert {"cache-dir", "directory"} <= options[("cache", "prune")].value_longs
    assert {"ci", "force", "no-cache"} <= options[("cache", "prune")].flag_longs
    assert "bump" in options[("version",)].value_longs and "p" in options[("pip", "install")].value_shorts
    assert "c" in options[("venv",)].flag_shorts and "m" in options[("run",)].flag_shorts


# --- global options ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", RELEASES)
def test_global_options_are_those_of_each_release(version):
    """`uv cache dir` has no options of its own: what it lists are the global options."""
    release = version_tuple(version)
    table = [option for option in uvcli.GLOBAL_OPTIONS if release >= option.since]
    if release < uvcli.VERSION_GLOBAL_UNTIL:
        table.append(uvcli.VERSION_OPTION)
    options = listed(version, ("cache", "dir"))
    assert {o.name for o in table if o.takes_value} == options.value_longs
    assert {o.name for o in table if not o.takes_value} == options.flag_longs
    assert {o.short for o in table if o.short} == options.flag_shorts
    assert not options.value_shorts  # no short global option takes a value


@pytest.mark.parametrize("version", [RELEASES[0], RELEASES[-1]])
def test_global_aliases_are_uvs(sandbox, version):
    for option in uvcli.GLOBAL_OPTIONS:
        if version_tuple(version) < option.since:
            continue
        for alias in option.aliases:
            if option.takes_value:
                out = sandbox.uv("cache", "dir", f"--{alias}", version=version, check=False)
                assert "a value is required" in out.stderr, (alias, out.stderr)
            else:
                sandbox.uv(f"--{alias}", "cache", "dir", version=version)


def test_each_release_rule_is_a_boundary():
    """A `since` names a release a pinned one is either side of (checked per release above)."""
    firsts = {option.since for option in uvcli.GLOBAL_OPTIONS if option.since}
    for first in firsts | {uvcli.VERSION_GLOBAL_UNTIL}:
        assert any(version_tuple(v) < first for v in RELEASES) and any(version_tuple(v) >= first for v in RELEASES)


# --- command groups ---------------------------------------------------------------------------


def command_value_options(command: uvcli.Command) -> tuple[set[str], set[str]]:
    longs = {name for name in uvcli.COMMAND_VALUE_OPTIONS if f"--{name}" not in command.flags}
    shorts = {letter for letter in uvcli.COMMAND_VALUE_SHORTS if f"-{letter}" not in command.flags}
    return longs, shorts


@pytest.mark.parametrize("version", RELEASES)
def test_command_options_that_take_a_value(version):
    """Per command: every option taking a value is in the table, and no flag of the command is."""
    globals_ = set(uvcli.GLOBAL_BY_LONG)
    for command in uvcli.COMMANDS:
        options = listed(version, command.words)
        if options is None:
            assert version_tuple(version) < (0, 6, 0) and command.words == ("tool", "uvx"), command.words
            continue
        longs, shorts = command_value_options(command)
        assert options.value_longs - globals_ <= longs, command.words
        assert not options.flag_longs & longs, command.words
        assert options.value_shorts <= shorts, command.words
        assert not options.flag_shorts & shorts, command.words


def test_each_own_flag_is_a_flag_of_that_command():
    for command in uvcli.COMMANDS:
        for flag in command.flags:
            seen = [listed(v, command.words) for v in RELEASES]
            name = flag.lstrip("-")
            assert any(o is not None and name in (o.flag_longs if flag.startswith("--") else o.flag_shorts)
                       for o in seen), (command.words, flag)


def test_every_value_option_in_the_table_is_uvs(sandbox):
    """Names no completion lists are aliases: some release asks for their value."""
    everywhere = set()
    for version in RELEASES:
        for command in uvcli.COMMANDS:
            options = listed(version, command.words)
            everywhere |= options.value_longs if options else set()
    aliases = uvcli.COMMAND_VALUE_OPTIONS - everywhere
    assert aliases  # `--constraint`, `--requirement`...: the probe below must run
    for alias in sorted(aliases):
        assert any(
            "a value is required" in sandbox.uv(*command.words, f"--{alias}", version=version, check=False).stderr
            for version in (RELEASES[0], RELEASES[-1]) for command in uvcli.COMMANDS if command.writes
        ), alias


def test_namespaces_and_link_mode_commands_are_uvs():
    namespaces, link_mode = set(), set()
    for version in RELEASES:
        for words, options in completion(version).items():
            if len(words) == 2:
                namespaces.add(words[0])
            if len(words) in (1, 2) and "link-mode" in options.value_longs:
                link_mode.add(words)
    assert namespaces == uvcli.NAMESPACES
    assert link_mode == uvcli.LINK_MODE_COMMANDS


@pytest.mark.parametrize("version", RELEASES)
def test_cache_commands_and_their_flags(version):
    release = version_tuple(version)
    for words, operation in uvcli.CACHE_OPERATIONS.items():
        if release < uvcli.COMMAND_SINCE.get(words, ()):
            continue
        options = listed(version, words if words != ("cache", "clear") else ("cache", "clean"))
        spellings = (*uvcli.GLOBAL_OPTIONS, uvcli.VERSION_OPTION)
        own = {f"--{name}" for name in options.flag_longs} - {o for g in spellings for o in g.spellings}
        assert own == {flag for flag, since in uvcli.CACHE_OPERATION_FLAGS[operation].items() if release >= since}
    out = subprocess.run([str(uv_releases.path(version)), "cache", "clear", "--help"], capture_output=True)
    assert (out.returncode == 0) == (release >= uvcli.COMMAND_SINCE[("cache", "clear")])
    # `cache size` came between 0.8.24 and 0.10.12: an older uv rejects it, so it runs nothing either way.
    readers = uvcli.CACHE_READERS if release >= (0, 10, 12) else uvcli.CACHE_READERS - {("cache", "size")}
    assert {words for words in completion(version) if words[:1] == ("cache",) and len(words) == 2} == \
        {w for w in uvcli.CACHE_OPERATIONS if len(w) == 2 and w != ("cache", "clear")} | readers


# --- the sh front -----------------------------------------------------------------------------


def shim_case_arms() -> list[set[str]]:
    """The patterns of every `case` arm in shim.sh, each arm as a set."""
    arms = []
    for line in (REPO / "uvguard" / "shim.sh").read_text().splitlines():
        arm = re.fullmatch(r"\s*([^\s()#\"'][^()]*)\)(?:\s.*)?", line)
        if arm and not line.lstrip().startswith(("if ", "for ", "case ")):
            arms.append(set(arm.group(1).split("|")))
    return arms


def the_arm(member: str) -> set[str]:
    (arm,) = [arm for arm in shim_case_arms() if member in arm]
    return arm


def test_the_sh_front_agrees_with_the_table():
    value_options = {s for o in uvcli.GLOBAL_OPTIONS if o.takes_value for s in o.spellings}
    flags = {s for o in (*uvcli.GLOBAL_OPTIONS, uvcli.VERSION_OPTION) if not o.takes_value for s in o.spellings}
    assert the_arm("--cache-dir") == value_options
    assert the_arm("--no-config") == flags | {"--*=*"}
    (short_arm,) = [arm for arm in shim_case_arms() if any(p.startswith("-*[!") for p in arm)]
    (pattern,) = short_arm
    assert pattern.startswith("-*[!") and pattern.endswith("]*")
    assert set(pattern[4:-2]) == {o.short for o in uvcli.GLOBAL_OPTIONS if o.short}

    two_words = {words for words in (*uvcli.RECORDED, *uvcli.CACHE_OPERATIONS, *uvcli.CACHE_READERS)
                 if len(words) == 2}
    assert the_arm("pip") == {words[0] for words in two_words}
    assert the_arm("sync/*") == {"/".join(words) if len(words) == 2 else f"{words[0]}/*"
                                 for words in uvcli.RECORDED}
    assert the_arm("cache/dir") == {"/".join(words) for words in uvcli.CACHE_READERS}
    assert the_arm("cache/*") == {f"{words[0]}/*" for words in uvcli.CACHE_OPERATIONS}
    assert the_arm("clean") == {words[0] for words in uvcli.CACHE_OPERATIONS}
