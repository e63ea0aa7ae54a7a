"""The Python side of the `uv` shim: exact classification, then exec or guard.

The sh front (`shim.sh`) hands over every command line that may be a
cache-mutating command: `python -I -c "$uvguard_start" SHIM RECORDED_UV ARG...`, where
the start code imports this module and calls `main` (`python -I -m uvguard.shim`
does the same, ~1.5 ms slower).
Passthrough lines are exec'd to the real uv with the standard library only;
cache-mutating ones are read again for the real uv's version (releases differ
on which lines they accept) and go through the guard pipeline
(`uvguard.guard`), which is imported only then.

The sh front also hands over install-type lines for a uv it does not know to
take the cache lock itself: `... --shared-lock REAL_UV ARG...` (see
`install_with_lock`).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import MutableMapping

from uvguard import registry
from uvguard.errors import UvguardError, report
from uvguard.invocation import parse, writes_environment
from uvguard.realuv import exec_uv, find_real_uv, remember_takes_lock, uv_version

LOCALE_VARIABLE = "UVGUARD_SHIM_LC_CTYPE"  # the caller's LC_CTYPE, from the sh front
SHARED_LOCK_FLAG = "--shared-lock"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [SHARED_LOCK_FLAG] and len(argv) >= 2:
        restore_locale(os.environ)
        return install_with_lock(argv[1], argv[2:], os.environ)
    if len(argv) < 2:
        sys.stderr.write("usage: python -m uvguard.shim SHIM RECORDED_UV [UV-ARGS...]\n")
        return 2
    shim, recorded, args = argv[0], argv[1] or None, argv[2:]
    env = os.environ
    restore_locale(env)
    try:
        real = find_real_uv(env, shim, recorded)
    except UvguardError as error:
        return report(error)
    try:
        cwd = os.getcwd()
    except OSError:  # a deleted working directory: uv itself reports it
        cwd = None
    invocation = parse(args)
    if cwd is not None and writes_environment(invocation):
        registry.append(cwd, env, args)
    version = None
    if invocation.intercepted:
        version = uv_version(real, env)
        invocation = parse(args, version)
    if not invocation.intercepted:
        exec_uv(real, args)
    if cwd is None:
        return report(UvguardError("the current directory does not exist; cannot tell which cache and "
                                   "environments this command touches", hint="the cache is untouched"))
    from uvguard.guard import run

    modules_loaded()
    return run(invocation, real, dict(env), cwd, version)


def install_with_lock(real: str, args: list[str], env: MutableMapping[str, str]) -> int:
    """Exec an install-type line (already recorded by the sh front), holding
    uv's shared cache lock for a uv that does not take it itself (< 0.8.19).

    Without it, a limited prune could remove the entries this install is
    writing and linking, and the new environment would dangle. A uv that
    takes the lock itself is exec'd at once and remembered for the sh front.
    """
    from uvguard.cachelock import CacheLockTimeout, inherited_shared_lock, takes_lock_itself

    version = uv_version(real, env)
    if takes_lock_itself(version):
        remember_takes_lock(real, env)
        exec_uv(real, args)
    from uvguard import messages
    from uvguard.uvconfig import effective_config

    modules_loaded()
    try:
        config = effective_config(parse(args, version), env, os.getcwd(), version)
        if not config.no_cache:
            inherited_shared_lock(config.cache_dir, env)  # stays open across exec: uv holds it
    except CacheLockTimeout as error:
        return report(error)  # exit 2, as uv itself on a timeout
    except (UvguardError, OSError) as error:  # uv reports a bad config itself; never block uv for a lock
        messages.warning(f"could not take uv's cache lock for this command ({getattr(error, 'message', error)}): "
                         "a `uv cache prune` running meanwhile may remove what it installs")
    exec_uv(real, args)


def restore_locale(env: MutableMapping[str, str]) -> None:
    """Undo Python's C-locale coercion in `env`, from what the sh front saw.

    Python sets `LC_CTYPE=C.UTF-8` in its own environment when the locale is
    C or POSIX (PEP 538), and every uv we start would inherit it. The sh front
    passes the caller's LC_CTYPE as `set:VALUE`, or empty when it was unset.
    """
    before = env.pop(LOCALE_VARIABLE, None)
    if before is None:
        return  # called directly, not through the sh front
    if before.startswith("set:"):
        env["LC_CTYPE"] = before[len("set:"):]
    else:
        env.pop("LC_CTYPE", None)


def modules_loaded() -> None:
    """Turn the cyclic GC back on, which the sh front's start code turned off while modules loaded.

    Their objects live as long as the process; collecting among them cost ~4 % of a guarded
    command. Frozen, they stay out of every later collection; what the command itself
    allocates is collected as usual. A caller that never turned it off is left as it was.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


if __name__ == "__main__":
    sys.exit(main())
