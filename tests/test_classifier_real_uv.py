"""The classifier against real uv: for each command line, our operation and what uv really did.

Each line runs the real binary on a throwaway cache holding sentinels, with
the cwd in a scratch dir and no network. Which sentinels vanish tells what uv
did:

- `wheels-v0/` (a stale bucket): prune, prune --ci and full clean remove it;
- `<wheels>/pypi/alpha/`, `<wheels>/pypi/beta/` (current wheels bucket):
  prune --ci and full clean remove both, `clean alpha` only the first;
- `<interpreter>/sentinel` (a current bucket prune leaves alone): only full
  clean removes it.

The current bucket names differ per release; they are found per version by
leaving candidates in a scratch cache and letting `uv cache prune` remove the
stale ones (what survives is current).
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tests import uv_releases
from uvguard.invocation import CLEAN, CLEAN_PACKAGES, PASSTHROUGH, PRUNE, PRUNE_CI, parse
from uvguard.realuv import uv_version

NOTHING = "nothing"

# (command line, operation) for the newest pinned uv. `{cache}` is the
# sentinel cache, `{cfg}` an empty uv.toml; lines without `{cache}` reach
# the cache through UV_CACHE_DIR.
LATEST_TABLE = [
    # the plain forms
    ("cache prune", PRUNE),
    ("cache prune --ci", PRUNE_CI),
    ("cache prune --force", PRUNE),
    ("cache prune --ci --force", PRUNE_CI),
    ("cache prune --force --ci", PRUNE_CI),
    ("cache clean", CLEAN),
    ("cache clear", CLEAN),
    ("clean", CLEAN),
    ("cache clean alpha", CLEAN_PACKAGES),
    ("cache clear alpha", CLEAN_PACKAGES),
    ("clean alpha", CLEAN_PACKAGES),
    ("cache clean Alpha", CLEAN_PACKAGES),
    ("cache clean alpha beta", CLEAN_PACKAGES),
    ("cache clean alpha alpha", CLEAN_PACKAGES),
    ("cache clean --force alpha", CLEAN_PACKAGES),
    ("cache clean -- alpha", CLEAN_PACKAGES),
    ("cache prune --", PRUNE),
    ("-- cache prune", PASSTHROUGH),
    ("cache -- prune", PASSTHROUGH),
    ("cache clean alpha -- beta", CLEAN_PACKAGES),
    ("clean -- alpha", CLEAN_PACKAGES),
    ("cache prune --ci --", PRUNE_CI),
    # repeats and conflicts count within one command level only
    ("-q cache -v prune", PRUNE),
    ("--color never cache --no-color prune --ci", PRUNE_CI),
    ("--offline cache prune --offline", PRUNE),
    ("--cache-dir /nonexistent cache prune --cache-dir {cache}", PRUNE),
    ("-n cache -n prune", PRUNE),
    ("--managed-python cache --no-managed-python clean", CLEAN),
    ("--offline cache --no-offline prune", PASSTHROUGH),
    ("--preview cache prune --no-preview", PASSTHROUGH),
    ("--native-tls cache prune --no-native-tls", PASSTHROUGH),
    ("--allow-python-downloads --no-python-downloads cache prune", PASSTHROUGH),
    ("cache --system-certs prune --no-system-certs", PASSTHROUGH),
    ("cache clean --help alpha", PASSTHROUGH),
    ("cache clean alpha -- -h", PASSTHROUGH),
    ("--directory=cache cache dir", PASSTHROUGH),
    ("cache prune ''", PASSTHROUGH),
    ("'' cache prune", PASSTHROUGH),
    ("--cache-dir {cache} -n cache clean", CLEAN),
    ("cache clean alpha --", CLEAN_PACKAGES),
    ("cache clean --force", CLEAN),
    # global options before, between and after
    ("--cache-dir {cache} cache prune", PRUNE),
    ("cache --cache-dir {cache} prune", PRUNE),
    ("cache prune --cache-dir {cache}", PRUNE),
    ("cache prune --cache-dir={cache} --ci", PRUNE_CI),
    ("cache -q prune", PRUNE),
    ("-q cache clean", CLEAN),
    ("cache clean alpha -v", CLEAN_PACKAGES),
    ("-qqq cache prune --ci", PRUNE_CI),
    ("cache -qq prune --quiet", PRUNE),
    ("-vv cache prune", PRUNE),
    ("--no-progress --offline cache prune", PRUNE),
    ("--offline --no-offline --offline cache prune", PRUNE),
    ("--native-tls --system-certs --no-system-certs cache prune", PRUNE),
    ("--color never cache prune", PRUNE),
    ("--color=always cache clean", CLEAN),
    ("--directory cache cache prune", PRUNE),
    ("--directory=cache --project . cache prune --ci", PRUNE_CI),
    ("--allow-insecure-host cache cache prune", PRUNE),
    ("--trusted-host a --allow-insecure-host b cache prune", PRUNE),
    ("--allow-insecure-host= cache prune", PRUNE),
    ("--config-file {cfg} cache prune", PRUNE),
    ("--no-config --isolated --preview --no-installer-metadata cache prune", PRUNE),
    ("--python-preference only-system --python-fetch manual cache prune", PRUNE),
    ("--managed-python --no-python-downloads cache prune", PRUNE),
    ("--preview-features pylock,format cache prune", PRUNE),
    ("--cache-dir=- cache dir", PASSTHROUGH),
    # --no-cache: the operation runs on a fresh temp cache
    ("-n cache prune", PRUNE),
    ("cache -qn prune --ci", PRUNE_CI),
    ("--no-cache-dir cache clean", CLEAN),
    # not cache-mutating
    ("cache dir", PASSTHROUGH),
    ("cache size", PASSTHROUGH),
    ("--directory cache cache dir", PASSTHROUGH),
    ("run cache prune", PASSTHROUGH),
    ("help cache prune", PASSTHROUGH),
    ("help clean", PASSTHROUGH),
    ("cache prune -h", PASSTHROUGH),
    ("cache prune --help", PASSTHROUGH),
    ("-h cache clean", PASSTHROUGH),
    ("cache -qh prune --ci", PASSTHROUGH),
    ("clean --help", PASSTHROUGH),
    ("--version cache prune", PASSTHROUGH),
    ("-V cache clean", PASSTHROUGH),
    ("cache prune --version", PASSTHROUGH),
    ("cache", PASSTHROUGH),
    ("cache help prune", PASSTHROUGH),
    # lines uv rejects
    ("cache prune alpha", PASSTHROUGH),
    ("cache prune --ci --ci", PASSTHROUGH),
    ("cache prune --force --force", PASSTHROUGH),
    ("cache prune --ci=true", PASSTHROUGH),
    ("cache --ci prune", PASSTHROUGH),
    ("--ci cache prune", PASSTHROUGH),
    ("cache clean --ci", PASSTHROUGH),
    ("cache clean -- --force", PASSTHROUGH),
    ("cache clean alpha! ", PASSTHROUGH),
    ("cache clean .alpha", PASSTHROUGH),
    ("cache clean alpha_", PASSTHROUGH),
    ("cache clean ''", PASSTHROUGH),
    ("cache clean -", PASSTHROUGH),
    ("cache clean alpha --bogus", PASSTHROUGH),
    ("cache prune --dry-run", PASSTHROUGH),
    ("cache prune --cache-dir", PASSTHROUGH),
    ("--cache-dir cache prune", PASSTHROUGH),
    ("--cache-dir= cache prune", PASSTHROUGH),
    ("--cache-dir -x cache prune", PASSTHROUGH),
    ("--cache-dir {cache} --cache-dir {cache} cache prune", PASSTHROUGH),
    ("-q -v cache prune", PASSTHROUGH),
    ("--color never --no-color cache prune", PASSTHROUGH),
    ("--color=NEVER cache prune", PASSTHROUGH),
    ("--python-fetch auto cache prune", PASSTHROUGH),
    ("--offline --offline cache prune", PASSTHROUGH),
    ("-nn cache prune", PASSTHROUGH),
    ("--no-cache=true cache prune", PASSTHROUGH),
    ("--preview-features= cache prune", PASSTHROUGH),
    ("--cach={cache} cache prune", PASSTHROUGH),
    ("-x cache prune", PASSTHROUGH),
    ("cache purge", PASSTHROUGH),
    ("Cache prune", PASSTHROUGH),
    ("cache prune -- --ci", PASSTHROUGH),
]

# (version, command line, operation) where older releases read lines differently.
OLDER_TABLE = [
    ("0.10.12", "cache clear", CLEAN),
    ("0.10.12", "cache clean --force", CLEAN),
    ("0.10.12", "--system-certs cache prune", PASSTHROUGH),
    ("0.10.12", "--native-tls cache prune --ci", PRUNE_CI),
    ("0.10.12", "cache -qq prune", PRUNE),
    ("0.10.12", "--directory cache cache prune", PRUNE),
    ("0.8.24", "cache prune --force", PRUNE),
    ("0.8.24", "cache clean --force alpha", CLEAN_PACKAGES),
    ("0.8.24", "cache clear", PASSTHROUGH),
    ("0.8.24", "--managed-python cache prune", PRUNE),
    ("0.8.18", "cache prune --force", PASSTHROUGH),
    ("0.8.18", "cache clean --force", PASSTHROUGH),
    ("0.8.18", "cache prune --ci", PRUNE_CI),
    ("0.8.18", "clean alpha", CLEAN_PACKAGES),
    ("0.6.4", "cache -qq prune", PASSTHROUGH),
    ("0.6.4", "-q cache prune", PRUNE),
    ("0.6.4", "--managed-python cache prune", PASSTHROUGH),
    ("0.6.4", "--preview-features pylock cache prune", PASSTHROUGH),
    ("0.6.4", "cache prune --version", PASSTHROUGH),
    ("0.6.4", "cache prune --ci", PRUNE_CI),
    ("0.6.4", "--allow-insecure-host cache cache clean alpha", CLEAN_PACKAGES),
    ("0.5.31", "cache prune -V", PASSTHROUGH),
    ("0.5.31", "clean", CLEAN),
    ("0.5.31", "cache clean Alpha", CLEAN_PACKAGES),
    ("0.5.31", "--directory cache cache prune", PRUNE),
    ("0.5.31", "cache prune --ci", PRUNE_CI),
    ("0.5.31", "--offline cache prune --no-offline", PASSTHROUGH),
    ("0.5.31", "-q cache -q prune", PRUNE),
]

CANDIDATE_VERSIONS = range(0, 13)
# sdists: `prune --ci` of uv < 0.11 fails when that bucket is missing.
BUCKET_KINDS = ("wheels", "sdists", "interpreter")


def _discover_buckets(binary: Path, root: Path) -> dict[str, str]:
    """The current buckets of one release, via prune's stale-bucket removal."""
    cache = root / "discover"
    for kind in BUCKET_KINDS:
        for n in CANDIDATE_VERSIONS:
            (cache / f"{kind}-v{n}").mkdir(parents=True)
    _run_uv(binary, ["cache", "prune"], cache, root)
    found = {}
    for kind in BUCKET_KINDS:
        survivors = [f"{kind}-v{n}" for n in CANDIDATE_VERSIONS if (cache / f"{kind}-v{n}").is_dir()]
        assert len(survivors) == 1, f"{binary}: cannot tell the current {kind} bucket: {survivors}"
        found[kind] = survivors[0]
    return found


def _run_uv(binary: Path, args: list[str], cache: Path, root: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "xdg"),
           "UV_CACHE_DIR": str(cache), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    return subprocess.run([str(binary), *args], env=env, cwd=root / "work", capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


class SentinelCache:
    """A cache dir of sentinels for one release; `effect` says what a uv run did to it."""

    def __init__(self, root: Path, buckets: dict[str, str]):
        self.root = root
        self.stale = root / "wheels-v0" / "stale"
        self.alpha = root / buckets["wheels"] / "pypi" / "alpha" / "entry"
        self.beta = root / buckets["wheels"] / "pypi" / "beta" / "entry"
        self.marker = root / buckets["interpreter"] / "sentinel"
        (root / buckets["sdists"]).mkdir(parents=True)
        for path in (self.stale, self.alpha, self.beta, self.marker):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("sentinel")

    def effect(self) -> str:
        if not self.marker.exists():
            return CLEAN
        if not self.stale.exists():
            return PRUNE_CI if not (self.alpha.exists() or self.beta.exists()) else PRUNE
        if not (self.alpha.exists() and self.beta.exists()):
            return CLEAN_PACKAGES
        return NOTHING


@pytest.fixture(scope="module")
def release_buckets(tmp_path_factory):
    """Bucket names per version, found once per module."""
    found: dict[str, dict[str, str]] = {}

    def buckets(version: str) -> dict[str, str]:
        if version not in found:
            root = tmp_path_factory.mktemp(f"buckets-{version}")
            (root / "work").mkdir()
            found[version] = _discover_buckets(uv_releases.path(version), root)
        return found[version]

    return buckets


def _check_line(version: str, line: str, expected: str, buckets: dict[str, str], tmp_path: Path) -> None:
    binary = uv_releases.path(version)
    cache_root = tmp_path / "cache"
    cache = SentinelCache(cache_root, buckets)
    (tmp_path / "work" / "cache").mkdir(parents=True)  # for `--directory cache`
    config = tmp_path / "config" / "uv.toml"  # not above the cwd, where uv would discover it
    config.parent.mkdir()
    config.write_text("")
    args = [word.format(cache=cache_root, cfg=config) for word in shlex.split(line)]

    invocation = parse(args, uv_version(str(binary)))
    assert invocation.operation == expected, f"uv {version} {line}: classified {invocation.operation}"

    result = _run_uv(binary, args, cache_root, tmp_path)
    would_touch_cache = invocation.intercepted and not invocation.option("no-cache")
    wanted = expected if would_touch_cache else NOTHING
    assert cache.effect() == wanted, (
        f"uv {version} {line}: real uv did {cache.effect()}, expected {wanted}\n"
        f"exit {result.returncode}\nstderr: {result.stderr}"
    )
    if expected != PASSTHROUGH:
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("line, expected", LATEST_TABLE, ids=[line for line, _ in LATEST_TABLE])
def test_latest_uv_reads_the_line_as_we_do(line, expected, release_buckets, tmp_path):
    _check_line(uv_releases.LATEST, line, expected, release_buckets(uv_releases.LATEST), tmp_path)


@pytest.mark.parametrize("version, line, expected", OLDER_TABLE,
                         ids=[f"{version}: {line}" for version, line, _ in OLDER_TABLE])
def test_older_uv_reads_the_line_as_we_do(version, line, expected, release_buckets, tmp_path):
    _check_line(version, line, expected, release_buckets(version), tmp_path)


@pytest.mark.parametrize("line", [
    "--cache-dir {a} cache dir",
    "cache dir --cache-dir={b}",
    "--cache-dir {a} cache --cache-dir {b} dir",
    "--cache-dir {a} cache dir --cache-dir {b}",
    "cache --cache-dir {b} dir -v",
])
def test_the_cache_dir_we_collect_is_the_one_uv_uses(line, tmp_path):
    """Where --cache-dir stands on several levels, the deepest one wins, as `uv cache dir` shows."""
    (tmp_path / "work").mkdir()
    args = [word.format(a=tmp_path / "a", b=tmp_path / "b") for word in shlex.split(line)]
    result = _run_uv(uv_releases.path(uv_releases.LATEST), args, tmp_path / "unused", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == parse(args).option("cache-dir")


def test_without_a_version_the_newest_reading_applies():
    """An unknown release is read as the newest: lines added later are guarded, never missed."""
    assert parse(["cache", "clear"]).operation == CLEAN
    assert parse(["cache", "clear"], (0, 10, 9)).operation == PASSTHROUGH
    assert parse(["cache", "prune", "--force"], (0, 8, 23)).operation == PASSTHROUGH
    assert parse(["cache", "prune", "--force"]).operation == PRUNE
