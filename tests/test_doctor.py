"""`uvguard doctor` on environments that real uv broke: exactly the broken distributions, nothing else.

Also home of the helpers `test_repair` and `test_materialize` share: symlink-mode
environments built with the real uv, an editable project, a wheel with data
files, and the `uvguard` CLI run as a subprocess in the sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, unprivileged_command, uv_path
from tests.wheelfactory import _record_line

UVGUARD = (sys.executable, "-c", "from uvguard.cli import main; raise SystemExit(main())")

# An in-tree PEP 517 backend whose editable wheel is a `.pth` naming `src/`.
EDITABLE_BACKEND = '''\
import base64, hashlib, os, zipfile

def _line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"

def get_requires_for_build_editable(config_settings=None):
    return []

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    info = "proj-0.1.dist-info"
    files = {
        "_proj.pth": (os.path.abspath("src") + "\\n").encode(),
        f"{info}/METADATA": b"Metadata-Version: 2.1\\nName: proj\\nVersion: 0.1\\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = [_line(p, d) for p, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    name = "proj-0.1-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name
'''


def uvguard(sandbox, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The `uvguard` CLI in a fresh interpreter, with the newest pinned uv as the real uv."""
    env = sandbox.env(UVGUARD_REAL_UV=uv_path()) if env is None else env
    return subprocess.run([*UVGUARD, *args], env=env, cwd=sandbox.work, capture_output=True, text=True)


def symlink_env(sandbox, find_links: Path, name: str, *requirements: str) -> Path:
    """A venv in the sandbox with `requirements` installed by real uv in symlink mode."""
    path = sandbox.work / name
    sandbox.uv("venv", str(path))
    sandbox.uv("pip", "install", "--python", str(path), "--no-index", "--find-links", str(find_links),
               "--link-mode", "symlink", *requirements)
    return path


def run_python(sandbox, env_path: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(env_path / "bin" / "python"), "-c", code], env=sandbox.env(),
                          capture_output=True, text=True)


def tool_output(sandbox, env_path: Path) -> str:
    """What `bin/toolpkg` says; its entry point exits with `hello()`'s text, so it lands on stderr."""
    result = subprocess.run([str(env_path / "bin" / "toolpkg")], env=sandbox.env(), capture_output=True, text=True)
    return result.stdout + result.stderr


def editable_project(root: Path) -> Path:
    """A project `proj` whose editable install is a `.pth` file pointing at its `src/`."""
    (root / "src" / "proj").mkdir(parents=True)
    (root / "src" / "proj" / "__init__.py").write_text("ANSWER = 'from source'\n")
    (root / "_backend.py").write_text(EDITABLE_BACKEND)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "_backend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "proj"\nversion = "0.1"\n'
    )
    return root


def build_data_wheel(dest: Path) -> Path:
    """`datapkg` with a data file, a header and a script: RECORD lists them as `../../../...`."""
    files = {
        "datapkg/__init__.py": b"DATA = True\n",
        "datapkg-1.0.data/data/share/datapkg/notes.txt": b"notes\n",
        "datapkg-1.0.data/headers/datapkg.h": b"int datapkg;\n",
        "datapkg-1.0.data/scripts/datatool": b"#!python\nprint('datatool ok')\n",
        "datapkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: datapkg\nVersion: 1.0\n",
        "datapkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [_record_line(path, data) for path, data in files.items()] + ["datapkg-1.0.dist-info/RECORD,,"]
    files["datapkg-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    path = dest / "datapkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def dangling_links(env_path: Path) -> set[str]:
    """Every dangling symlink under the environment, found independently of uvguard's walker."""
    found = set()
    for directory, _, names in os.walk(env_path):
        for name in names:
            path = Path(directory, name)
            if path.is_symlink() and not path.exists():
                found.add(str(path.relative_to(env_path)))
    return found


def doctor_json(sandbox, *envs: Path) -> tuple[int, dict]:
    result = uvguard(sandbox, "doctor", "--json", *map(str, envs))
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def broken_names(report: dict) -> dict[str, set[str]]:
    return {env["path"]: {b["name"] for b in env["broken"]} for env in report["environments"]}


SPEED_WORKS = "import speedpkg; assert speedpkg.answer() == '1.0'"


def test_healthy_environment_exits_0(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, "ok", "speedpkg", "toolpkg")
    code, report = doctor_json(sandbox, env)
    assert code == 0
    [entry] = report["environments"]
    assert report["healthy"] and entry["broken"] == [] and entry["distributions"] == 2
    human = uvguard(sandbox, "doctor", str(env))
    assert human.returncode == 0 and "healthy (2 distributions)" in human.stdout


@pytest.mark.parametrize("breaking", [("cache", "prune", "--ci"), ("cache", "clean")])
def test_prune_ci_and_clean_break_every_distribution(sandbox, wheelhouse, breaking):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg", "purepkg==1.0", "toolpkg", "sdistpkg")
    sandbox.uv(*breaking)
    assert run_python(sandbox, env, SPEED_WORKS).returncode != 0
    code, report = doctor_json(sandbox, env)
    assert code == 1 and not report["healthy"]
    [entry] = report["environments"]
    assert {(b["name"], b["version"]) for b in entry["broken"]} == {
        ("speedpkg", "1.0"), ("purepkg", "1.0"), ("toolpkg", "1.0"), ("sdistpkg", "1.0")}
    reported = {path for b in entry["broken"] for path in b["missing"]}
    assert reported == dangling_links(env)
    assert entry["dangling_into_cache"] == len(reported)
    assert all(b["missing_files"] == len(b["missing"]) for b in entry["broken"])


def test_clean_one_package_breaks_exactly_that_distribution(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg", "purepkg==1.0", "toolpkg")
    sandbox.uv("cache", "clean", "speedpkg")
    code, report = doctor_json(sandbox, env)
    assert code == 1
    [entry] = report["environments"]
    [speed] = entry["broken"]
    site = next(p.relative_to(env) for p in env.glob("lib/python*/site-packages"))
    assert speed["name"] == "speedpkg" and set(speed["missing"]) == {
        str(site / "speedpkg" / "__init__.py"),
        str(site / "speedpkg" / next((env / site / "speedpkg").glob("_speed*")).name),
        str(site / "speedpkg-1.0.dist-info" / "METADATA"),
        str(site / "speedpkg-1.0.dist-info" / "WHEEL"),
    }
    assert run_python(sandbox, env, "import purepkg, toolpkg").returncode == 0
    human = uvguard(sandbox, "doctor", str(env))
    assert "speedpkg 1.0: 4 missing files" in human.stdout
    assert f"uvguard repair {env}" in human.stderr


def test_several_environments_reported_separately(sandbox, wheelhouse):
    speed = symlink_env(sandbox, wheelhouse, "speed", "speedpkg", "purepkg==1.0")
    pure = symlink_env(sandbox, wheelhouse, "pure", "purepkg==2.0")
    sandbox.uv("cache", "clean", "speedpkg")
    code, report = doctor_json(sandbox, speed, pure)
    assert code == 1
    assert broken_names(report) == {str(speed): {"speedpkg"}, str(pure): set()}


def test_bin_scripts_data_files_and_record_map_to_their_distribution(sandbox, wheelhouse, tmp_path):
    build_data_wheel(tmp_path)
    env = symlink_env(sandbox, tmp_path, ".venv", "datapkg")
    sandbox.uv("pip", "install", "--python", str(env), "--no-index", "--find-links", str(wheelhouse),
               "--link-mode", "symlink", "toolpkg")
    assert (env / "share" / "datapkg" / "notes.txt").is_symlink()
    sandbox.uv("cache", "clean")
    _, report = doctor_json(sandbox, env)
    [entry] = report["environments"]
    missing = {b["name"]: set(b["missing"]) for b in entry["broken"]}
    assert set(missing) == {"datapkg", "toolpkg"} and entry["unowned_dangling"] == []
    # Data files and headers live outside site-packages; RECORD reaches them through `../../../`.
    assert "share/datapkg/notes.txt" in missing["datapkg"]
    assert any(p.startswith("include/") and p.endswith("datapkg.h") for p in missing["datapkg"])
    # uv writes bin/ scripts and RECORD as real files: they are not missing.
    assert not any(p.startswith("bin/") or p.endswith("RECORD") for paths in missing.values() for p in paths)
    assert "toolpkg 1.0" not in tool_output(sandbox, env)


def test_editable_install_is_reported_as_editable(sandbox, wheelhouse):
    project = editable_project(sandbox.work / "proj")
    env = symlink_env(sandbox, wheelhouse, ".venv", "--editable", str(project))
    sandbox.uv("cache", "prune", "--ci")
    assert run_python(sandbox, env, "import proj; proj.ANSWER").returncode != 0
    _, report = doctor_json(sandbox, env)
    [broken] = report["environments"][0]["broken"]
    assert (broken["name"], broken["editable"]) == ("proj", True)
    assert any(path.endswith("_proj.pth") for path in broken["missing"])


def test_dangling_link_no_record_claims_is_reported_unowned(sandbox, wheelhouse):
    env = symlink_env(sandbox, wheelhouse, ".venv", "purepkg==1.0")
    site = next(env.glob("lib/python*/site-packages"))
    (site / "stray.pth").symlink_to(sandbox.cache / "archive-v0" / "gone" / "stray.pth")
    code, report = doctor_json(sandbox, env)
    [entry] = report["environments"]
    assert code == 1 and entry["broken"] == []
    assert entry["unowned_dangling"] == [str((site / "stray.pth").relative_to(env))]


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "missing", "does not exist"),
    (lambda root: root, "is not a Python environment"),
    (lambda root: (root / "gone-venv").symlink_to(root / "nowhere") or root / "gone-venv", "no longer exists"),
])
def test_bad_input_exits_2_with_a_clear_error(sandbox, make, message):
    result = uvguard(sandbox, "doctor", str(make(sandbox.work)))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_no_environment_named_checks_every_root_of_the_live_set(sandbox, wheelhouse):
    (sandbox.work / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    project_env = symlink_env(sandbox, wheelhouse, ".venv", "speedpkg")
    active = symlink_env(sandbox, wheelhouse, "active", "purepkg==1.0")
    sandbox.uv("cache", "clean", "speedpkg")
    result = uvguard(sandbox, "doctor", "--json", env=sandbox.env(UVGUARD_REAL_UV=uv_path(), VIRTUAL_ENV=active))
    assert result.returncode == 1, result.stderr
    assert broken_names(json.loads(result.stdout)) == {str(project_env): {"speedpkg"}, str(active): set()}


def test_project_venv_linking_to_a_removed_cache_entry_is_broken(sandbox):
    (sandbox.work / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    (sandbox.work / ".venv").symlink_to(sandbox.cache / "environments-v2" / "app-0123")
    result = uvguard(sandbox, "doctor")
    assert result.returncode == 1
    assert "environments-v2/app-0123`, which no longer exists" in result.stderr


def test_no_environment_known_says_how_to_name_one(sandbox):
    result = uvguard(sandbox, "doctor", "--json")
    assert "no environments known" in result.stderr
    report = json.loads(result.stdout)
    assert report["environments"] == [] and not report["gone"]
    # Not installed here: no uvguard shim on PATH is the one problem (tests/test_doctor_install.py).
    assert [f["check"] for f in report["installation"] if not f["ok"]] == ["path"]
    assert result.returncode == 1



def test_unreadable_directory_is_an_error_not_healthy():
    """Only meaningful for a user that permissions stop: run doctor as nobody when we are root."""
    as_user = unprivileged_command()
    shared = Path(tempfile.mkdtemp(prefix="uvguard-doctor-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        locked = shared / "venv" / "lib" / "python3" / "site-packages" / "locked"
        locked.mkdir(parents=True)
        (shared / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
        locked.chmod(0)
        result = subprocess.run([*as_user, *UVGUARD, "doctor", str(shared / "venv")], capture_output=True,
                                text=True, cwd="/", env={"PYTHONPATH": str(REPO), "PATH": os.defpath,
                                                         "HOME": str(shared)})
        assert result.returncode == 1, result.stderr
        assert f"cannot read `{locked}`" in result.stderr and "Traceback" not in result.stderr
    finally:
        locked.chmod(0o755)
        shutil.rmtree(shared)


def test_distribution_names_are_printed_as_uv_prints_them(sandbox, tmp_path):
    """A dist-info directory says `date_pkg`; uv (and so uvguard) says `date-pkg`."""
    from tests.wheelfactory import build_wheel

    build_wheel(tmp_path, "date_pkg", "2.9")
    env = symlink_env(sandbox, tmp_path, ".venv", "date-pkg")
    assert list((env / "lib").glob("python*/site-packages/date_pkg-2.9.dist-info"))
    sandbox.uv("cache", "clean")
    code, report = doctor_json(sandbox, env)
    assert code == 1 and broken_names(report) == {str(env): {"date-pkg"}}
    human = uvguard(sandbox, "doctor", str(env))
    assert "  date-pkg 2.9: " in human.stdout and "date_pkg" not in human.stdout
