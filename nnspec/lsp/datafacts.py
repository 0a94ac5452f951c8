"""lsp.datafacts: a data source of an open spec -> its Facts, read off the keystroke path.

`nnspec check` reads a data file when it checks (data.facts); the language server cannot wait
for that on every keystroke. Here a file's facts are read once, by a worker process (one at a
time, in one streaming pass with bounded memory: data.facts), and kept in a bounded cache
under what they depend on: the file's path, size, modification time and inode (one `stat`)
and the source's options (data.facts.key). While a file is being read `lookup` answers None,
so the spec's own diagnostics are published at once; when the facts arrive `notify` is
called, and the server checks the documents that waited again and publishes their data
diagnostics (and refreshes inlay hints).

A path that is not a regular file is never opened (check() reported it, E413); a relative
path in an unsaved document is never resolved against the server's folder (pipeline: W114).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

log = logging.getLogger("nnspec.lsp")

LIMIT = 256 << 20  # the server reads data files up to 256 MiB (check: data.facts.LIMIT)
ENTRIES = 32  # facts kept (each holds at most data.facts.MAX_LABELS target values)


def _read(src: Any, base: str, role: str, limit: int) -> Any:
    """What the worker runs (a top-level function, so that it pickles by name)."""
    from nnspec.data.facts import read_facts

    return read_facts(src, base, role, limit=limit)


def _spawn_executor() -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: the server runs threads (pygls reads stdin in one); forking those is unsafe
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


class DataFacts:
    """Facts of data files, by key, read by `executor` (default: one spawned worker process).
    `notify()` is called (from a worker's thread) each time facts arrive."""

    def __init__(self, notify: Callable[[], None] | None = None,
                 executor: Executor | None = None, *, limit: int = LIMIT,
                 entries: int = ENTRIES) -> None:
        self.notify = notify
        self._executor = executor
        self._own = executor is None
        self.limit = limit
        self.entries = entries
        self._facts: OrderedDict[tuple, Any] = OrderedDict()
        self._reading: dict[tuple, Future] = {}
        self._lock = threading.Lock()
        self.reads = 0  # how many reads were started (for the tests)

    def lookup(self, src: Any, base: Path | str, role: str) -> Any:
        """The facts of `src` (relative to `base`), or None while they are being read."""
        from nnspec.data.facts import key

        k = key(src, base)
        with self._lock:
            if k in self._facts:
                self._facts.move_to_end(k)
                return self._facts[k]
            if k in self._reading:
                return None
            if self._executor is None:
                self._executor = _spawn_executor()
            self.reads += 1
            future = self._executor.submit(_read, src, str(base), role, self.limit)
            self._reading[k] = future
        future.add_done_callback(functools.partial(self._arrived, k))
        return None

    def pending(self) -> int:
        with self._lock:
            return len(self._reading)

    def _arrived(self, k: tuple, future: Future) -> None:
        try:
            facts = future.result()
        except Exception:  # a worker that died or a bug: logged, and read again next time
            log.exception("nnspec lsp: reading data facts failed")
            facts = None
            if self._own:
                self._restart()
        with self._lock:
            self._reading.pop(k, None)
            if facts is not None:
                self._facts[k] = facts
                while len(self._facts) > self.entries:
                    self._facts.popitem(last=False)
        if facts is not None and self.notify is not None:
            self.notify()

    def _restart(self) -> None:
        with self._lock:
            old, self._executor = self._executor, None
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def __len__(self) -> int:
        return len(self._facts)

    def close(self) -> None:
        """Stop reading (the server is shutting down): a read in progress is abandoned, its
        worker ended, so that exiting never waits for a large file."""
        with self._lock:
            executor, self._executor = self._executor, None
            self._reading.clear()
        if executor is None:
            return
        processes = getattr(executor, "_processes", None) or {}
        for p in list(processes.values()):
            try:
                p.terminate()
            except Exception:  # already gone
                pass
        executor.shutdown(wait=False, cancel_futures=True)
