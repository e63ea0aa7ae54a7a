"""Progress of a long phase (scanning environments, planning, removing) on one terminal line.

Drawn on stderr only when the voice allows it (no `--no-progress`,
`UV_NO_PROGRESS` or `-q`) and stderr is a terminal, and only once the phase
has taken `SHOW_AFTER` seconds, so quick runs stay silent. A background
thread redraws the line, so a phase that cannot count its steps (a walk of
the cache) still shows that it is alive; one that can calls `update`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from uvguard import messages
from uvguard.records import TYPE_CHECKING

if TYPE_CHECKING:
    import threading
    from typing import TextIO

SHOW_AFTER = 0.5  # seconds
_TICK = 0.1


class Progress:
    """One phase: `label`, then `done/total` once counted, else the seconds it has taken."""

    def __init__(self, label: str, voice: messages.Voice | None = None, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        voice = voice or messages.current_voice()
        self.enabled = voice.progress and messages.isatty(self.stream)
        self.done = self.total = 0
        self.start = time.monotonic()
        self.shown = False
        self._stop: threading.Event | None = None  # once a spinner runs: threading is not imported otherwise
        self._thread: threading.Thread | None = None

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def __enter__(self) -> Progress:
        if self.enabled:
            import threading

            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="uvguard-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()  # type: ignore[union-attr]  # set with the thread
            self._thread.join()
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _run(self) -> None:
        assert self._stop is not None  # set before the thread starts
        if self._stop.wait(SHOW_AFTER):
            return
        while not self._stop.is_set():
            count = (f"{self.done}/{self.total}" if self.total
                     else f"{time.monotonic() - self.start:.0f}s")
            self.stream.write(f"\r\x1b[K{self.label}: {count}")
            self.stream.flush()
            self.shown = True
            self._stop.wait(_TICK)


@contextmanager
def phase(label: str, voice: messages.Voice | None = None, stream: TextIO | None = None) -> Iterator[Progress]:
    """`with phase("Scanning environments"):` around a long step; the voice of the run by default."""
    with Progress(label, voice, stream) as progress:
        yield progress
