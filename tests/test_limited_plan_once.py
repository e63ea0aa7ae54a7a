"""A limited operation works out its plan once: the decision's plan is reused under uv's lock when the
cache is unchanged, the dry run shows the decision's plan, and uv's size accounting is asked once per
binary and filesystem. A change while waiting for the lock is planned for."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time

import pytest

from tests.test_limited_cli import project  # noqa: F401 (a fixture)
from uvguard import limited, prune_plan
from uvguard.commands.prune import limited_command
from uvguard.invocation import parse

SETTLED = 0.25  # seconds: the installs' files are older than a clock tick when the guarded line runs


@pytest.fixture
def uv_runs(monkeypatch) -> dict[str, int]:
    """How often real uv ran on a skeleton (`plan`) and for the size accounting (`sizes`)."""
    runs = {"plan": 0, "sizes": 0}
    run_on, accounting = prune_plan._run_uv_on, prune_plan.size_accounting

    def plan(*args):
        runs["plan"] += 1
        return run_on(*args)

    def sizes(*args):
        runs["sizes"] += 1
        return accounting(*args)

    monkeypatch.setattr(prune_plan, "_run_uv_on", plan)
    monkeypatch.setattr(prune_plan, "size_accounting", sizes)
    return runs


def imports_compiled_module(venv) -> bool:
    check = "import speedpkg._speed as s; assert s.answer() == '1.0'"
    return subprocess.run([str(venv / "bin" / "python"), "-c", check], capture_output=True).returncode == 0


def test_a_guarded_limited_prune_runs_uv_once_to_plan_and_once_to_learn_sizes(sandbox, project, uv_runs):  # noqa: F811
    from uvguard import guard

    venv, env = project
    env = {**env, "UVGUARD_POLICY": "ci"}
    time.sleep(SETTLED)
    real_uv = env["UVGUARD_REAL_UV"]
    assert guard.run(parse(["cache", "prune", "--ci"]), real_uv, env, str(sandbox.work)) == 0
    assert uv_runs == {"plan": 1, "sizes": 1}
    assert imports_compiled_module(venv)
    assert guard.run(parse(["cache", "prune", "--ci"]), real_uv, env, str(sandbox.work)) == 0
    assert uv_runs == {"plan": 2, "sizes": 1}  # the live entries are limited again; the accounting is remembered
    assert imports_compiled_module(venv)


def test_uvguard_prune_and_its_dry_run_plan_once(sandbox, project, uv_runs):  # noqa: F811
    venv, env = project
    time.sleep(SETTLED)
    dry = limited_command(["cache", "prune", "--ci"], True, env, str(sandbox.work))
    assert uv_runs["plan"] == 1 and dry["removed"] and dry["kept"]
    real = limited_command(["cache", "prune", "--ci"], False, env, str(sandbox.work))
    assert uv_runs["plan"] == 2
    assert sorted(item["path"] for item in real["removed"]) == sorted(item["path"] for item in dry["removed"])
    assert imports_compiled_module(venv)


def test_a_pointer_written_while_waiting_for_the_lock_keeps_its_archive(sandbox, project, uv_runs,  # noqa: F811
                                                                         monkeypatch):
    """The decision's plan removes an archive nothing points at; an install that finishes before the
    lock is ours points at it. Reusing that plan would leave the pointer naming a removed archive."""
    venv, env = project
    orphan = sandbox.cache / "archive-v0" / "orphan"
    (orphan / "orphanpkg").mkdir(parents=True)
    (orphan / "orphanpkg" / "__init__.py").write_text("")
    pointer = sandbox.cache / "wheels-v8" / "pypi" / "orphanpkg" / "1.0-py3-none-any"
    time.sleep(SETTLED)
    exclusive_lock = limited.exclusive_lock

    @contextlib.contextmanager
    def lock_after_an_install(*args, **kwargs):
        with exclusive_lock(*args, **kwargs) as held:
            pointer.parent.mkdir(parents=True)
            pointer.symlink_to("../../../archive-v0/orphan")
            yield held

    monkeypatch.setattr(limited, "exclusive_lock", lock_after_an_install)
    result = limited_command(["cache", "prune"], False, env, str(sandbox.work))
    assert result["exit_code"] == 0
    assert uv_runs["plan"] == 2  # planned again under the lock
    assert os.path.isdir(pointer) and "archive-v0/orphan" not in [item["path"] for item in result["removed"]]
    assert imports_compiled_module(venv)
