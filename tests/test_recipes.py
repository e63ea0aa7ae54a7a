"""The README's recipes, run command by command in a fresh HOME and prefix.

The commands come from README.md itself, so the recipes cannot drift from
what is tested. No Docker engine here: the Dockerfile's instructions are
played against a directory standing for the image's filesystem (`/bin`,
`/app`), its `RUN` lines run as `sh -c` scripts, with the pinned real uv
release copied where `COPY --from=ghcr.io/astral-sh/uv:X` puts it. Absolute
paths the recipes name (`/etc/uvguard`, `/var/log/uvguard`, the image's
`/bin`) are mapped into the sandbox; each mapping must be used, so a changed
recipe fails here instead of silently running something else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path


from tests import uv_releases
from tests.conftest import REPO
from tests.installer import install_env, is_shim, real_uv_dir

README = REPO / "README.md"


def recipe(title: str) -> list[tuple[str, str]]:
    """The fenced blocks, as (language, code), of `### title` under `## Recipes`."""
    text = README.read_text()
    recipes = text.split("\n## Recipes\n", 1)[1].split("\n## ", 1)[0]
    section = recipes.split(f"\n### {title}", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


class PathMap:
    """Absolute paths of a recipe → sandbox paths; remembers which were used."""

    def __init__(self, mapping: dict[str, Path]) -> None:
        self.mapping = {k: str(v) for k, v in mapping.items()}
        self.used: set[str] = set()
        keys = sorted(self.mapping, key=len, reverse=True)
        self.pattern = re.compile(r"(?<![\w.~/-])(" + "|".join(map(re.escape, keys)) + r")(?=/|\b|$)")

    def __call__(self, text: str) -> str:
        def replace(match: re.Match) -> str:
            self.used.add(match.group(1))
            return self.mapping[match.group(1)]
        return self.pattern.sub(replace, text)

    def assert_all_used(self) -> None:
        assert self.used == set(self.mapping), f"recipe no longer names {set(self.mapping) - self.used}"


def run_sh(script: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(["sh", "-c", script], env=env, cwd=cwd, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=300)
    assert result.returncode == 0, f"{script}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


# --- Docker image -----------------------------------------------------------------------------

def build_context(root: Path, wheels: Path, sandbox) -> Path:
    """The build context: a project using a pure and a compiled wheel, locked by real uv."""
    context = root / "context"
    context.mkdir()
    (context / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["purepkg", "speedpkg"]\n\n'
        f'[tool.uv]\nno-index = true\nfind-links = ["{wheels}"]\n'
    )
    sandbox.uv("lock", cwd=context)
    return context


def play_dockerfile(dockerfile: str, image: Path, context: Path, env: dict, skip_run=lambda line: False) -> None:
    """Play the Dockerfile's instructions against `image` (a directory standing for /)."""
    paths = PathMap({"/bin": image / "bin", "/app": image / "app", "/opt/uvguard-src": REPO})
    cwd = image
    for line in dockerfile.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction == "FROM":
            continue
        if instruction == "COPY" and rest.startswith("--from=ghcr.io/astral-sh/uv:"):
            tag, *sources, dest = rest.split()
            version = tag.rsplit(":", 1)[1]
            assert sources == ["/uv", "/uvx"]
            bin_dir = Path(paths(dest.rstrip("/")))
            bin_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(uv_releases.path(version), bin_dir / "uv")  # uvx: not in the release cache
        elif instruction == "COPY" and rest.split()[0] == "uvguard/":
            paths(rest.split()[1])  # the checkout itself stands for it; installs come from the wheelhouse
        elif instruction == "COPY":
            *sources, dest = rest.split()
            target = Path(paths(dest))
            target.mkdir(parents=True, exist_ok=True)
            for source in sources:
                shutil.copy2(context / source, target / source)
        elif instruction == "ENV":
            key, _, value = rest.partition("=")
            env[key] = value
        elif instruction == "WORKDIR":
            cwd = Path(paths(rest))
            cwd.mkdir(parents=True, exist_ok=True)
        elif instruction == "RUN":
            if not skip_run(rest):
                run_sh(paths(rest), env, cwd)
        else:
            raise AssertionError(f"the Dockerfile recipe has an instruction this test does not play: {line}")
    paths.assert_all_used()


def links_into(venv: Path, cache: Path) -> set[str]:
    """Top-level cache entries (`bucket/entry`) that symlinks in `venv` point into."""
    entries = set()
    for dirpath, dirnames, filenames in os.walk(venv):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                target = os.readlink(path)
                if target.startswith(str(cache) + "/"):
                    entries.add("/".join(Path(target).relative_to(cache).parts[:2]))
    return entries


def imports_work(venv: Path) -> subprocess.CompletedProcess:
    """Run the packages' code (a bare `import` of a package whose files are gone still works: namespace)."""
    return subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import purepkg, speedpkg; print(purepkg.hello(), speedpkg.answer())"],
                          capture_output=True, text=True)


def test_dockerfile_recipe_keeps_the_venv_and_prunes_the_rest(sandbox, install_wheelhouse, wheelhouse, tmp_path):
    ((lang, dockerfile),) = recipe("Docker image")
    assert lang == "dockerfile"
    context = build_context(tmp_path, wheelhouse, sandbox)

    # Control: the same image without uvguard; a bare prune --ci breaks the .venv.
    bare_image = tmp_path / "bare-image"
    bare_env = install_env(sandbox, install_wheelhouse, [bare_image / "bin"], UV_CACHE_DIR=str(tmp_path / "bare-cache"))
    play_dockerfile(dockerfile, bare_image, context, bare_env, skip_run=lambda line: "install.sh" in line)
    assert imports_work(bare_image / "app" / ".venv").returncode != 0

    image = tmp_path / "image"
    env = install_env(sandbox, install_wheelhouse, [image / "bin"])
    play_dockerfile(dockerfile, image, context, env)

    assert is_shim(image / "bin" / "uv")
    venv = image / "app" / ".venv"
    live = links_into(venv, sandbox.cache)
    assert live and all(entry.startswith("archive-v0/") for entry in live)
    assert imports_work(venv).returncode == 0, imports_work(venv).stderr
    left = {f"{bucket.name}/{entry.name}" for bucket in sandbox.cache.iterdir() if bucket.is_dir()
            for entry in bucket.iterdir()}
    bare_left = {f"{bucket.name}/{entry.name}" for bucket in Path(bare_env["UV_CACHE_DIR"]).iterdir()
                 if bucket.is_dir() for entry in bucket.iterdir()}
    # What uvguard kept beyond the bare prune is exactly what the .venv links to.
    assert {e for e in left if e.startswith("archive-v0/")} == live
    assert {e for e in left if not e.startswith("archive-v0/")} == \
        {e for e in bare_left if not e.startswith("archive-v0/")}


# --- Team -----------------------------------------------------------------------------------

def test_team_recipe_locks_the_policy_and_logs_decisions(sandbox, install_wheelhouse, wheelhouse):
    (toml_lang, policy_text), (sh_lang, commands) = recipe("Team: one locked policy on every machine")
    assert (toml_lang, sh_lang) == ("toml", "sh")
    etc = Path(sandbox.env()["XDG_CONFIG_DIRS"])  # stands for /etc: a system layer, locks honoured
    log_dir = sandbox.root / "var-log-uvguard"
    paths = PathMap({"/etc/uvguard": etc / "uvguard", "/var/log/uvguard": log_dir,
                     "./install.sh": REPO / "install.sh"})
    (sandbox.work / "policy.toml").write_text(paths(policy_text))
    env = install_env(sandbox, install_wheelhouse, [real_uv_dir(sandbox.root)], SHELL="/bin/bash")
    # Commands run as in a login shell after the install: ~/.local/bin on PATH.
    env["PATH"] = f"{sandbox.home / '.local' / 'bin'}{os.pathsep}{env['PATH']}"
    outputs = [run_sh(paths(line.split("#")[0].replace("sudo ", "")), env, sandbox.work)
               for line in commands.splitlines() if line.strip()]
    paths.assert_all_used()
    assert "locked" in outputs[-1].stdout

    # A user tries to turn the full clean on; the cache has an environment linking into it.
    user_policy = Path(env["XDG_CONFIG_HOME"]) / "uvguard" / "policy.toml"
    user_policy.parent.mkdir(parents=True, exist_ok=True)
    user_policy.write_text('clean = "allow"\n')
    project = sandbox.work / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["purepkg"]\n'
        f'[tool.uv]\nno-index = true\nfind-links = ["{wheelhouse}"]\n')
    shim = sandbox.home / ".local" / "bin" / "uv"
    synced = subprocess.run([str(shim), "sync", "--link-mode", "symlink"], env=env, cwd=project,
                            capture_output=True, text=True)
    assert synced.returncode == 0, synced.stderr
    before = sorted(p.name for p in (sandbox.cache / "archive-v0").iterdir())
    show = subprocess.run([str(sandbox.home / ".local/bin/uvguard"), "policy", "show"], env=env, cwd=project,
                          capture_output=True, text=True)
    assert "clean" in show.stdout and "locked" in (show.stdout + show.stderr)
    clean = subprocess.run([str(shim), "cache", "clean"], env=env, cwd=project, capture_output=True, text=True)
    assert clean.returncode == 3, clean.stderr
    assert sorted(p.name for p in (sandbox.cache / "archive-v0").iterdir()) == before
    records = [json.loads(line) for line in (log_dir / "decisions.jsonl").read_text().splitlines()]
    assert records[-1]["operation"] == "clean" and records[-1]["action"] == "refuse"
    assert records[-1]["locked"] is True


# --- Shell ----------------------------------------------------------------------------------

def test_shell_recipe_makes_bash_resolve_uv_to_the_shim(sandbox, install_wheelhouse):
    ((lang, commands),) = recipe("Shell")
    assert lang == "sh"
    real_dir = real_uv_dir(sandbox.root)
    env = install_env(sandbox, install_wheelhouse, [real_dir])
    paths = PathMap({"./install.sh": REPO / "install.sh"})
    outputs = [run_sh(paths(line.split("  #")[0]), env, sandbox.home)
               for line in commands.splitlines() if line.strip()]
    paths.assert_all_used()
    shim = sandbox.home / ".local" / "share" / "uvguard" / "bin" / "uv"
    assert is_shim(shim)
    assert outputs[-1].stdout.strip() == f"uv is {shim}"
    assert not (sandbox.home / ".profile").exists()  # --no-modify-path: only shell-init touched ~/.bashrc
    # Without the recipe's rc edit, the same shell finds the real uv.
    (sandbox.home / ".bashrc").unlink()
    bare = run_sh("bash -i -c 'type uv'", env, sandbox.home)
    assert bare.stdout.strip() == f"uv is {real_dir / 'uv'}"
