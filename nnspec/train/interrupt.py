"""train.interrupt: SIGINT / SIGTERM / SIGHUP -> a flag the loop polls after every chunk.

Two regimes, one per phase of `nnspec run`:

- before training (importing, reading data, compiling kernels on a cold cache) a signal ends
  the process at once (`exit_at_once`: the default action, so the shell sees status 130 for
  Ctrl-C). A Python handler is not enough there: a KeyboardInterrupt raised inside Numba's
  compiler can be swallowed by llvmlite's callbacks (the run then went on for 15-22 s, or
  exited 0), and nothing worth saving exists yet. The run folder is left with status
  `running` and a lock the kernel has dropped; `--resume` or a rerun picks it up
  (docs/runs.md).
- while training (`catch_interrupts`) the first Ctrl-C, SIGTERM or SIGHUP only asks the loop
  to stop at the end of the current chunk (about half a second), so it can write a
  checkpoint and the history; a second Ctrl-C while it is still working raises
  KeyboardInterrupt as usual, for a user who really wants out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))
_NAMES = {getattr(signal, n): n for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}


class StopFlag:
    """Set by a signal (or by code: tests, an editor) to stop training at the next chunk."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str = "interrupted") -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return self.reason is not None


@contextmanager
def _handlers(handler: object) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in previous:
        signal.signal(sig, handler)  # type: ignore[arg-type]
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def exit_at_once() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP end the process immediately (their default action), until
    a `catch_interrupts` inside takes over (main thread only; elsewhere a no-op)."""
    with _handlers(signal.SIG_DFL):
        yield


@contextmanager
def catch_interrupts(flag: StopFlag) -> Iterator[StopFlag]:
    """Install SIGINT/SIGTERM/SIGHUP handlers that set `flag` (main thread only)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set(_NAMES.get(signum, "signal"))

    with _handlers(handler):
        yield flag
