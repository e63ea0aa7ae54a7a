"""One uv command line's way through uvguard, each stage computed once, on first use.

    invocation → location (working and project dirs, workspace root, where the config walk starts)
    → effective uv config → policy → roots → live set → plan → decision

The shim's guarded path (`guard`) and every `uvguard` command that reads a cache or a project build
one `Pipeline` from the same frozen inputs (the invocation, the environment, the physical cwd, the real
uv and its release, the output voice) and read the stages they need, so two entry points never see two
policies or two root sets: the policy's project walk starts where uv's config walk does
(`Location.discovery_start`, the workspace root) for all of them. The pipeline owns the command's
reader of TOML files (`tomlfile.TomlFiles`): a file several stages need is read once.

A plain class with cached properties, not a dataclass: the guarded path imports neither
`dataclasses` nor `inspect` (~10 ms).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

from uvguard import messages
from uvguard.decision import Decision, Situation, decide
from uvguard.errors import RealUvNotFound
from uvguard.invocation import Invocation, Version, parse
from uvguard.live_set import LiveSet, scan_live_set
from uvguard.policy import Policy, load_policy
from uvguard.progress import phase
from uvguard.realuv import find_real_uv, uv_version
from uvguard.records import TYPE_CHECKING, NamedTuple
from uvguard.registry import state_dir
from uvguard.roots import Root, find_roots
from uvguard.tomlfile import TomlFiles
from uvguard.uvconfig import EffectiveConfig, Location, effective_config, locate

if TYPE_CHECKING:
    from uvguard.prune_plan import Plan


class Evaluation(NamedTuple):
    """Everything the pipeline found for one command line, and the decision."""

    invocation: Invocation
    config: EffectiveConfig
    decision: Decision
    policy: Policy | None = None
    live_set: LiveSet | None = None
    plan: Plan | None = None  # the plan decided on, when one was needed: the action reuses it under the lock


def voice_for(invocation: Invocation, env: Mapping[str, str]) -> messages.Voice:
    """uv's own rules for this line: `--color`/`--no-color`, NO_COLOR, `-q`, `--no-progress`."""
    color = "never" if invocation.option("no-color") else invocation.option("color")
    return messages.Voice.detect(color_flag=color, quiet=invocation.quiet, env=env,
                                 no_progress=bool(invocation.option("no-progress")))


class Pipeline:
    """The stages of one command line, from inputs it never changes. Each stage below is computed when
    first read and kept; `rescan_live_entries` drops the ones that may have changed while uvguard
    waited for uv's lock."""

    def __init__(self, invocation: Invocation, env: Mapping[str, str], cwd: str, real_uv: str | None = None,
                 version: Version | None = None, voice: messages.Voice | None = None) -> None:
        self.invocation = invocation
        self.env = env
        self.cwd = cwd
        self.real_uv = real_uv
        self.version = version
        self.voice = voice if voice is not None else voice_for(invocation, env)
        self.toml = TomlFiles()

    @property
    def uv(self) -> str:
        """The real uv, for the stages that run it; RealUvNotFound for a pipeline built without one."""
        if self.real_uv is None:
            raise RealUvNotFound("this step runs the real uv, and none was found (set UVGUARD_REAL_UV)")
        return self.real_uv

    @cached_property
    def location(self) -> Location:
        return locate(self.invocation, self.env, self.cwd, self.version, self.toml)

    @cached_property
    def config(self) -> EffectiveConfig:
        return effective_config(self.invocation, self.env, self.cwd, self.version, self.toml, self.location)

    @cached_property
    def policy(self) -> Policy:
        """The layered policy; its project walk starts at the workspace root, as uv's config walk."""
        return load_policy(self.env, self.cwd, self.location.discovery_start, toml=self.toml)

    @cached_property
    def roots(self) -> list[Root]:
        return find_roots(self.invocation, self.config, self.env, self.cwd, self.policy.root_paths, self.toml)

    @cached_property
    def live_set(self) -> LiveSet:
        with phase("Scanning environments"):
            return self._scan()

    @cached_property
    def plan(self) -> Plan:
        """What the real uv would remove (`prune_plan.removal_plan`, run on a skeleton of the cache)."""
        from uvguard.prune_plan import removal_plan  # ~7 ms of imports, needed only when something is live

        with phase("Planning what to remove"):
            return removal_plan(self.invocation, self.config, self.uv, self.env)

    @cached_property
    def decision(self) -> Decision:
        config = self.config
        if config.no_cache:
            reason = f"no cache ({config.no_cache_source.describe()}): uv uses a temporary cache and touches nothing"
            return Decision(self.invocation.operation, "allow", reason)
        return decide(self._situation(), self.policy)

    @property
    def evaluation(self) -> Evaluation:
        """The decision with what it was made from (no policy nor live set for a `--no-cache` line)."""
        decision = self.decision
        if self.config.no_cache:
            return Evaluation(self.invocation, self.config, decision)
        return Evaluation(self.invocation, self.config, decision, self.policy, self.live_set,
                          self.__dict__.get("plan"))

    def rescan_live_entries(self) -> dict[str, tuple[str, ...]]:
        """The live entries found again, for the limited operation to call under uv's lock: an install
        that finished while we waited for the lock is kept too. The roots, the live set and the plan are
        dropped (the first two found again now, the plan when next read); entries live before stay
        kept (an environment deleted meanwhile costs only a kept entry; keeping more is safe)."""
        before = self.live_set.entries
        for stage in ("roots", "live_set", "plan"):
            self.__dict__.pop(stage, None)
        self.live_set = self._scan()  # the limited operation draws its own progress under the lock
        now = self.live_set.entries
        return {entry: tuple(sorted({*before.get(entry, ()), *now.get(entry, ())})) for entry in {*before, *now}}

    def _scan(self) -> LiveSet:
        return scan_live_set(self.config.cache_dir, self.roots, state_dir(self.env))

    def _situation(self) -> Situation:
        invocation, config, live = self.invocation, self.config, self.live_set
        entries = live.entries
        protected: tuple[str, ...] = ()
        if entries:
            from uvguard.prune_plan import protected_entries

            protected = protected_entries(self.plan, entries)
        breaking = sorted({path for entry in protected for path in entries[entry]})
        linked = [e.path for e in live.environments if e.live_entries or e.dangling]
        return Situation(
            operation=invocation.operation,
            packages=invocation.packages,
            cache_exists=config.cache_dir.is_dir(),
            symlink_active=config.symlink_active,
            symlink_source=_symlink_source(config),
            linked_environments=tuple(linked),
            breaking_environments=tuple(breaking),
            protected_entries=protected,
            uncertain=live.reasons if live.uncertain else (),
        )


def _symlink_source(config: EffectiveConfig) -> str:
    sources = []
    if config.link_mode == "symlink":
        sources.append(f"link-mode = symlink, from {config.link_mode_source.describe()}")
    if config.pip_link_mode == "symlink" and config.pip_link_mode_source != config.link_mode_source:
        sources.append(f"pip link-mode = symlink, from {config.pip_link_mode_source.describe()}")
    return "; ".join(sources)


def command_pipeline(uv_args: Sequence[str], env: Mapping[str, str], cwd: str, need_uv: bool = False) -> Pipeline:
    """The pipeline of a `uvguard` command for `uv UV_ARGS`, with the real uv and its release when
    there is one (without one the newest measured behaviour applies, unless `need_uv`: RealUvNotFound)."""
    try:
        real_uv: str | None = find_real_uv(env, shim=None)
    except RealUvNotFound:
        if need_uv:
            raise
        real_uv = None
    # Asked, not remembered: a command that only reads leaves no state behind (the shim remembers it).
    version = uv_version(real_uv) if real_uv is not None else None
    return Pipeline(parse(list(uv_args), version), env, cwd, real_uv, version)


def location_pipeline(uv_global_args: Sequence[str], env: Mapping[str, str], cwd: str) -> Pipeline:
    """The pipeline of the `uv cache prune` a command's global options (`--cache-dir`, `--directory`,
    `--project`...) describe: the cache, policy and live set the shim would guard from `cwd`."""
    return command_pipeline([*uv_global_args, "cache", "prune"], env, cwd)
