"""The one exception hierarchy, and the one place that maps it to exit codes.

Exit codes (documented in the README):
  0    success
  1    a check found a problem (`uvguard doctor`), or real uv failed on the skeleton (nothing removed)
  2    uvguard's own usage or configuration error (bad flag, bad uv config, bad policy), or a
       file it needed could not be read or written (a read-only or full cache; a removal that
       stopped part-way says what was and was not removed)
  3    the policy refused a cache operation; the cache is untouched
  uv's real uv itself refuses the cache command line (its own error and exit
       code, relayed unchanged by the shim, `uvguard check` and `explain`)
  127  the `uv` shim (and `uvguard check`/`explain`) found no real uv binary;
       `uvguard repair` counts a missing uv as bad input (2)
  130  interrupted (Ctrl-C)
A command passed through to uv returns uv's own exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from uvguard.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_NO_UV = 127
EXIT_INTERRUPTED = 130


class UvguardError(Exception):
    """Base class: a message for the user, already worded; never a traceback."""

    exit_code = EXIT_USAGE
    blocks_uv = False  # about a file real uv would wait on forever (a FIFO): so uv is not asked about it

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(UvguardError):
    """A bad command line or argument given to uvguard itself."""


class ConfigError(UvguardError):
    """A uv configuration file or variable that uv itself would reject."""


class PolicyError(UvguardError):
    """An invalid policy file or value."""


class RealUvNotFound(UvguardError):
    """No real uv binary, or the chain of uv binaries leads back to a shim."""

    exit_code = EXIT_NO_UV


class Refused(UvguardError):
    """The policy refused a destructive cache operation."""

    exit_code = EXIT_REFUSED


class FileSystemFailure(UvguardError):
    """A file or directory the guarded path needed could not be read or written (a read-only
    cache, a full disk, a permission); the message names it and says what was removed, if anything."""


def os_failure(doing: str, error: OSError) -> str:
    """`doing` and why it failed, naming the file: "cannot lock the cache: `/c/.lock`: Read-only file system"."""
    where = f"`{error.filename}`: " if error.filename else ""
    return f"{doing}: {where}{error.strerror or error}"


class UvRefused(UvguardError):
    """Real uv refuses the command line before it touches the cache: its own output and exit code."""

    def __init__(self, stderr: str, exit_code: int, stdout: str = "") -> None:
        super().__init__(stderr)
        self.exit_code = exit_code
        self.stdout = stdout


class OperationFailed(UvguardError):
    """A check or a limited operation could not go on, nothing changed: real uv failed on the
    skeleton of the cache, doctor could not read an environment."""

    exit_code = EXIT_PROBLEM


def report(error: UvguardError | OSError) -> int:
    """Print `error` in uv's voice on stderr and return its exit code. An OSError is a file uvguard
    needed that could not be read or written (a state dir that is a file, a permission): it says which."""
    from uvguard import messages

    if isinstance(error, OSError):
        error = FileSystemFailure(os_failure("cannot use a file uvguard needs", error))
    if isinstance(error, UvRefused):
        from uvguard.uvrefusal import relay

        code = relay(error)
        messages.hint(f"that is uv's own refusal (exit {code}): uv rejects this command line before it "
                      "touches the cache; uvguard relays it unchanged, and so does the `uv` shim")
        return code
    messages.error(error.message, hint=error.hint)
    return error.exit_code


def run_guarded(function: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Call `function`, turning uvguard errors, OS errors and ^C into exit codes."""
    try:
        return function(*args, **kwargs)
    except (UvguardError, OSError) as error:
        return report(error)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return EXIT_INTERRUPTED
