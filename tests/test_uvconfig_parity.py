"""Parity: uvguard's effective config equals what real uv reports, scenario by scenario.

Each scenario lays files out in the sandbox (home, XDG dirs, a work tree),
then asks real uv (`uv cache dir`, `uv sync --show-settings`, `uv pip install
--show-settings six`, `uv venv --show-settings`, `uv tool install
--show-settings six`, all offline) and `effective_config` for the same
command line in the same root. Cache dir, no-cache, both link modes, the
warnings uv prints and whether uv rejects the config must all agree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests import uv_releases
from uvguard.errors import ConfigError
from uvguard.invocation import parse
from uvguard.uvconfig import effective_config

PROJECT = '[project]\nname = "{name}"\nversion = "1.0"\n'
USER = "home/.config/uv/uv.toml"
SYSTEM = "etc-xdg/uv/uv.toml"
LATEST = uv_releases.LATEST
COPY = '[tool.uv]\nlink-mode = "copy"\n'


# Every scenario runs on these releases (they straddle the behaviour changes recorded in
# uvguard.uvconfig and uvguard.uvconfigfiles); a scenario naming its release runs on that one only.
PARITY_RELEASES = (LATEST, "0.11.33", "0.11.16", "0.10.12", "0.8.24", "0.6.4", "0.5.31")


def S(id, files=None, args=(), env=None, cwd="work", wd=None, version=None, sync_args=(), pip_args=()):
    """One scenario: files (path under the sandbox root -> text), global args, env changes."""
    scenario = dict(files=files or {}, args=list(args), env=env or {}, cwd=cwd, wd=wd or cwd,
                    sync_args=list(sync_args), pip_args=list(pip_args))
    return [pytest.param(dict(scenario, version=release), id=f"{id}@{release}")
            for release in ((version,) if version else PARITY_RELEASES)]


def ws(members, exclude=None):
    text = f"[tool.uv.workspace]\nmembers = {members!r}\n".replace("'", '"')
    return text + (f"exclude = {exclude!r}\n".replace("'", '"') if exclude else "")


SCENARIOS = [
    # --- cache dir -------------------------------------------------------------------------
    S("cache-default-xdg"),
    S("cache-xdg-relative-ignored", env={"XDG_CACHE_HOME": "relative/cache"}),
    S("cache-xdg-unset", env={"XDG_CACHE_HOME": None}),
    S("cache-home-relative", env={"HOME": "relhome", "XDG_CACHE_HOME": None, "XDG_CONFIG_HOME": None},
      files={"work/relhome/.config/uv/uv.toml": 'link-mode = "symlink"\n'}),
    S("cache-env-absolute", env={"UV_CACHE_DIR": "{root}/envcache"}),
    S("cache-env-relative", env={"UV_CACHE_DIR": "rel-cache"}),
    S("cache-flag-beats-env", args=["--cache-dir", "{root}/flagcache"], env={"UV_CACHE_DIR": "{root}/envcache"}),
    S("cache-env-empty-error", env={"UV_CACHE_DIR": ""}),
    S("cache-flag-relative-after-directory", args=["--directory", "sub", "--cache-dir", "c"],
      files={"work/sub/.keep": ""}, wd="work/sub"),
    S("cache-file-relative-to-cwd", files={"work/uv.toml": 'cache-dir = "filecache"\n', "work/a/b/.keep": ""},
      cwd="work/a/b"),
    S("cache-user-file", files={USER: 'cache-dir = "/user/cache"\n'}),
    S("cache-system-file", files={SYSTEM: 'cache-dir = "/system/cache"\n'}),
    S("cache-project-beats-user-beats-system", files={
        SYSTEM: 'cache-dir = "/system"\n', USER: 'cache-dir = "/user"\n', "work/uv.toml": 'cache-dir = "/project"\n'}),
    S("cache-user-beats-system", files={SYSTEM: 'cache-dir = "/system"\n', USER: 'cache-dir = "/user"\n'}),
    S("cache-env-beats-files", files={"work/uv.toml": 'cache-dir = "/project"\n'}, env={"UV_CACHE_DIR": "{root}/env"}),
    S("cache-tilde-not-expanded", files={"work/uv.toml": 'cache-dir = "~/tilde"\n'}),
    S("cache-var-not-expanded", files={"work/uv.toml": 'cache-dir = "$HOME/var"\n'}),
    S("cache-pyproject-tool-uv", files={"work/pyproject.toml": '[tool.uv]\ncache-dir = "/pyproject"\n'}),
    S("cache-bad-type-error", files={"work/uv.toml": "cache-dir = 5\n"}),
    # --- no-cache ---------------------------------------------------------------------------
    S("nocache-flag", args=["-n"]),
    S("nocache-long-alias", args=["--no-cache-dir"]),
    S("nocache-env", env={"UV_NO_CACHE": "1"}),
    S("nocache-env-yes-mixed-case", env={"UV_NO_CACHE": "Yes"}),
    S("nocache-env-bad-error", env={"UV_NO_CACHE": "maybe"}),
    S("nocache-env-empty-error", env={"UV_NO_CACHE": ""}),
    S("nocache-file", files={"work/uv.toml": "no-cache = true\n"}),
    S("nocache-env-false-beats-file", files={"work/uv.toml": "no-cache = true\n"}, env={"UV_NO_CACHE": "0"}),
    S("nocache-env-false-loses-0.11", files={"work/uv.toml": "no-cache = true\n"}, env={"UV_NO_CACHE": "0"},
      version="0.11.33"),
    S("nocache-wins-over-cache-dir", args=["--cache-dir", "{root}/x", "-n"]),
    S("nocache-bad-type-error", files={USER: 'no-cache = "yes"\n'}),
    # --- link modes -------------------------------------------------------------------------
    S("link-default"),
    S("link-default-0.8-hardlink", version="0.8.24"),
    S("link-default-0.10-clone", version="0.10.12"),
    S("link-default-0.5-hardlink", version="0.5.31"),
    S("link-env-symlink", env={"UV_LINK_MODE": "symlink"}),
    S("link-env-reflink-alias", env={"UV_LINK_MODE": "reflink"}),
    S("link-env-bad-error", env={"UV_LINK_MODE": "Symlink"}),
    S("link-env-empty-error", env={"UV_LINK_MODE": ""}),
    S("link-env-beats-files", files={"work/uv.toml": 'link-mode = "copy"\n[pip]\nlink-mode = "copy"\n'},
      env={"UV_LINK_MODE": "symlink"}),
    S("link-flag-beats-env", env={"UV_LINK_MODE": "symlink"}, sync_args=["--link-mode", "copy"],
      pip_args=["--link-mode=hardlink"]),
    S("link-project-top-level", files={"work/uv.toml": 'link-mode = "symlink"\n'}),
    S("link-project-pip-only", files={"work/uv.toml": '[pip]\nlink-mode = "symlink"\n'}),
    S("link-user-pip-beats-project-top", files={USER: '[pip]\nlink-mode = "symlink"\n',
                                                "work/uv.toml": 'link-mode = "copy"\n'}),
    S("link-user-pip-beats-project-top-0.8", files={USER: '[pip]\nlink-mode = "symlink"\n',
                                                    "work/uv.toml": 'link-mode = "copy"\n'}, version="0.8.24"),
    S("link-user-beats-system", files={SYSTEM: 'link-mode = "symlink"\n', USER: 'link-mode = "copy"\n'}),
    S("link-system-only", files={SYSTEM: 'link-mode = "symlink"\n'}),
    S("link-case-sensitive-error", files={"work/uv.toml": 'link-mode = "Symlink"\n'}),
    S("link-pip-bad-error", files={USER: '[pip]\nlink-mode = "soft"\n'}),
    S("link-pyproject-tool-uv", files={"work/pyproject.toml": PROJECT.format(name="p")
                                       + '[tool.uv]\nlink-mode = "symlink"\n'}),
    S("link-pyproject-tool-uv-pip", files={"work/pyproject.toml": '[tool.uv.pip]\nlink-mode = "symlink"\n'}),
    # --- project discovery ------------------------------------------------------------------
    S("uvtoml-hides-tool-uv", files={"work/uv.toml": 'link-mode = "copy"\n',
                                     "work/pyproject.toml": '[tool.uv]\nlink-mode = "symlink"\ncache-dir = "/x"\n'}),
    S("empty-uvtoml-hides-tool-uv", files={"work/uv.toml": "",
                                           "work/pyproject.toml": '[tool.uv]\nlink-mode = "symlink"\n'}),
    S("uvtoml-hides-empty-tool-uv", files={"work/uv.toml": 'link-mode = "copy"\n',
                                           "work/pyproject.toml": "[tool.uv]\n"}),
    S("uvtoml-hides-tool-uv-0.5", files={"work/uv.toml": "",
                                         "work/pyproject.toml": '[tool.uv]\nlink-mode = "symlink"\n'},
      version="0.5.31"),
    S("uvtoml-hides-tool-uv-0.6", files={"work/uv.toml": "",
                                         "work/pyproject.toml": '[tool.uv]\nlink-mode = "symlink"\n'},
      version="0.6.4"),
    S("pyproject-without-tool-uv-continues", files={"uv.toml": 'link-mode = "symlink"\n',
                                                    "work/pyproject.toml": PROJECT.format(name="w")}),
    S("nearest-hit-only", files={"uv.toml": 'link-mode = "symlink"\ncache-dir = "/outer"\n',
                                 "work/pyproject.toml": '[tool.uv]\nlink-mode = "copy"\n'}),
    S("walk-from-subdir", files={"work/uv.toml": 'link-mode = "symlink"\n', "work/a/b/.keep": ""}, cwd="work/a/b"),
    S("home-uvtoml-is-project-config", files={"home/uv.toml": 'link-mode = "symlink"\n', "home/proj/.keep": ""},
      cwd="home/proj"),
    S("invalid-uvtoml-syntax-error", files={"work/uv.toml": 'link-mode = \n'}),
    S("invalid-uvtoml-unknown-key-error", files={"work/uv.toml": 'link-mod = "copy"\n'}),
    S("invalid-uvtoml-unknown-pip-key-error", files={"work/uv.toml": '[pip]\nlinkmode = "copy"\n'}),
    S("uvtoml-pyproject-only-field-error", files={"work/uv.toml": '[workspace]\nmembers = []\n'}),
    S("uvtoml-key-unknown-to-old-release-error", files={"work/uv.toml": 'add-bounds = "major"\n'}, version="0.6.4"),
    S("invalid-pyproject-warns-and-continues", files={"uv.toml": 'link-mode = "symlink"\n',
                                                      "work/pyproject.toml": "[tool.uv\n"}),
    S("pyproject-unknown-key-skipped", files={"uv.toml": 'link-mode = "symlink"\n',
                                              "work/pyproject.toml": '[tool.uv]\nlink-mod = "copy"\n'}),
    S("pyproject-bad-link-mode-skipped", files={"uv.toml": 'link-mode = "symlink"\n',
                                                "work/pyproject.toml": '[tool.uv]\nlink-mode = 5\n'}),
    S("pyproject-bad-boolean-skipped", files={
        "uv.toml": 'link-mode = "symlink"\n',
        "work/pyproject.toml": '[tool.uv]\nlink-mode = "copy"\noffline = "yes"\n'}),
    S("uvtoml-zero-concurrency-error", files={"work/uv.toml": "concurrent-downloads = 0\n"}),
    # --- workspaces -------------------------------------------------------------------------
    S("workspace-member-config-ignored", files={
        "work/pyproject.toml": PROJECT.format(name="root") + COPY + ws(["packages/*"]),
        "work/packages/a/pyproject.toml": PROJECT.format(name="a"),
        "work/packages/a/uv.toml": 'link-mode = "symlink"\n'}, cwd="work/packages/a"),
    S("workspace-virtual-root", files={
        "work/pyproject.toml": ws(["packages/*"]), "work/uv.toml": 'link-mode = "symlink"\n',
        "work/packages/a/pyproject.toml": PROJECT.format(name="a"),
        "work/packages/a/uv.toml": 'link-mode = "copy"\n'}, cwd="work/packages/a"),
    S("workspace-not-a-member", files={
        "work/pyproject.toml": PROJECT.format(name="root") + COPY + ws(["libs/*"]),
        "work/packages/a/pyproject.toml": PROJECT.format(name="a"),
        "work/packages/a/uv.toml": 'link-mode = "symlink"\n'}, cwd="work/packages/a"),
    S("workspace-excluded-member", files={
        "work/pyproject.toml": PROJECT.format(name="root") + COPY + ws(["packages/*"], ["packages/a"]),
        "work/packages/a/pyproject.toml": PROJECT.format(name="a"),
        "work/packages/a/uv.toml": 'link-mode = "symlink"\n'}, cwd="work/packages/a"),
    S("workspace-member-subdir", files={
        "work/pyproject.toml": PROJECT.format(name="root") + COPY + ws(["packages/*"]),
        "work/packages/a/pyproject.toml": PROJECT.format(name="a"),
        "work/packages/a/src/uv.toml": 'link-mode = "symlink"\n'}, cwd="work/packages/a/src"),
    S("workspace-member-with-broken-pyproject", files={
        "work/pyproject.toml": PROJECT.format(name="root") + COPY + ws(["packages/*"]),
        "work/packages/a/pyproject.toml": PROJECT.format(name="a"),
        "work/packages/a/uv.toml": 'link-mode = "symlink"\n',
        "work/packages/b/pyproject.toml": "[project\n"}, cwd="work/packages/a"),
    S("workspace-hidden-member-dir-ignored", files={
        "work/pyproject.toml": PROJECT.format(name="root") + COPY + ws(["packages/*"]),
        "work/packages/a/pyproject.toml": PROJECT.format(name="a"),
        "work/packages/a/uv.toml": 'link-mode = "symlink"\n',
        "work/packages/.hidden/notes.txt": "x\n"}, cwd="work/packages/a"),
    S("nested-project-in-non-workspace-project", files={
        "work/pyproject.toml": PROJECT.format(name="outer") + '[tool.uv]\nlink-mode = "copy"\n',
        "work/examples/ex/pyproject.toml": PROJECT.format(name="ex")}, cwd="work/examples/ex"),
    S("member-without-project-table", files={
        "work/pyproject.toml": PROJECT.format(name="root") + COPY + ws(["packages/*"]),
        "work/packages/a/pyproject.toml": '[tool.black]\n',
        "work/packages/a/uv.toml": 'link-mode = "symlink"\n'}, cwd="work/packages/a"),
    S("project-subdir-uvtoml-ignored", files={"work/pyproject.toml": PROJECT.format(name="p"),
                                              "work/sub/uv.toml": 'link-mode = "symlink"\n'}, cwd="work/sub"),
    S("unmanaged-project-subdir-uvtoml-used", files={
        "work/pyproject.toml": PROJECT.format(name="p") + "[tool.uv]\nmanaged = false\n",
        "work/sub/uv.toml": 'link-mode = "symlink"\n'}, cwd="work/sub"),
    S("broken-project-pyproject-subdir-uvtoml-used", files={
        "work/pyproject.toml": "[project\n", "work/sub/uv.toml": 'link-mode = "symlink"\n'}, cwd="work/sub"),
    S("workspace-member-glob-hits-non-project", files={
        "work/pyproject.toml": PROJECT.format(name="root") + COPY + ws(["packages/*"]),
        "work/packages/a/pyproject.toml": PROJECT.format(name="a"),
        "work/packages/a/uv.toml": 'link-mode = "symlink"\n',
        "work/packages/notes/README.md": "not a project\n"}, cwd="work/packages/a"),
    # --- directory / project flags ----------------------------------------------------------
    S("directory-flag", args=["--directory", "../other"], files={"other/uv.toml": 'link-mode = "symlink"\n'},
      wd="other"),
    S("working-dir-env", env={"UV_WORKING_DIR": "{root}/other"}, files={"other/uv.toml": 'cache-dir = "c"\n'},
      wd="other"),
    S("working-directory-legacy-env", env={"UV_WORKING_DIRECTORY": "{root}/other"},
      files={"other/uv.toml": 'link-mode = "symlink"\n'}, wd="other"),
    S("directory-missing-error", args=["--directory", "nowhere"]),
    S("project-flag", args=["--project", "../proj"],
      files={"proj/uv.toml": 'link-mode = "symlink"\ncache-dir = "c"\n'}),
    S("project-env", env={"UV_PROJECT": "{root}/proj"}, files={"proj/uv.toml": 'link-mode = "symlink"\n'}),
    S("project-pyproject-file", args=["--project", "../proj/pyproject.toml"],
      files={"proj/pyproject.toml": PROJECT.format(name="p") + '[tool.uv]\nlink-mode = "symlink"\n'}),
    S("project-missing-error", args=["--project", "../nowhere"]),
    # --- config-file / no-config / isolated -------------------------------------------------
    S("config-file-replaces-all", args=["--config-file", "../cfg/custom.toml"], files={
        "cfg/custom.toml": 'link-mode = "copy"\n', "work/uv.toml": 'link-mode = "symlink"\ncache-dir = "/p"\n',
        USER: 'cache-dir = "/user"\n', SYSTEM: '[pip]\nlink-mode = "symlink"\n'}),
    S("config-file-env", env={"UV_CONFIG_FILE": "{root}/cfg/custom.toml"}, files={
        "cfg/custom.toml": '[pip]\nlink-mode = "symlink"\n', USER: 'link-mode = "copy"\n'}),
    S("config-file-despite-no-config", args=["--no-config", "--config-file", "../cfg/custom.toml"],
      files={"cfg/custom.toml": 'link-mode = "symlink"\n'}),
    S("config-file-missing-error", args=["--config-file", "missing.toml"]),
    S("config-file-invalid-error", args=["--config-file", "../cfg/custom.toml"], files={"cfg/custom.toml": "x = \n"}),
    S("config-file-named-pyproject-warns", args=["--config-file", "../cfg/pyproject.toml"],
      files={"cfg/pyproject.toml": 'link-mode = "symlink"\n'}),
    S("no-config-flag", args=["--no-config"], files={"work/uv.toml": 'link-mode = "symlink"\n',
                                                     USER: 'cache-dir = "/user"\n', SYSTEM: 'link-mode = "copy"\n'}),
    S("no-config-env", env={"UV_NO_CONFIG": "true"}, files={USER: 'link-mode = "symlink"\n'}),
    S("no-config-env-bad-error", env={"UV_NO_CONFIG": "perhaps"}),
    S("no-config-skips-invalid-files", args=["--no-config"], files={"work/uv.toml": "x = \n"}),
    S("isolated-pip-and-cache-only", args=["--isolated"], files={"work/uv.toml": 'link-mode = "symlink"\n',
                                                                 USER: 'cache-dir = "/user"\n'}),
    S("isolated-warns-even-with-no-config", args=["--isolated", "--no-config"]),
    S("isolated-with-config-file", args=["--isolated", "--config-file", "../cfg/custom.toml"],
      files={"cfg/custom.toml": 'link-mode = "symlink"\n'}),
    S("project-is-a-file-error", args=["--project", "../afile"], files={"afile": ""}),
    # --- required-version ---------------------------------------------------------------
    S("required-version-met", files={"work/uv.toml": 'required-version = ">=0.5"\nlink-mode = "symlink"\n'}),
    S("required-version-unmet-error", files={"work/uv.toml": 'required-version = ">=99.0"\n'}),
    S("required-version-bare-is-exact", files={USER: 'required-version = "0.11.33"\n'}),
    S("required-version-pyproject-unmet-error",
      files={"work/pyproject.toml": '[tool.uv]\nrequired-version = "<0.6"\n'}),
    S("required-version-invalid-pyproject-skipped", files={
        "uv.toml": 'link-mode = "symlink"\n', "work/pyproject.toml": '[tool.uv]\nrequired-version = "foo"\n'}),
    S("required-version-project-beats-user", files={USER: 'required-version = ">=99"\n',
                                                    "work/uv.toml": 'required-version = ">=0.5"\n'}),
    # --- user / system locations ------------------------------------------------------------
    S("no-system-config-env", env={"UV_NO_SYSTEM_CONFIG": "1"}, files={SYSTEM: 'link-mode = "symlink"\n'}),
    S("no-system-config-env-bad-error", env={"UV_NO_SYSTEM_CONFIG": "2"}),
    S("xdg-config-dirs-second", env={"XDG_CONFIG_DIRS": "{root}/none:{root}/etc-xdg"},
      files={SYSTEM: 'link-mode = "symlink"\n'}),
    S("xdg-config-dirs-empty-segment", env={"XDG_CONFIG_DIRS": "{root}/none::{root}/etc-xdg"},
      files={SYSTEM: 'link-mode = "symlink"\n'}),
    S("xdg-config-dirs-empty-segment-0.11", env={"XDG_CONFIG_DIRS": "{root}/none::{root}/etc-xdg"},
      files={SYSTEM: 'link-mode = "symlink"\n'}, version="0.11.33"),
    S("xdg-config-home-relative-falls-back", env={"XDG_CONFIG_HOME": "rel"},
      files={"home/.config/uv/uv.toml": 'link-mode = "symlink"\n'}),
    S("xdg-config-home-missing-no-fallback", env={"XDG_CONFIG_HOME": "{root}/xdgconf"},
      files={"home/.config/uv/uv.toml": 'link-mode = "symlink"\n'}),
    S("user-config-under-a-file-skipped", env={"XDG_CONFIG_HOME": "{root}/afile"}, files={"afile": ""}),
    S("user-config-is-a-directory-error", files={USER + "/.keep": ""}),
    S("system-and-user-invalid-error", files={USER: "[pip\n", SYSTEM: "x = \n"}),
    S("user-invalid-error", files={USER: "[pip\n"}),
    S("system-invalid-error", files={SYSTEM: 'link-mode = "fast"\n'}),
]


def _materialise(sandbox, scenario) -> tuple[dict, Path, Path]:
    root = sandbox.root
    for relative, text in scenario["files"].items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = sandbox.env()
    env.pop("UV_CACHE_DIR")  # the sandbox pins one; here the config decides
    for key, value in scenario["env"].items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value.replace("{root}", str(root))
    cwd = root / scenario["cwd"]
    cwd.mkdir(parents=True, exist_ok=True)
    return env, cwd, root / scenario["wd"]


def _args(scenario, root) -> list[str]:
    return [arg.replace("{root}", str(root)) for arg in scenario["args"]]


def _warnings(stderr: str) -> set[str]:
    return {line[len("warning: "):] for line in stderr.splitlines() if line.startswith("warning: ")}


def _ours(args, env, cwd, version):
    try:
        return effective_config(parse(args), env, cwd, uv_version=version)
    except ConfigError:
        return None


def _link_mode(stdout: str) -> str:
    """The first resolved link mode `--show-settings` prints (the raw CLI value may be `None`)."""
    return re.search(r"link_mode: (Clone|Copy|Hardlink|Symlink)\b", stdout).group(1).lower()


RUNS = [run for scenario in SCENARIOS for run in scenario]


@pytest.mark.parametrize("scenario", RUNS)
def test_parity_with_real_uv(sandbox, scenario):
    env, cwd, wd = _materialise(sandbox, scenario)
    version = tuple(int(part) for part in scenario["version"].split("."))
    args = _args(scenario, sandbox.root)
    def run(*extra):
        return sandbox.uv(*args, *extra, version=scenario["version"], env=env, cwd=cwd, check=False)

    cache = run("cache", "dir")
    ours = _ours([*args, "cache", "dir"], env, cwd, version)
    assert (ours is None) == (cache.returncode != 0), cache.stderr
    if ours is not None:
        printed = Path(os.path.normpath(wd / cache.stdout.strip()))
        temporary = printed.parent == Path(env["TMPDIR"]) and printed.name.startswith(".tmp")
        assert ours.no_cache == temporary, (ours.no_cache_source, printed)
        if not temporary:
            assert ours.cache_dir == printed, ours.cache_dir_source
        assert {w.splitlines()[0] for w in ours.warnings} == {w for w in _warnings(cache.stderr)
                                                               if not w.startswith(" ")}

    sync = run("sync", "--show-settings", *scenario["sync_args"])
    ours = _ours([*args, "sync", "--show-settings", *scenario["sync_args"]], env, cwd, version)
    assert (ours is None) == (sync.returncode != 0), sync.stderr
    if ours is not None:
        assert ours.link_mode == _link_mode(sync.stdout), ours.link_mode_source

    pip = run("pip", "install", "--show-settings", "six", *scenario["pip_args"])
    ours = _ours([*args, "pip", "install", "--show-settings", "six", *scenario["pip_args"]], env, cwd, version)
    assert (ours is None) == (pip.returncode != 0), pip.stderr
    if ours is not None:
        assert ours.pip_link_mode == _link_mode(pip.stdout), ours.pip_link_mode_source

    # Any line answers for both scopes, as `uv sync` and `uv pip install` with its global options
    # would (they differ under `--isolated`, which only the pip scope honours).
    if sync.returncode == pip.returncode == 0 and not scenario["sync_args"] + scenario["pip_args"]:
        for line in (["cache", "prune"], ["sync"], ["pip", "install", "six"]):
            ours = _ours([*args, *line], env, cwd, version)
            if ours is not None:
                assert (ours.link_mode, ours.pip_link_mode) == (_link_mode(sync.stdout), _link_mode(pip.stdout)), \
                    (line, ours.link_mode_source, ours.pip_link_mode_source)

    # `uv venv` takes the pip scope; `uv tool` reads only the user and system files.
    for command, scope in ((("venv", "--show-settings"), "pip_link_mode"),
                           (("tool", "install", "--show-settings", "six"), "link_mode")):
        real = run(*command)
        ours = _ours([*args, *command], env, cwd, version)
        assert (ours is None) == (real.returncode != 0), (command, real.stderr)
        if ours is not None:
            assert getattr(ours, scope) == _link_mode(real.stdout), (command, getattr(ours, scope + "_source"))


def test_enough_scenarios():
    assert len(SCENARIOS) >= 60


def test_cache_dir_with_dotdot_after_a_symlink_is_the_one_uv_clears(sandbox):
    """uv never normalizes the cache dir: `link/../c` is the `c` beside the link's target."""
    deep = sandbox.root / "deep"
    (deep / "x").mkdir(parents=True)
    (sandbox.work / "link").symlink_to(deep / "x")
    for cache in (deep / "c", sandbox.work / "c"):
        (cache / "archive-v0" / "entry").mkdir(parents=True)
    args = ["--cache-dir", "link/../c", "cache", "clean"]
    version = tuple(int(part) for part in uv_releases.LATEST.split("."))
    ours = effective_config(parse(args), sandbox.env(), sandbox.work, uv_version=version)
    sandbox.uv(*args, cwd=sandbox.work)
    assert not (deep / "c" / "archive-v0").exists() and (sandbox.work / "c" / "archive-v0").exists()
    assert ours.cache_dir == deep / "c"


def test_directory_with_dotdot_after_a_symlink_is_where_uv_works(sandbox):
    """uv chdirs into `--directory` and reads its cwd back: `link/..` is the parent of the link's target."""
    deep = sandbox.root / "deep"
    (deep / "x").mkdir(parents=True)
    (sandbox.work / "link").symlink_to(deep / "x")
    for cache in (deep / "c", sandbox.work / "c"):
        (cache / "archive-v0" / "entry").mkdir(parents=True)
    args = ["--directory", "link/..", "--cache-dir", "c", "cache", "clean"]
    version = tuple(int(part) for part in uv_releases.LATEST.split("."))
    ours = effective_config(parse(args), sandbox.env(), sandbox.work, uv_version=version)
    sandbox.uv(*args, cwd=sandbox.work)
    assert not (deep / "c" / "archive-v0").exists() and (sandbox.work / "c" / "archive-v0").exists()
    assert ours.cache_dir == deep / "c" and ours.working_dir == deep
