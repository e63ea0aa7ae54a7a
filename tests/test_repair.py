"""`uvguard repair`: one real-uv call per broken environment makes its distributions import again."""

from __future__ import annotations

import json
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import uv_path
from tests.test_doctor import (
    SPEED_WORKS,
    broken_names,
    doctor_json,
    editable_project,
    run_python,
    symlink_env,
    tool_output,
    uvguard,
)

SEPARATOR = "\x1f"


def recording_uv(sandbox) -> tuple[Path, Path]:
    """A `uv` that logs its argv (one line per call) and execs the real uv 0.13.9."""
    log = sandbox.root / "uv-calls.log"
    wrapper = sandbox.root / "recording" / "uv"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\037' \"$@\" >> {shlex.quote(str(log))}\n"
        f"echo >> {shlex.quote(str(log))}\n"
        f"exec {shlex.quote(str(uv_path()))} \"$@\"\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, log


def uv_calls(log: Path) -> list[list[str]]:
    """The commands uv ran for the repair; not `uv --version`, which uvguard asks once per binary to
    read the line as that release would."""
    if not log.exists():
        return []
    calls = [line.rstrip(SEPARATOR).split(SEPARATOR) for line in log.read_text().splitlines()]
    return [call for call in calls if call != ["--version"]]


def repair(sandbox, wrapper: Path, *args: str, **extra: str):
    return uvguard(sandbox, "repair", *args, env=sandbox.env(UVGUARD_REAL_UV=wrapper, **extra))


def test_prune_ci_repaired_with_one_uv_call_per_environment(sandbox, wheelhouse):
    first = symlink_env(sandbox, wheelhouse, "first", "speedpkg", "purepkg==1.0", "toolpkg")
    second = symlink_env(sandbox, wheelhouse, "second", "purepkg==2.0", "sdistpkg")
    sandbox.uv("cache", "prune", "--ci")
    assert run_python(sandbox, first, SPEED_WORKS).returncode != 0
    wrapper, log = recording_uv(sandbox)

    result = repair(sandbox, wrapper, str(first), str(second), "--", "--no-index", "--find-links", str(wheelhouse))
    assert result.returncode == 0, result.stderr
    calls = uv_calls(log)
    assert [call[:6] for call in calls] == [
        ["pip", "install", "--python", str(env), "--reinstall", "--no-deps"] for env in (first, second)]
    assert set(calls[0][6:]) == {"purepkg==1.0", "speedpkg==1.0", "toolpkg==1.0", "--no-index", "--find-links",
                                 str(wheelhouse)}
    assert set(calls[1][6:]) == {"purepkg==2.0", "sdistpkg==1.0", "--no-index", "--find-links", str(wheelhouse)}

    assert run_python(sandbox, first, SPEED_WORKS + "; import purepkg; assert purepkg.__version__ == '1.0'"
                      ).returncode == 0
    assert tool_output(sandbox, first).strip() == "toolpkg 1.0"
    assert run_python(sandbox, second, "import purepkg, sdistpkg; assert purepkg.__version__ == '2.0'; "
                      "sdistpkg.hello()").returncode == 0
    assert f"{first}: healthy" in result.stdout and f"{second}: healthy" in result.stdout
    assert doctor_json(sandbox, first, second)[0] == 0


def test_clean_package_repaired_offline_and_healthy_environments_untouched(sandbox, wheelhouse):
    broken = symlink_env(sandbox, wheelhouse, "broken", "speedpkg", "purepkg==1.0")
    healthy = symlink_env(sandbox, wheelhouse, "healthy", "purepkg==2.0")
    sandbox.uv("cache", "clean", "speedpkg")
    wrapper, log = recording_uv(sandbox)
    result = repair(sandbox, wrapper, str(broken), str(healthy), "--", "--offline", "--no-index",
                    "--find-links", str(wheelhouse), UV_LINK_MODE="symlink")
    assert result.returncode == 0, result.stderr
    [call] = uv_calls(log)
    assert call == ["pip", "install", "--python", str(broken), "--reinstall", "--no-deps", "speedpkg==1.0",
                    "--offline", "--no-index", "--find-links", str(wheelhouse)]
    # UV_LINK_MODE=symlink reinstalls links into the cache again: say so.
    assert "link-mode = symlink (from UV_LINK_MODE)" in result.stderr
    assert run_python(sandbox, broken, SPEED_WORKS).returncode == 0


def test_link_mode_copy_makes_the_repair_outlive_the_next_clean(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg")
    sandbox.uv("cache", "clean")
    wrapper, log = recording_uv(sandbox)
    result = repair(sandbox, wrapper, "--link-mode", "copy", str(env), "--", "--no-index",
                    "--find-links", str(wheelhouse), UV_LINK_MODE="symlink")
    assert result.returncode == 0, result.stderr
    [call] = uv_calls(log)
    assert call[6:8] == ["--link-mode", "copy"]
    assert "link-mode = symlink" not in result.stderr
    sandbox.uv("cache", "clean")
    assert run_python(sandbox, env, SPEED_WORKS).returncode == 0


def test_editable_install_is_reinstalled_from_its_project(sandbox, wheelhouse):
    project = editable_project(sandbox.work / "proj")
    env = symlink_env(sandbox, wheelhouse, ".venv", "--editable", str(project))
    sandbox.uv("cache", "prune", "--ci")
    wrapper, log = recording_uv(sandbox)
    result = repair(sandbox, wrapper, str(env), "--", "--no-index", "--find-links", str(wheelhouse))
    assert result.returncode == 0, result.stderr
    [call] = uv_calls(log)
    assert call[6:8] == ["--editable", str(project)]
    [direct_url] = env.glob("lib/python*/site-packages/proj-0.1.dist-info/direct_url.json")
    assert json.loads(direct_url.read_text())["dir_info"] == {"editable": True}
    # Still editable: a change in the project's source shows without reinstalling.
    (project / "src" / "proj" / "__init__.py").write_text("ANSWER = 'edited'\n")
    assert run_python(sandbox, env, "import proj; print(proj.ANSWER)").stdout.strip() == "edited"


def test_healthy_environment_needs_no_uv_call(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg")
    wrapper, log = recording_uv(sandbox)
    result = repair(sandbox, wrapper, str(env))
    assert result.returncode == 0 and f"{env}: healthy" in result.stdout
    assert uv_calls(log) == []


def test_failed_uv_call_exits_1_and_says_so(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg")
    sandbox.uv("cache", "clean")
    wrapper, _ = recording_uv(sandbox)
    result = repair(sandbox, wrapper, str(env), "--", "--no-index")
    assert result.returncode == 1
    assert "uv exited with status" in result.stderr and "speedpkg 1.0: 4 missing files" in result.stdout


def test_no_real_uv_is_bad_input_exit_2(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg")
    empty = sandbox.root / "empty-path"
    empty.mkdir()
    environment = {k: v for k, v in sandbox.env(PATH=str(empty)).items() if k != "UVGUARD_REAL_UV"}
    result = uvguard(sandbox, "repair", str(env), env=environment)
    assert result.returncode == 2 and "no real uv found" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_exits_2(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "purepkg==1.0")
    wrapper, log = recording_uv(sandbox)
    bad_mode = repair(sandbox, wrapper, "--link-mode", "reflink", str(env))
    assert bad_mode.returncode == 2 and "invalid link mode `reflink`" in bad_mode.stderr
    missing = repair(sandbox, wrapper, str(sandbox.work / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert uv_calls(log) == [] and "Traceback" not in bad_mode.stderr + missing.stderr


@pytest.mark.parametrize("installing, pruning", [("0.5.31", "0.5.31"), ("0.11.16", "0.11.16"), ("0.12.24", "0.13.9")])
def test_other_releases_and_a_prune_after_a_uv_upgrade(sandbox, wheelhouse, installing, pruning):
    """Environment links look alike in every release; 0.12.24 -> 0.13.9 changes the wheels bucket, so
    even a plain prune by the newer uv breaks what the older one installed."""
    env = sandbox.work / ".venv"
    sandbox.uv("venv", str(env), version=installing)
    sandbox.uv("pip", "install", "--python", str(env), "--no-index", "--find-links", str(wheelhouse),
               "--link-mode", "symlink", "speedpkg", "toolpkg", version=installing)
    sandbox.uv("cache", "prune", *(("--ci",) if installing == pruning else ()), version=pruning)
    code, report = doctor_json(sandbox, env)
    assert code == 1 and broken_names(report) == {str(env): {"speedpkg", "toolpkg"}}
    result = repair(sandbox, uv_path(pruning), str(env), "--", "--no-index", "--find-links", str(wheelhouse))
    assert result.returncode == 0, result.stderr
    assert run_python(sandbox, env, SPEED_WORKS).returncode == 0
    assert tool_output(sandbox, env).strip() == "toolpkg 1.0"


def test_wheel_installed_from_a_path_is_reinstalled_from_that_path(sandbox, wheelhouse):
    wheel = next(wheelhouse.glob("speedpkg-*.whl"))
    env = sandbox.work / ".venv"
    sandbox.uv("venv", str(env))
    sandbox.uv("pip", "install", "--python", str(env), "--link-mode", "symlink", str(wheel))
    sandbox.uv("cache", "clean")
    wrapper, log = recording_uv(sandbox)
    result = repair(sandbox, wrapper, str(env))  # no index options: the URL says where it came from
    assert result.returncode == 0, result.stderr
    [call] = uv_calls(log)
    assert call[6:] == [f"speedpkg @ {wheel.as_uri()}"]
    assert run_python(sandbox, env, SPEED_WORKS).returncode == 0


def test_a_repaired_environment_is_recorded_and_kept_by_a_guarded_clean_from_elsewhere(sandbox, wheelhouse):
    """Issue 13: the repair relinks into the cache; a later `uv cache clean PKG` through the shim, from a
    directory that knows nothing of the environment, must keep what it links to."""
    from uvguard.shimfile import write_shim

    env = symlink_env(sandbox, wheelhouse, "unregistered", "speedpkg", "purepkg==1.0")  # bare uv: not recorded
    sandbox.uv("cache", "clean", "speedpkg")
    assert run_python(sandbox, env, SPEED_WORKS).returncode != 0
    result = repair(sandbox, uv_path(), str(env), "--", "--no-index", "--find-links", str(wheelhouse),
                    UV_LINK_MODE="symlink")
    assert result.returncode == 0, result.stderr
    assert run_python(sandbox, env, SPEED_WORKS).returncode == 0

    shim = sandbox.root / "shim-bin" / "uv"
    shim.parent.mkdir()
    write_shim(shim, sys.executable, str(uv_path()))
    elsewhere = sandbox.root / "elsewhere"
    elsewhere.mkdir()
    clean = subprocess.run([str(shim), "cache", "clean", "speedpkg"], env=sandbox.env(UV_LINK_MODE="symlink"),
                           cwd=elsewhere, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert re.search(r"kept 1 entry \([^)]*\) used by 1 environment", clean.stderr), clean.stderr
    assert run_python(sandbox, env, "import speedpkg._speed as s; assert s.answer() == '1.0'").returncode == 0
