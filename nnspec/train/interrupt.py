"""train.interrupt: SIGINT / SIGTERM -> a flag the loop polls after every chunk.

The first Ctrl-C (or SIGTERM) only asks the loop to stop at the end of the current chunk
(about half a second), so it can write a checkpoint and the history; a second Ctrl-C while it
is still working raises KeyboardInterrupt as usual, for a user who really wants out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopFlag:
    """Set by a signal (or by code: tests, an editor) to stop training at the next chunk."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str = "interrupted") -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return self.reason is not None


@contextmanager
def catch_interrupts(flag: StopFlag) -> Iterator[StopFlag]:
    """Install SIGINT/SIGTERM handlers that set `flag` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set("SIGTERM" if signum == signal.SIGTERM else "SIGINT")

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
