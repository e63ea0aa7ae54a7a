"""The README's recipes, run command by command in a fresh HOME and prefix.

The commands come from README.md itself, so the recipes cannot drift from
what is tested. No Docker engine here: the Dockerfile's instructions are
played against a directory per stage standing for its filesystem (`/bin`,
`/app`), its `RUN` lines run as `sh -c` scripts, with the pinned real uv
release copied where `COPY --from=ghcr.io/astral-sh/uv:X` puts it. No CI
runner either: the GitHub workflow's steps run against a stand-in tool cache
holding a real uv (as setup-uv leaves it), the repository's `action.yml`
steps as bash scripts, and setup-uv's post-job prune by the absolute path of
that uv; the GitLab job's script lines run in a stand-in for its image.
Absolute paths the recipes name (`/etc/uvguard`, `/var/log/uvguard`, the
image's `/bin`) are mapped into the sandbox; each mapping must be used, so a
changed recipe fails here instead of silently running something else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests import miniyaml, uv_releases
from tests.conftest import REPO
from tests.installer import install_env, is_shim, real_uv_dir, source_checkout

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
    """The build context (or CI workspace): a project using a pure and a compiled wheel, locked by
    real uv, and `app.py`, which runs their code."""
    context = root / "context"
    context.mkdir()
    (context / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["purepkg", "speedpkg"]\n\n'
        f'[tool.uv]\nno-index = true\nfind-links = ["{wheels}"]\n'
    )
    (context / "app.py").write_text("import purepkg, speedpkg._speed\nprint(purepkg.hello(), speedpkg.answer())\n")
    sandbox.uv("lock", cwd=context)
    return context


class Image:
    """The filesystems a Dockerfile's stages build: one directory per stage standing for its `/`.

    A virtualenv is not relocatable, so a recipe copies it between stages to the same path;
    `shared` paths are one directory for every stage, and `COPY --from` must name them alike.
    """

    def __init__(self, root: Path, shared: dict[str, Path], context: Path, env: dict) -> None:
        self.root, self.shared, self.context, self.env = root, shared, context, env
        self.stages: dict[str, Path] = {}
        self.used: set[str] = set()
        self.healthcheck: str | None = None
        self.cwd = root

    def paths(self, stage: Path) -> PathMap:
        mapping = {"/bin": stage / "bin", "/app": stage / "app", "/src": stage / "src", **self.shared}
        paths = PathMap(mapping)
        paths.used = self.used
        return paths


def play_dockerfile(dockerfile: str, image_root: Path, context: Path, env: dict, shared: dict[str, Path],
                    checkout: Path, skip=lambda line: False) -> Image:
    """Play the Dockerfile's instructions, stage by stage; the final stage's directory is
    `image_root / "final"`."""
    image = Image(image_root, shared, context, env)
    stage = None
    lines = [line for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]
    for number, line in enumerate(lines):
        if skip(line):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction == "FROM":
            name = rest.split(" AS ")[1] if " AS " in rest else "final"
            assert name != "final" or number == max(i for i, text in enumerate(lines) if text.startswith("FROM "))
            stage = image.stages[name] = image_root / name
            stage.mkdir(parents=True)
            paths = image.paths(stage)
            image.cwd = stage
            continue
        if instruction == "COPY" and rest.startswith("--from=ghcr.io/astral-sh/uv:"):
            tag, *sources, dest = rest.split()
            version = tag.rsplit(":", 1)[1]
            assert sources == ["/uv", "/uvx"]
            bin_dir = Path(paths(dest.rstrip("/")))
            bin_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(uv_releases.path(version), bin_dir / "uv")  # uvx: not in the release cache
        elif instruction == "COPY" and rest.startswith("--from="):
            from_stage, source, dest = rest.split()
            assert from_stage[len("--from="):] in image.stages
            assert source == dest and paths(source) != source, "a venv must keep its path across stages"
            assert Path(paths(dest)).is_dir()
        elif instruction == "COPY" and rest.split()[0] == "uvguard/":
            shutil.copytree(checkout, paths(rest.split()[1]))
        elif instruction == "COPY":
            *sources, dest = rest.split()
            target = Path(paths(dest))
            target.mkdir(parents=True, exist_ok=True)
            for source in sources:
                shutil.copy2(context / source, target / source)
        elif instruction == "ENV":
            key, _, value = rest.partition("=")
            env[key] = paths(value).replace("$PATH", env.get("PATH", ""))
        elif instruction == "WORKDIR":
            image.cwd = Path(paths(rest))
            image.cwd.mkdir(parents=True, exist_ok=True)
        elif instruction == "RUN":
            run_sh(paths(rest), env, image.cwd)
        elif instruction == "HEALTHCHECK":
            assert rest.startswith("CMD ")
            image.healthcheck = paths(rest[len("CMD "):])
        else:
            raise AssertionError(f"the Dockerfile recipe has an instruction this test does not play: {line}")
    return image


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
                           "import purepkg, speedpkg._speed; print(purepkg.hello(), speedpkg.answer())"],
                          capture_output=True, text=True)


def offline_pip(env: dict, wheelhouse: Path) -> dict:
    """pip reads its index options from the environment: the recipe's `pip install` stays as written."""
    return dict(env, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PIP_DISABLE_PIP_VERSION_CHECK="1")


def cache_entries(cache: Path) -> set[str]:
    return {f"{bucket.name}/{entry.name}" for bucket in cache.iterdir() if bucket.is_dir()
            for entry in bucket.iterdir()}


def test_dockerfile_recipe_keeps_the_venv_and_prunes_the_rest(sandbox, install_wheelhouse, wheelhouse, tmp_path):
    ((lang, dockerfile),) = recipe("Docker image")
    assert lang == "dockerfile"
    context = build_context(tmp_path, wheelhouse, sandbox)
    checkout = source_checkout(install_wheelhouse)

    # Control: the same image without uvguard; a bare prune --ci breaks the .venv.
    bare_env = install_env(sandbox, install_wheelhouse, [], UV_CACHE_DIR=str(tmp_path / "bare-cache"))
    bare_env["PATH"] = f"{tmp_path / 'bare-image' / 'final' / 'bin'}{os.pathsep}{bare_env['PATH']}"
    play_dockerfile(dockerfile, tmp_path / "bare-image", context, bare_env, {"/opt/uvguard": tmp_path / "bare-opt"},
                    checkout, skip=lambda line: "uvguard" in line)
    assert imports_work(tmp_path / "bare-image" / "final" / "app" / ".venv").returncode != 0

    env = offline_pip(install_env(sandbox, install_wheelhouse, []), install_wheelhouse)
    env["PATH"] = f"{tmp_path / 'image' / 'final' / 'bin'}{os.pathsep}{env['PATH']}"
    image = play_dockerfile(dockerfile, tmp_path / "image", context, env, {"/opt/uvguard": tmp_path / "opt-uvguard"},
                            checkout)
    assert image.used == {"/bin", "/app", "/src", "/opt/uvguard"}

    final = image.stages["final"]
    assert is_shim(final / "bin" / "uv")
    assert shutil.which("uvguard", path=env["PATH"]) == str(tmp_path / "opt-uvguard" / "bin" / "uvguard")
    venv = final / "app" / ".venv"
    live = links_into(venv, sandbox.cache)
    assert live and all(entry.startswith("archive-v0/") for entry in live)
    assert imports_work(venv).returncode == 0, imports_work(venv).stderr
    left, bare_left = cache_entries(sandbox.cache), cache_entries(Path(bare_env["UV_CACHE_DIR"]))
    # What uvguard kept beyond the bare prune is exactly what the .venv links to.
    assert {e for e in left if e.startswith("archive-v0/")} == live
    assert {e for e in left if not e.startswith("archive-v0/")} == \
        {e for e in bare_left if not e.startswith("archive-v0/")}

    # The HEALTHCHECK passes, and fails once a later layer copies a real uv over the takeover.
    healthy = subprocess.run(["sh", "-c", image.healthcheck], env=env, cwd=image.cwd, capture_output=True, text=True)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    (final / "bin" / "uv").unlink()
    shutil.copy2(uv_releases.path(uv_releases.LATEST), final / "bin" / "uv")
    reverted = subprocess.run(["sh", "-c", image.healthcheck], env=env, cwd=image.cwd, capture_output=True, text=True)
    assert reverted.returncode == 1 and "was reverted" in reverted.stdout


# --- GitHub Actions ---------------------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def resolve(text: str, values: dict[str, str]) -> str:
    """GitHub's `${{ ... }}` expressions, from `values` only (an unknown one fails the test)."""
    return EXPRESSION.sub(lambda match: values[match.group(1)], text)


class Runner:
    """A stand-in GitHub runner: RUNNER_TEMP, GITHUB_PATH (prepended to PATH after each step)."""

    def __init__(self, root: Path, env: dict, workspace: Path) -> None:
        self.env, self.workspace = env, workspace
        self.github_path = root / "github_path"
        self.github_path.write_text("")
        (root / "runner-temp").mkdir()
        env.update(RUNNER_TEMP=str(root / "runner-temp"), GITHUB_PATH=str(self.github_path),
                   GITHUB_WORKSPACE=str(workspace))

    def bash(self, script: str, extra: dict | None = None) -> subprocess.CompletedProcess:
        """A `run:` step as GitHub runs it with `shell: bash`; then GITHUB_PATH takes effect."""
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                                env={**self.env, **(extra or {})}, cwd=self.workspace, capture_output=True,
                                text=True, stdin=subprocess.DEVNULL, timeout=300)
        assert result.returncode == 0, f"{script}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
        added = [line for line in self.github_path.read_text().splitlines() if line]
        self.github_path.write_text("")
        for directory in added:
            self.env["PATH"] = f"{directory}{os.pathsep}{self.env['PATH']}"
        return result

    def composite_action(self, action: dict, inputs: dict[str, str], action_path: Path) -> None:
        """Run a composite action's steps, its inputs resolved as GitHub does (defaults filled in)."""
        assert action["runs"]["using"] == "composite"
        values = {f"inputs.{name}": inputs.get(name, spec.get("default", ""))
                  for name, spec in action["inputs"].items()}
        for step in action["runs"]["steps"]:
            assert step["shell"] == "bash" and set(step) <= {"name", "shell", "env", "run"}
            extra = {key: resolve(value, values) for key, value in (step.get("env") or {}).items()}
            self.bash(resolve(step["run"], values), dict(extra, GITHUB_ACTION_PATH=str(action_path)))


def play_workflow(steps: list[dict], runner: Runner, toolcache_uv: Path, with_uvguard: bool = True) -> None:
    outputs: dict[str, str] = {}
    for step in steps:
        uses = step.get("uses", "")
        if uses.startswith("actions/checkout@"):
            continue  # the workspace is the checkout
        if uses.startswith("astral-sh/setup-uv@"):
            assert step["with"]["version"] == uv_releases.LATEST
            # What setup-uv does: uv in the tool cache, on PATH, named by its `uv-path` output.
            toolcache_uv.parent.mkdir(parents=True)
            shutil.copy2(uv_releases.path(uv_releases.LATEST), toolcache_uv)
            runner.env["PATH"] = f"{toolcache_uv.parent}{os.pathsep}{runner.env['PATH']}"
            outputs[f"steps.{step['id']}.outputs.uv-path"] = str(toolcache_uv)
        elif uses.split("@")[0].endswith("/uvguard"):
            if with_uvguard:
                inputs = {name: resolve(value, outputs) for name, value in step["with"].items()}
                runner.composite_action(miniyaml.load((REPO / "action.yml").read_text()), inputs, REPO)
        else:
            assert set(step) == {"run"}, step
            runner.bash(step["run"])
    # setup-uv's post step: `<uv-path> cache prune --ci --force`, by absolute path, in the job's environment.
    post = subprocess.run([str(toolcache_uv), "cache", "prune", "--ci", "--force"], env=runner.env,
                          cwd=runner.workspace, capture_output=True, text=True)
    assert post.returncode == 0, post.stderr


def test_github_actions_recipe_guards_setup_uvs_post_job_prune(sandbox, install_wheelhouse, wheelhouse, tmp_path):
    ((lang, workflow),) = recipe("GitHub Actions")
    assert lang == "yaml"
    steps = miniyaml.load(workflow)["steps"]
    workspace = build_context(tmp_path, wheelhouse, sandbox)
    toolcache_uv = tmp_path / "hostedtoolcache" / "uv" / uv_releases.LATEST / "x86_64" / "uv"
    runner = Runner(tmp_path, install_env(sandbox, install_wheelhouse, []), workspace)
    play_workflow(steps, runner, toolcache_uv)

    assert is_shim(toolcache_uv)
    assert imports_work(workspace / ".venv").returncode == 0, imports_work(workspace / ".venv").stderr
    installed = tmp_path / "runner-temp" / "uvguard" / "bin" / "uvguard"
    assert shutil.which("uvguard", path=runner.env["PATH"]) == str(installed)
    assert links_into(workspace / ".venv", sandbox.cache)

    # Control: the same workflow without the uvguard step; the post-job prune breaks the .venv.
    bare = tmp_path / "bare"
    bare.mkdir()
    bare_workspace = build_context(bare, wheelhouse, sandbox)
    bare_runner = Runner(bare, install_env(sandbox, install_wheelhouse, [], UV_CACHE_DIR=str(bare / "cache")),
                         bare_workspace)
    play_workflow(steps, bare_runner, bare / "toolcache" / "uv", with_uvguard=False)
    assert imports_work(bare_workspace / ".venv").returncode != 0


# --- GitLab CI --------------------------------------------------------------------------------

def play_gitlab_job(job: dict, workspace: Path, env: dict, skip=lambda line: False) -> None:
    """Each script line as the runner's shell runs it, in CI_PROJECT_DIR, with the job's variables."""
    env["CI_PROJECT_DIR"] = str(workspace)
    for key, value in job["variables"].items():
        env[key] = value.replace("$CI_PROJECT_DIR", str(workspace))
    for section in ("before_script", "script", "after_script"):
        for line in job[section]:
            if not skip(line):
                run_sh(line, env, workspace)


def test_gitlab_recipe_guards_the_after_script_prune(sandbox, install_wheelhouse, wheelhouse, tmp_path):
    ((lang, text),) = recipe("GitLab CI")
    assert lang == "yaml"
    job = miniyaml.load(text)["test"]
    assert job["image"].startswith(f"ghcr.io/astral-sh/uv:{uv_releases.LATEST}-")
    assert job["cache"]["paths"] == [".uv-cache"]

    def run_job(root: Path, skip=lambda line: False) -> Path:
        workspace = build_context(root, wheelhouse, sandbox)
        shutil.copytree(source_checkout(install_wheelhouse), workspace / "uvguard")
        image_bin = root / "usr-local-bin"  # where the uv image has uv
        image_bin.mkdir()
        shutil.copy2(uv_releases.path(uv_releases.LATEST), image_bin / "uv")
        # uv's own index options from the environment: the job's lines stay as written, offline.
        env = install_env(sandbox, install_wheelhouse, [image_bin], UV_NO_INDEX="1",
                          UV_FIND_LINKS=str(install_wheelhouse))
        play_gitlab_job(job, workspace, env, skip)
        return workspace, env

    workspace, env = run_job(tmp_path)
    assert is_shim(tmp_path / "usr-local-bin" / "uv")
    assert imports_work(workspace / ".venv").returncode == 0, imports_work(workspace / ".venv").stderr
    assert links_into(workspace / ".venv", workspace / ".uv-cache")
    # uvguard's own tool environment, installed in symlink mode too, is a root the prune kept.
    assert links_into(Path(env["XDG_DATA_HOME"]) / "uv" / "tools" / "uvguard", workspace / ".uv-cache")
    assert run_sh("$(uv tool dir --bin)/uvguard --version", env, workspace).stdout.startswith("uvguard ")

    control = tmp_path / "control"
    control.mkdir()
    bare, _ = run_job(control, skip=lambda line: "uvguard setup" in line)
    assert imports_work(bare / ".venv").returncode != 0


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
    assert records[-1]["decided_by"]["locked"] is True


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
