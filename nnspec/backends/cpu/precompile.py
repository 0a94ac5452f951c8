"""backends.cpu.precompile: the engine's first compile on two cores.

The first run of an installation compiles the engine for its dtype (engine.py: one program
for every spec), and Numba compiles on one core: typing engine.train_chunk compiles every
kernel it calls, the forward pass's first (about half of the work), then the backward
pass's and the optimizers', then train_chunk itself; engine.infer follows. While the main
process compiles the forward half, a helper process (`python -m` this module) compiles the
backward half and the optimizers into the same on-disk cache, and then infer: when
train_chunk's typing reaches those kernels, Numba finds them in its cache (Dispatcher.compile
looks there before compiling), and infer is loaded rather than compiled.

The helper is only useful if it compiles exactly the signatures train_chunk asks for: JOBS
spells each kernel's argument types in the one-letter code below, as train_chunk passes
them, and `jobs()` turns them into Numba types taken from the executable's own buffers.
A job whose types no longer match costs the helper's core some time and nothing else (the
main process compiles what it does not find); tests/cpu/test_cpu_precompile.py holds the
codes to the kernels' parameter lists and, with --slow, to the signatures a real compile
asks for. The helper ends with the main process (it watches its parent), is stopped when
the warm-up no longer needs it, and is started only on a cold cache with two cores or more.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numba
import numpy as np

# (module of nnspec.backends.cpu, kernel, argument codes) in the helper's order: the kernels
# train_chunk types last come first, so that the two processes meet as late as possible.
# Codes: i int64, f float64, b bool, A 1-D array of the plan dtype, M 2-D array of it,
# T int64 2-D table, F float64 2-D table, D float64 1-D, n/m/g the engine's net/mem/graph
# tuples (tables.py), all C-contiguous.
JOBS: tuple[tuple[str, str, str], ...] = (
    # first what the main process otherwise compiled itself (a first compile's timeline,
    # benchmarks/README.md): the pools' and the sparse loss's parallel regions, which its
    # forward pass types ~8 and ~17 s in (~4 s of its path), and the image backward, which
    # it reached before the helper and compiled a second time (~4.5 s)
    ("pool", "pool_parts", "iiiTiAiAiAi"),
    ("losses", "sparse_cce", "iAAAAiib"),
    ("engine", "_image_backward", "ibTFAAAAAbbTiii"),
    ("optimizers", "step_parts", "iiAAAAADfi"),
    ("optimizers", "step_rows", "iAAAAADfi"),
    ("engine", "_update_running", "iTFAAT"),
    ("optimizers", "clip", "Afff"),
    ("engine", "_deliver_columns", "AAiTii"),
    ("engine", "_deliver", "AATii"),
    ("engine", "graph_seeds", "iiifAig"),
    ("engine", "graph_losses", "iiifAig"),
    ("batchnorm", "backward", "AiiAbAAAA"),
    ("dropout", "backward", "AA"),
    ("engine", "_embedding_backward", "iTAAAib"),
    ("dense", "backward", "MMMMAbMbb"),
    ("dense", "backward_t", "AAAAAbAbbiiibbiiffA"),
    ("optimizers", "check", "Ab"),
    ("activations", "backward", "iffAAAi"),
    ("losses", "loss_grad", "ifiAAAiif"),
)
# then the evaluation entry point, whose forward-pass kernels the main process has compiled
# (and cached) by the time the helper gets there
ENTRY = ("engine", "infer", "MMMnmgT")
PACKAGE = "nnspec.backends.cpu."


def signature(codes: str, work: Any) -> tuple:
    """The Numba argument types `codes` stand for, for the executable workspace `work`
    (executable._Work)."""
    dtype = work.ws.dtype
    table = {
        "i": numba.int64, "f": numba.float64, "b": numba.boolean,
        "A": numba.typeof(work.ws), "M": numba.typeof(np.empty((1, 1), dtype)),
        "T": numba.typeof(work.layout.itab), "F": numba.typeof(work.layout.ftab),
        "D": numba.typeof(np.empty(1, np.float64)),
        "n": numba.typeof(work.net), "m": numba.typeof(work.mem),
        "g": numba.typeof(work.graph()),
    }
    return tuple(table[c] for c in codes)


def jobs(work: Any) -> list[tuple[str, str, tuple, bool]]:
    """(module, kernel, argument types, is an entry point) for the helper, in its order."""
    return [(PACKAGE + mod, name, signature(codes, work), False) for mod, name, codes in JOBS] \
        + [(PACKAGE + ENTRY[0], ENTRY[1], signature(ENTRY[2], work), True)]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (not on Linux)
        return os.cpu_count() or 1


class Helper:
    """The helper process, compiling `todo` (jobs()); `last` is the job it reported last."""

    def __init__(self, todo: list[tuple[str, str, tuple, bool]]):
        self.final = todo[-1][1] if todo else None
        self.last: str | None = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(pickle.dumps(todo))
            self.proc.stdin.close()
        except OSError:  # the helper is gone already: nothing to wait for
            pass
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.last = line.decode("utf-8", "replace").strip()

    def settle(self, timeout: float = 60.0) -> None:
        """The main process is about to need the last job (the entry point): wait for the
        helper when it is compiling that one (or done), else stop it."""
        if self.proc.poll() is None and self.last == self.final:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(1.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def helping(work: Any, cold: bool) -> Iterator[Helper | None]:
    """A Helper compiling jobs(work) meanwhile, when the cache is `cold` and a second core
    is there (else None; `work` may be None then); stopped at the end, whatever happens
    (Ctrl-C included)."""
    helper = None
    if cold and _cores() >= 2 and os.environ.get("NNSPEC_NO_COMPILE_HELPER") is None:
        try:
            helper = Helper(jobs(work))
        except Exception:  # noqa: BLE001 - never a reason to fail a run: one core compiles all
            helper = None
    try:
        yield helper
    finally:
        if helper is not None:
            helper.close()


def _watch_parent(parent: int) -> None:
    """End this helper when its parent is gone (killed: nothing else would stop it)."""
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main() -> int:
    """The helper: compile the jobs read from stdin, saying each one's name on stdout."""
    todo = pickle.load(sys.stdin.buffer)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    from nnspec.backends.cpu import jit

    for module, name, sig, entry in todo:
        print(name, flush=True)
        jit.compile_as_callee(not entry)
        try:
            getattr(importlib.import_module(module), name).compile(sig)
        except Exception:  # noqa: BLE001 - the main process compiles what is missing
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
