"""Checks of the guard itself, for `uvguard doctor` (as `mise doctor` checks mise).

A guard can stop guarding without a sound: a PATH where another `uv` comes
first, a shim whose Python lost uvguard or that an older uvguard wrote, a
real uv that was removed or upgraded away, a uv upgrade that wrote a real
binary over a takeover, a registry or policy file nobody can read.
Each check gives one Finding: what holds, or what is wrong and how to fix it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from uvguard.errors import UvguardError, os_failure
from uvguard.installation import Receipt, installation_prefix
from uvguard.paths import state_dir
from uvguard.realuv import is_shim, version_line
from uvguard.registry import registry_path
from uvguard.shimfile import render_shim

if TYPE_CHECKING:
    from uvguard.policy import Policy

ASIDE = ".uvguard-real"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str
    fix: str | None = None

    def to_json(self) -> dict:
        return {"check": self.check, "ok": self.ok, "message": self.message, "fix": self.fix}

    def line(self) -> str:
        return f"ok: {self.message}" if self.ok else f"problem: {self.message}; fix: {self.fix}"


def first_on_path(name: str, path: str) -> str | None:
    """The first executable `name` on `path`, as a shell would run it (shims included)."""
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def shim_settings(shim: str) -> dict[str, str]:
    """The values a shim has baked in (`uvguard_python`, `uvguard_recorded_uv`)."""
    settings = {}
    with open(shim, encoding="utf-8", errors="replace") as file:
        for line in file:
            name, equals, value = line.rstrip("\n").partition("=")
            if equals and name in ("uvguard_python", "uvguard_recorded_uv"):
                parsed = shlex.split(value)
                settings[name] = parsed[0] if parsed else ""
            if len(settings) == 2:
                break
    return settings


def _runs(command: list[str]) -> str | None:
    """The first line of `command`'s output in an empty environment; None when it fails."""
    try:
        result = subprocess.run(command, env={}, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip().splitlines()[0] if result.returncode == 0 and result.stdout.strip() else None


def _prefix_hint(prefix: Path | None) -> str:
    if prefix is None:
        return "run `uvguard setup` (or install.sh), then open a new shell"
    return f"put {prefix / 'bin'} first on PATH: . {shlex.quote(str(prefix / 'env'))} (new shells: `uvguard setup`)"


def check_path(env: Mapping[str, str], prefix: Path | None) -> tuple[Finding, str | None]:
    """`uv` on PATH resolves to a uvguard shim; the shim found, if it is one."""
    found = first_on_path("uv", env.get("PATH", os.defpath))
    if found is None:
        return Finding("path", False, "no `uv` on PATH", _prefix_hint(prefix)), None
    if not is_shim(found):
        return Finding("path", False, f"`uv` on PATH is {found}, not a uvguard shim: cache commands run through it "
                       "are not guarded", f"{_prefix_hint(prefix)}; or take that binary over: "
                       f"`uvguard setup --takeover {shlex.quote(found)}`"), None
    return Finding("path", True, f"`uv` on PATH is the uvguard shim {found}"), found


def check_shim(shim: str, env: Mapping[str, str]) -> list[Finding]:
    """The shim's Python still runs uvguard, and the real uv it records exists and runs."""
    settings = shim_settings(shim)
    rerun = "run `uvguard setup` again (with the same options) to write the shim anew"
    findings = []
    python = settings.get("uvguard_python", "")
    if _runs([python, "-I", "-c", "import uvguard.shim; print('ok')"]) != "ok":
        findings.append(Finding("shim-python", False, f"the shim {shim} runs Python {python or '(none)'}, "
                                "which cannot import uvguard (was uvguard uninstalled or moved?)", rerun))
    else:
        findings.append(Finding("shim-python", True, f"the shim's Python {python} runs uvguard"))
    if Path(shim).read_text(encoding="utf-8", errors="replace") != render_shim(
            python, settings.get("uvguard_recorded_uv") or None):
        findings.append(Finding("shim-current", False, f"the shim {shim} is not the one this uvguard writes "
                                "(another uvguard version wrote it, or it was edited)", rerun))
    findings.append(check_real_uv(settings.get("uvguard_recorded_uv") or None, f"the shim {shim}", env, rerun))
    return findings


def check_real_uv(recorded: str | None, where: str, env: Mapping[str, str], rerun: str) -> Finding:
    if "UVGUARD_REAL_UV" in env:
        recorded, where = env["UVGUARD_REAL_UV"], "UVGUARD_REAL_UV"
    if not recorded:
        return Finding("real-uv", False, f"{where} records no real uv", rerun)
    if not os.path.isfile(recorded):
        return Finding("real-uv", False, f"the real uv {recorded} (from {where}) is missing", rerun)
    version = version_line(recorded)
    if not version or not version.startswith("uv "):
        return Finding("real-uv", False, f"the real uv {recorded} (from {where}) does not run "
                       "(`--version` prints no uv version)", rerun)
    return Finding("real-uv", True, f"the real uv {recorded} runs ({version})")


def check_takeovers(receipt: Receipt, prefix: Path) -> list[Finding]:
    findings = []
    for target in receipt.values("takeover"):
        aside = target + ASIDE
        again = f"`uvguard setup --prefix {shlex.quote(str(prefix))} --takeover {shlex.quote(target)}`"
        if not is_shim(target):
            what = "is missing" if not os.path.lexists(target) else "is no longer the uvguard shim"
            fix = (f"move {aside} away (the uv that was taken over), then {again}" if os.path.exists(aside)
                   else again)
            findings.append(Finding("takeover", False, f"the takeover of {target} was reverted: it {what} "
                                    "(a uv upgrade or reinstall writes the real binary back)", fix))
        elif not os.path.isfile(aside):
            findings.append(Finding("takeover", False, f"{target} is the shim, but the real uv beside it "
                                    f"({aside}) is missing", f"put the real uv at {aside}, or reinstall uv and "
                                    f"then {again}"))
        else:
            findings.append(Finding("takeover", True, f"{target} is taken over (the real uv is at {aside})"))
    return findings


def check_files(env: Mapping[str, str], read_policy: Callable[[], Policy]) -> list[Finding]:
    """The registry the shim appends to can be read and written; the policy files parse
    (`read_policy`: the command's pipeline's policy, the one a guarded command here would get)."""
    findings = []
    registry = registry_path(env)
    directory = state_dir(env)
    if os.path.exists(registry) and not os.access(registry, os.R_OK | os.W_OK):
        findings.append(Finding("registry", False, f"the registry {registry} cannot be read and written",
                                f"give it back to this user: chown $(id -u) {shlex.quote(registry)}"))
    elif os.path.isdir(directory) and not os.access(directory, os.W_OK | os.X_OK):
        findings.append(Finding("registry", False, f"the state directory {directory} is not writable: the shim "
                                "cannot record environments", f"chown $(id -u) {shlex.quote(directory)}"))
    else:
        findings.append(Finding("registry", True, f"the registry {registry} is usable"))
    try:
        policy = read_policy()
    except (UvguardError, OSError) as error:
        message = (f"the policy cannot be read: {error.message}" if isinstance(error, UvguardError)
                   else os_failure("the policy cannot be read", error))
        findings.append(Finding("policy", False, message,
                                "fix or remove the file named (`uvguard policy validate FILE` checks one)"))
    else:
        files = ", ".join(file.source.describe() for file in policy.files) or "the built-in default policy"
        findings.append(Finding("policy", True, f"the policy reads ({files})"))
    return findings


def check_installation(env: Mapping[str, str], read_policy: Callable[[], Policy]) -> list[Finding]:
    """Every check, in the order a user would fix them."""
    prefix = installation_prefix(env)
    path_finding, shim = check_path(env, prefix)
    if shim is not None and (Path(shim).parent.parent / "receipt").is_file():
        prefix = Path(shim).parent.parent
    findings = [path_finding]
    if shim is not None:
        findings += check_shim(shim, env)
    elif prefix is not None:
        recorded = Receipt(prefix / "receipt").values("real_uv")
        findings.append(check_real_uv(recorded[-1] if recorded else None, f"{prefix / 'receipt'}", env,
                                      "run `uvguard setup` again (with the same options)"))
    if prefix is not None and Receipt.is_ours(prefix / "receipt"):
        findings += check_takeovers(Receipt(prefix / "receipt"), prefix)
    return findings + check_files(env, read_policy)
