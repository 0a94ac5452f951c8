"""backends.cpu.jit: the one set of Numba options every CPU kernel is compiled with.

- cache=True: compiled code is kept on disk, so a second run does not compile.
- error_model="numpy": division by zero gives inf/NaN instead of raising, which lets LLVM
  vectorise loops with divisions (the Adam update) and lets the engine report non-finite
  values itself.
- fastmath without nnan/ninf: reassociation and reciprocal math are allowed, but NaN and inf
  keep their meaning, so non-finite detection still works. Without "contract" either: with
  FMA contraction the code Numba loads from its cache rounded differently from the code it
  had just compiled (measured), which broke bit-identical runs.
- nogil: BLAS threads and other Python threads can run while a chunk trains.
"""

from __future__ import annotations

from numba import njit

FASTMATH = {"nsz", "arcp", "afn", "reassoc"}
JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)


def kernel(fn):  # type: ignore[no-untyped-def]
    """@njit with the project's options."""
    return njit(**JIT)(fn)
