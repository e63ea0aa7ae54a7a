"""`uvguard doctor` checks the guard itself: PATH, the real uv, a takeover, its files.

Each case breaks a real installation (install.sh, real uv 0.13.9) the way
it breaks in the field and checks doctor names it, says how to fix it and
exits 1; the healthy installation is the control.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests import uv_releases
from tests.installer import install_env, real_uv_dir, run_install


def doctor(prefix: Path, env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(prefix / "bin" / "uvguard"), "doctor", *args], env=env, cwd=cwd,
                          capture_output=True, text=True)


def problems(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("problem: ")]


def installed(sandbox, install_wheelhouse, *args: str, copy: bool = False) -> tuple[Path, Path, dict]:
    """An install into its own prefix; (prefix, the real uv's dir, an env with the shim first on PATH)."""
    real_dir = real_uv_dir(sandbox.root, copy=copy)
    env = install_env(sandbox, install_wheelhouse, [real_dir])
    prefix = sandbox.root / "guard"
    run_install(env, "--prefix", str(prefix), *args)
    guarded = dict(env, PATH=f"{prefix / 'bin'}{os.pathsep}{env['PATH']}")
    return prefix, real_dir, guarded


def test_a_working_installation_is_healthy_and_a_path_without_the_shim_is_not(sandbox, install_wheelhouse):
    prefix, real_dir, guarded = installed(sandbox, install_wheelhouse)
    healthy = doctor(prefix, guarded, sandbox.work)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert f"ok: `uv` on PATH is the uvguard shim {prefix / 'bin' / 'uv'}" in healthy.stdout
    assert f"ok: the real uv {real_dir / 'uv'} runs (uv {uv_releases.LATEST}" in healthy.stdout

    unguarded = dict(guarded, PATH=f"{real_dir}{os.pathsep}{guarded['PATH']}")
    result = doctor(prefix, unguarded, sandbox.work)
    assert result.returncode == 1
    (line,) = problems(result)
    assert f"`uv` on PATH is {real_dir / 'uv'}, not a uvguard shim" in line
    assert f"fix: put {prefix / 'bin'} first on PATH" in line
    report = json.loads(doctor(prefix, unguarded, sandbox.work, "--json").stdout)
    assert report["healthy"] is False
    assert [f["check"] for f in report["installation"] if not f["ok"]] == ["path"]


def test_a_shim_another_uvguard_wrote_or_whose_python_is_gone_is_a_problem(sandbox, install_wheelhouse):
    prefix, _, guarded = installed(sandbox, install_wheelhouse)
    shim = prefix / "bin" / "uv"
    text = shim.read_text()
    shim.write_text(text.replace("uvguard_word2=\n", "uvguard_word2=\nuvguard_old=1\n", 1))  # an older template
    (line,) = problems(doctor(prefix, guarded, sandbox.work))
    assert f"the shim {shim} is not the one this uvguard writes" in line and "uvguard setup" in line
    shim.write_text(text.replace(str(prefix / "venv" / "bin" / "python"), "/gone/bin/python"))
    result = doctor(prefix, guarded, sandbox.work)
    assert result.returncode == 1
    assert any("runs Python /gone/bin/python, which cannot import uvguard" in line for line in problems(result))


def test_a_missing_real_uv_is_a_problem(sandbox, install_wheelhouse):
    prefix, real_dir, guarded = installed(sandbox, install_wheelhouse, copy=True)
    (real_dir / "uv").unlink()  # uv uninstalled, or moved by an upgrade
    result = doctor(prefix, guarded, sandbox.work)
    assert result.returncode == 1
    assert any(f"the real uv {real_dir / 'uv'} (from the shim {prefix / 'bin' / 'uv'}) is missing" in line
               and "fix: run `uvguard setup` again" in line for line in problems(result)), result.stdout


def test_a_reverted_takeover_is_a_problem(sandbox, install_wheelhouse):
    image_bin = real_uv_dir(sandbox.root, copy=True)
    target = image_bin / "uv"
    env = install_env(sandbox, install_wheelhouse, [image_bin])
    prefix = sandbox.root / "guard"
    run_install(env, "--prefix", str(prefix), "--takeover", str(target))
    assert doctor(prefix, env, sandbox.work).returncode == 0, doctor(prefix, env, sandbox.work).stdout
    # A uv upgrade (or `COPY --from=ghcr.io/astral-sh/uv` again) writes a real binary over the shim.
    target.unlink()
    shutil.copy2(uv_releases.path(uv_releases.LATEST), target)
    result = doctor(prefix, env, sandbox.work)
    assert result.returncode == 1
    lines = problems(result)
    assert any(f"the takeover of {target} was reverted" in line and f"--takeover {target}" in line
               for line in lines), result.stdout
    assert any(f"`uv` on PATH is {target}, not a uvguard shim" in line for line in lines)


def test_an_invalid_policy_file_is_a_problem(sandbox, install_wheelhouse):
    prefix, _, guarded = installed(sandbox, install_wheelhouse)
    policy = Path(guarded["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text('prune = "sometimes"\n')
    result = doctor(prefix, guarded, sandbox.work)
    assert result.returncode == 1
    (line,) = problems(result)
    assert "the policy cannot be read" in line and str(policy) in line and "uvguard policy validate" in line
