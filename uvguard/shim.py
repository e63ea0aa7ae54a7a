"""The Python side of the `uv` shim: exact classification, then exec or guard.

The sh front (`shim.sh`) hands over every command line that may be a
cache-mutating command: `python -I -m uvguard.shim SHIM RECORDED_UV ARG...`.
Passthrough lines are exec'd to the real uv with the standard library only;
cache-mutating ones are read again for the real uv's version (releases differ
on which lines they accept) and go through the guard pipeline
(`uvguard.guard`), which is imported only then.
"""

from __future__ import annotations

import os
import sys

from uvguard import registry
from uvguard.errors import UvguardError, report
from uvguard.invocation import parse, writes_environment
from uvguard.realuv import exec_uv, find_real_uv, uv_version

LOCALE_VARIABLE = "UVGUARD_SHIM_LC_CTYPE"  # the caller's LC_CTYPE, from the sh front


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
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

    return run(invocation, real, dict(env), cwd, version)


def restore_locale(env) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
