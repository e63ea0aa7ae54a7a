"""Where real uv refuses a cache command before touching the cache, the shim refuses alike (issue 20).

A differential corpus: command lines, variables and config files under which
real uv stops before it touches the cache (from `crates/uv/src/lib.rs`, the
cache commands and clap), run on every pinned release. Each case runs first
on the bare uv, which must refuse exactly on the releases the case names
(else the facts here are wrong) and leave the cache as it was; then through
the shim, with the `ci` preset (it limits every operation) and one live
symlink-mode environment, so a limited operation would otherwise act. The
shim must exit as uv did, print what uv printed, and leave the cache
byte-identical. `test_control_*` shows the same machine does act on a line
uv accepts.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests import uv_releases
from tests.conftest import make_sandbox
from uvguard.shimfile import write_shim

RELEASES = uv_releases.pinned()


def _v(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


ALL = lambda v: True  # noqa: E731


def since(first: str):
    return lambda v: v >= _v(first)


def before(first: str):
    return lambda v: v < _v(first)


def C(id, args, refuses=ALL, env=None, files=None, cwd="{case}"):
    """One case: uv args, env changes (None unsets), files (path under the case dir -> text, or
    ("link", target), or ("dir",)), the working directory, and on which releases uv refuses it."""
    return pytest.param(dict(args=list(args), env=env or {}, files=files or {}, cwd=cwd, refuses=refuses), id=id)


PRUNE_CI = ["cache", "prune", "--ci"]
# An unknown preview feature name is an error, not a warning: measured, 0.8.24 accepts, 0.9.30, 0.10.12 and
# 0.11.16 refuse, 0.11.33 warns.
UNKNOWN_FEATURE_REFUSED = lambda v: _v("0.8.25") <= v <= _v("0.11.16")  # noqa: E731
CASES = [
    # --- the project directory inside the cache (modelled: a scratch cache cannot show it) ---------
    C("cwd-inside-cache", PRUNE_CI, since("0.11.21"), cwd="{cache}/w"),
    C("cwd-is-the-cache", ["cache", "clean"], since("0.11.21"), cwd="{cache}"),
    C("cwd-inside-cache-named-through-a-link", PRUNE_CI, since("0.11.21"), cwd="{cache}/w",
      env={"UV_CACHE_DIR": "{case}/cache-link"}, files={"cache-link": ("link", "{cache}")}),
    C("directory-inside-cache", ["--directory", "{cache}/w", *PRUNE_CI], since("0.11.21")),
    C("project-inside-cache", ["--project", "{cache}/w", "cache", "clean", "speedpkg"], since("0.11.21")),
    # --- config files uv rejects -------------------------------------------------------------------
    C("uv-toml-unknown-field", PRUNE_CI, files={"uv.toml": "bogus = 1\n"}),
    C("uv-toml-bad-value", PRUNE_CI, files={"uv.toml": 'resolution = "bogus"\n'}),
    C("uv-toml-bad-link-mode", ["cache", "clean"], files={"uv.toml": 'link-mode = "bogus"\n'}),
    C("uv-toml-not-toml", PRUNE_CI, files={"uv.toml": "x = \n"}),
    C("uv-toml-is-a-directory", PRUNE_CI, files={"uv.toml": ("dir",)}),
    C("uv-toml-not-utf8", PRUNE_CI, files={"uv.toml": b"\xff\xfe = 1\n"}),
    C("user-uv-toml-bad-value", PRUNE_CI, files={"config/uv/uv.toml": 'link-mode = "bogus"\n'},
      env={"XDG_CONFIG_HOME": "{case}/config"}),
    C("system-uv-toml-unknown-field", PRUNE_CI, files={"etc/uv/uv.toml": "bogus = 1\n"},
      env={"XDG_CONFIG_DIRS": "{case}/etc"}),
    C("config-file-missing", ["--config-file", "missing.toml", *PRUNE_CI]),
    C("config-file-bad-value", ["--config-file", "custom.toml", *PRUNE_CI], files={"custom.toml": "no-cache = 1\n"}),
    C("config-file-env-missing", PRUNE_CI, env={"UV_CONFIG_FILE": "{case}/missing.toml"}),
    # --- required-version ----------------------------------------------------------------------------
    C("required-version-uv-toml", PRUNE_CI, files={"uv.toml": 'required-version = ">=99"\n'}),
    C("required-version-pyproject", ["cache", "clean", "speedpkg"],
      files={"pyproject.toml": '[tool.uv]\nrequired-version = "<0.1"\n'}),
    C("required-version-user", PRUNE_CI, files={"config/uv/uv.toml": 'required-version = "==0.0.1"\n'},
      env={"XDG_CONFIG_HOME": "{case}/config"}),
    # --- directories ---------------------------------------------------------------------------------
    C("directory-missing", ["--directory", "nowhere", *PRUNE_CI]),
    C("directory-env-missing", PRUNE_CI, since("0.9.1"), env={"UV_WORKING_DIRECTORY": "{case}/nowhere"}),
    C("project-missing", ["--project", "nowhere", *PRUNE_CI], since("0.12.0")),
    # --- variables -----------------------------------------------------------------------------------
    C("env-cache-dir-empty", PRUNE_CI, env={"UV_CACHE_DIR": ""}),
    C("env-no-cache-not-a-boolean", PRUNE_CI, env={"UV_NO_CACHE": "maybe"}),
    C("env-offline-not-a-boolean", PRUNE_CI, env={"UV_OFFLINE": "maybe"}),
    C("env-concurrent-downloads-not-a-number", PRUNE_CI, env={"UV_CONCURRENT_DOWNLOADS": "abc"}),
    C("env-python-preference-unknown", PRUNE_CI, env={"UV_PYTHON_PREFERENCE": "bogus"}),
    C("no-offline-while-UV_OFFLINE-is-set", ["--no-offline", *PRUNE_CI], before("0.9.0"),  # 0.8.24 refuses,
      env={"UV_OFFLINE": "1"}),                                                    # 0.9.30 does not
    C("env-preview-feature-unknown", PRUNE_CI, UNKNOWN_FEATURE_REFUSED, env={"UV_PREVIEW_FEATURES": "bogus"}),
    # --- the cache named by the flag, or only by a config file (uv is asked on a scratch cache) ----------
    C("cache-dir-flag-and-bad-uv-toml", ["--cache-dir", "{cache}", *PRUNE_CI], files={"uv.toml": "bogus = 1\n"}),
    C("cache-dir-flag-equals-and-bad-variable", ["cache", "clean", "speedpkg", "--cache-dir={cache}"],
      env={"UV_CONCURRENT_DOWNLOADS": "0"}),
    C("cache-dir-from-user-config-and-bad-variable", PRUNE_CI, files={"config/uv/uv.toml": 'cache-dir = "{cache}"\n'},
      env={"UV_CACHE_DIR": None, "XDG_CONFIG_HOME": "{case}/config", "UV_OFFLINE": "maybe"}),
    # --- the command line ----------------------------------------------------------------------------
    C("flag-preview-feature-unknown", ["--preview-features", "bogus", *PRUNE_CI],
      lambda v: v < _v("0.8.4") or UNKNOWN_FEATURE_REFUSED(v)),  # before 0.8.4 the flag itself is unknown
    C("flag-unknown", [*PRUNE_CI, "--bogus"]),
    C("flag-repeated", ["--no-config", "cache", "prune", "--ci", "--ci"]),
    C("flags-conflicting", ["-q", "-v", *PRUNE_CI]),
    C("flags-opposite-on-two-levels", ["--offline", *PRUNE_CI, "--no-offline"]),
    C("cache-dir-repeated", ["--cache-dir", "{cache}", "--cache-dir", "{cache}", *PRUNE_CI]),
    C("force-unknown-to-the-release", [*PRUNE_CI, "--force"], before("0.8.24")),
    C("system-certs-unknown-to-the-release", ["--system-certs", *PRUNE_CI], before("0.11.0")),
    C("clear-unknown-to-the-release", ["cache", "clear"], before("0.10.10")),
    C("quiet-repeated-before-counting", ["-q", "-q", *PRUNE_CI], before("0.6.11")),
    C("clean-bad-package-name", ["cache", "clean", "-not-a-name"]),
    C("prune-takes-no-package", ["cache", "prune", "speedpkg"]),
    C("color-unknown", ["--color", "sometimes", *PRUNE_CI]),
    # --- not a refusal, yet uv stops before the cache: it prints its settings and exits 0 -----------
    C("show-settings", ["--show-settings", *PRUNE_CI]),
    C("show-settings-on-clean", ["cache", "clean", "speedpkg", "--show-settings"]),
]


class Machine:
    """One release's sandbox: a cache with one live symlink-mode environment (known to the shim's
    registry), a pristine copy of that cache to restore, and the shim in front of that release."""

    def __init__(self, root: Path, release: str, wheelhouse: Path):
        self.release = release
        self.version = _v(release)
        self.sandbox = make_sandbox(root)
        self.cache = self.sandbox.cache
        self.uv = str(uv_releases.path(release))
        bin_dir = root / "bin"
        bin_dir.mkdir()
        self.shim = bin_dir / "uv"
        write_shim(self.shim, sys.executable, self.uv)
        self.env = self.sandbox.env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", UVGUARD_POLICY="ci")
        self.venv = self.sandbox.work / "app" / ".venv"
        self.venv.parent.mkdir(parents=True)
        for args in (("venv", str(self.venv)),
                     ("pip", "install", "--python", str(self.venv), "--no-index", "--find-links", str(wheelhouse),
                      "--link-mode", "symlink", "speedpkg", "purepkg")):
            result = self.run(self.shim, args, self.env, self.venv.parent)
            assert result.returncode == 0, result.stderr
        # An older release's pip install leaves the wheels bucket only: give prune something to remove.
        (self.cache / "w").mkdir()
        (self.cache / "stale-v0" / "x").mkdir(parents=True)
        self.pristine = root / "pristine"
        shutil.copytree(self.cache, self.pristine, symlinks=True)
        self.cases = root / "cases"

    @staticmethod
    def run(program, args, env, cwd) -> subprocess.CompletedProcess:
        return subprocess.run([str(program), *args], env=env, cwd=cwd, capture_output=True, text=True,
                              errors="surrogateescape", stdin=subprocess.DEVNULL)

    def restore(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)  # a full clean removes the root too (0.8.19-0.12.24)
        shutil.copytree(self.pristine, self.cache, symlinks=True)

    def works(self) -> bool:
        """The environment still runs its compiled module (an empty namespace package would not)."""
        result = subprocess.run([str(self.venv / "bin" / "python"), "-c", "import speedpkg; speedpkg.answer()"],
                                capture_output=True, env=self.sandbox.env())
        return result.returncode == 0


def digest(root: Path) -> dict[str, tuple]:
    """Every path below `root` with its kind, mode and content (link target, file bytes' hash)."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                with open(path, "rb") as handle:
                    found[rel] = ("file", stat.S_IMODE(info.st_mode), hashlib.sha256(handle.read()).hexdigest())
    return found


@pytest.fixture(scope="module", params=RELEASES)
def machine(request, tmp_path_factory, wheelhouse):
    return Machine(tmp_path_factory.mktemp(f"refusals-{request.param}"), request.param, wheelhouse)


def _fill(text, machine: Machine, case_dir: Path):
    return text.replace("{cache}", str(machine.cache)).replace("{case}", str(case_dir))


def _lay_out(case: dict, machine: Machine, request) -> tuple[list[str], dict, Path]:
    case_dir = machine.cases / request.node.callspec.id.replace("/", "_")
    case_dir.mkdir(parents=True)
    for rel, content in case["files"].items():
        path = case_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple) and content[0] == "link":
            path.symlink_to(_fill(content[1], machine, case_dir))
        elif isinstance(content, tuple):
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(_fill(content, machine, case_dir))
    args = [_fill(arg, machine, case_dir) for arg in case["args"]]
    env = {**machine.env, **{k: _fill(v, machine, case_dir) for k, v in case["env"].items() if v is not None}}
    env = {k: v for k, v in env.items() if case["env"].get(k, "") is not None}
    return args, env, Path(_fill(case["cwd"], machine, case_dir))


@pytest.mark.parametrize("case", CASES)
def test_the_shim_refuses_where_uv_refuses(machine, case, request):
    args, env, cwd = _lay_out(case, machine, request)
    before = digest(machine.cache)
    bare = machine.run(machine.uv, args, env, cwd)
    untouched = digest(machine.cache) == before
    if not untouched:
        machine.restore()
    refused = bare.returncode != 0 or bare.stdout != ""
    assert refused == case["refuses"](machine.version), (
        f"uv {machine.release} {'refuses' if refused else 'accepts'} this line, unlike the case says:\n{bare.stderr}")
    if not refused:
        pytest.skip(f"uv {machine.release} does not refuse this line")
    assert untouched, "uv itself touched the cache: not a case of refusing before the cache"

    shimmed = machine.run(machine.shim, args, env, cwd)
    after = digest(machine.cache)
    if after != before:
        machine.restore()
    assert (shimmed.returncode, shimmed.stderr, shimmed.stdout) == (bare.returncode, bare.stderr, bare.stdout)
    assert after == before, "the shim changed the cache where uv refuses"
    assert machine.works()


def test_control_the_same_machine_limits_a_line_uv_accepts(machine):
    """Without a refusal the shim acts: it prunes what is not live, the environment keeps working."""
    before = digest(machine.cache)
    result = machine.run(machine.shim, PRUNE_CI, machine.env, machine.sandbox.work)
    after = digest(machine.cache)
    machine.restore()
    assert result.returncode == 0, result.stderr
    assert re.search(r"kept 2 entries \([0-9.]+K?i?B\) used by 1 environment", result.stderr), result.stderr
    assert after != before and "stale-v0" not in after and "w" not in after
    assert machine.works()


@pytest.mark.parametrize("release", [r for r in RELEASES if _v(r) >= _v("0.11.22")])
def test_inside_the_cache_is_allowed_in_uvs_own_build_dir(sandbox, release):
    """A build backend uv runs from its cache may call uv again (0.11.22+); the model says so too."""
    from uvguard.errors import ConfigError
    from uvguard.invocation import parse
    from uvguard.uvconfig import effective_config

    inside = sandbox.cache / "builds-v0" / "x"
    inside.mkdir(parents=True)
    building = sandbox.env(UV_INTERNAL__BUILD_DIR=str(inside.parent))
    assert sandbox.uv("cache", "dir", version=release, env=building, cwd=inside, check=False).returncode == 0
    effective_config(parse(["cache", "prune"]), building, inside, _v(release))
    refused = sandbox.uv("cache", "dir", version=release, cwd=inside, check=False)
    assert refused.returncode == 2 and "is inside the cache directory" in refused.stderr
    with pytest.raises(ConfigError) as error:
        effective_config(parse(["cache", "prune"]), sandbox.env(), inside, _v(release))
    assert f"error: {error.value.message}\n" == refused.stderr


def test_whatever_the_policy_says(machine):
    """Refuse (exit 3), warn then run, limit: none of it where uv refuses the line."""
    case_dir = machine.cases / "every-policy"
    case_dir.mkdir(parents=True)
    (case_dir / "uv.toml").write_text('resolution = "bogus"\n')
    for args in (["cache", "clean"], PRUNE_CI, ["cache", "clean", "speedpkg"]):
        before = digest(machine.cache)
        bare = machine.run(machine.uv, args, machine.env, case_dir)
        assert bare.returncode == 2 and digest(machine.cache) == before
        for preset in ("default", "strict", "permissive", "ci"):
            shimmed = machine.run(machine.shim, args, {**machine.env, "UVGUARD_POLICY": preset}, case_dir)
            assert (shimmed.returncode, shimmed.stderr) == (bare.returncode, bare.stderr), (args, preset)
            assert digest(machine.cache) == before, (args, preset)



@pytest.mark.parametrize("refused_by", [
    pytest.param({"uv.toml": 'resolution = "bogus"\n'}, id="uv-toml-bad-value"),
    pytest.param({"uv.toml": 'required-version = ">=99"\n'}, id="required-version"),
    pytest.param({"args": ["--directory", "nowhere"]}, id="directory-missing"),
    pytest.param({"env": {"UV_OFFLINE": "maybe"}}, id="env-offline-not-a-boolean"),
])
def test_an_allowed_line_uvguard_carries_out_itself(machine, refused_by, request):
    """An allowed prune (default preset, nothing live, no symlink mode) goes to uvguard's own removal
    when uv takes no cache lock (< 0.8.19) or would follow a link out of the cache (< 0.11.20): there
    too, a line uv refuses is refused unchanged, and the control without the refusal is pruned."""
    case_dir = machine.cases / f"allowed-{request.node.callspec.id.replace('/', '_')}"
    cache, outside = case_dir / "cache", case_dir / "outside"
    (cache / "stale-v0" / "x").mkdir(parents=True)
    (outside / "precious").mkdir(parents=True)
    (cache / "stale-v0" / "out").symlink_to(outside)  # a link out: uvguard removes for uv < 0.11.20
    (case_dir / "work").mkdir()
    env = {**machine.env, "UVGUARD_POLICY": "default", "UV_CACHE_DIR": str(cache)}
    args = ["cache", "prune"]

    if "uv.toml" in refused_by:
        (case_dir / "work" / "uv.toml").write_text(refused_by["uv.toml"])
    refused_args = [*refused_by.get("args", []), *args]
    refused_env = {**env, **refused_by.get("env", {})}
    before = digest(case_dir)
    bare = machine.run(machine.uv, refused_args, refused_env, case_dir / "work")
    assert bare.returncode != 0 and digest(case_dir) == before, bare.stderr
    shimmed = machine.run(machine.shim, refused_args, refused_env, case_dir / "work")
    assert (shimmed.returncode, shimmed.stderr, shimmed.stdout) == (bare.returncode, bare.stderr, bare.stdout)
    assert digest(case_dir) == before, "the shim changed the cache where uv refuses"

    (case_dir / "work" / "uv.toml").unlink(missing_ok=True)
    control = machine.run(machine.shim, args, env, case_dir / "work")
    assert control.returncode == 0, control.stderr
    assert not (cache / "stale-v0").exists() and (outside / "precious").is_dir()


@pytest.mark.parametrize("args, expected", [
    (("cache", "prune"), ["--cache-dir=S", "cache", "prune"]),
    (("--cache-dir", "a", "cache", "prune", "--cache-dir=b"), ["--cache-dir", "S", "cache", "prune", "--cache-dir=S"]),
    (("cache", "clean", "--", "--cache-dir"), ["--cache-dir=S", "cache", "clean", "--", "--cache-dir"]),
])
def test_with_cache_dir_moves_each_cache_dir_before_the_options_end(args, expected):
    from uvguard.uvrefusal import with_cache_dir

    assert with_cache_dir(args, "S") == expected
