"""Where real uv refuses a cache command line, uvguard must not act: ask uv, relay its refusal.

A limited operation removes files itself, so every rule under which uv stops
before it touches the cache must stop uvguard too: its parser, its `UV_*`
variables, its config files and their settings, `required-version`,
`--directory`, `--project`, and whatever the next release adds. Rather than
model each rule per release, `refusal` hands the exact command line to the
real uv that would run it (same argv, working directory and environment) with
only the cache moved to a scratch path that does not exist: uv makes every
check it makes before it reaches the cache, then finds no cache there and
stops (`No cache found at: ...`, exit 0). A non-zero exit is uv's refusal,
relayed unchanged (its stderr, its exit code).

The cache is moved by the one source that beats every other (`UV_CACHE_DIR`,
a config file's `cache-dir`, the default): each `--cache-dir` value in argv
is replaced, or `--cache-dir=SCRATCH` is put first when there is none (never
a repeat, so never a new error). The environment stays as it is, so uv
checks it too (clap rejects an empty `UV_CACHE_DIR` even then). One trace
shows: when the line names no cache dir by flag or `UV_CACHE_DIR`, the usage
line of a clap error raised after parsing (`--no-offline` against
`UV_OFFLINE=1` before 0.9) shows `--cache-dir <CACHE_DIR>` where uv's own
would not. The one rule a scratch cache cannot show, a project directory
inside the cache (uv 0.11.21+), `uvconfig` models against the real cache.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping

from uvguard import uvcli
from uvguard.errors import UvRefused
from uvguard.invocation import Invocation
from uvguard.realuv import ask_uv


def refusal(invocation: Invocation, real_uv: str, env: Mapping[str, str], cwd: str) -> UvRefused | None:
    """uv's refusal of `invocation` run in `cwd` with `env`, or None when uv would go on to the cache."""
    with tempfile.TemporaryDirectory(prefix="uvguard-ask-uv-") as scratch:
        cache = os.path.join(scratch, "cache")  # never created: uv stops at "No cache found"
        try:
            result = ask_uv(real_uv, with_cache_dir(invocation.args, cache), env, cwd)
        except OSError as error:
            return UvRefused(f"error: could not run {real_uv}: {error.strerror or error}\n", 2)
    if result.returncode == 0:
        return None
    code = result.returncode if result.returncode > 0 else 128 - result.returncode  # a signal, as a shell says
    return UvRefused(result.stderr, code, stdout=result.stdout)


def with_cache_dir(args: tuple[str, ...], cache: str) -> list[str]:
    """`args` with every `--cache-dir` value replaced by `cache`, or with `--cache-dir=CACHE` first.

    Options end at `--`; in a line uv accepts, `--cache-dir` cannot be
    another option's value (a value starting with `-` needs the `=` form)
    nor a package name.
    """
    spellings = uvcli.GLOBAL_BY_NAME["cache-dir"].spellings
    out: list[str] = []
    replaced = False
    rest = iter(args)
    for arg in rest:
        name, has_value, _ = arg.partition("=")
        if arg == "--":
            out.extend([arg, *rest])
            break
        if name in spellings:
            out.extend([f"{name}={cache}"] if has_value else [arg, cache])
            if not has_value:
                next(rest, None)
            replaced = True
        else:
            out.append(arg)
    return out if replaced else [f"{spellings[0]}={cache}", *out]


def relay(refused: UvRefused) -> int:
    """Print uv's refusal as uv printed it; its exit code."""
    sys.stdout.write(refused.stdout)
    sys.stdout.flush()
    sys.stderr.write(refused.message)
    sys.stderr.flush()
    return refused.exit_code
