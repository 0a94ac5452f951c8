"""backends.cuda.jit: kernel source + plan dtype -> compiled numba.cuda kernels, launch sizes.

The one module that imports numba.cuda; every other module of the backend gets `cuda` from
here, and nothing outside backends/cuda/ imports this package's kernels at import time (the
package __init__ is lazy), so a machine without a GPU or without numba-cuda never fails at
import.

Kernels are built per plan dtype by a `build(dt)` function in each op module: the dtype's
constants (ZERO, ONE, ...) are closure values, which Numba treats as typed compile-time
constants, so float32 work stays float32 and shared-memory tiles get the right dtype. Each
kernel has one explicit signature (`T` standing for the dtype): numba-cuda then marks the
dispatcher specialized and a launch skips argument type resolution. Compilation is lazy
(first launch) and cached on disk (`cache=True`), so only the kernels a plan uses compile.

Only the plain CUDA subset is used (grid-stride loops, shared memory, syncthreads, no warp
intrinsics, no cooperative groups), so a later move to numba-cuda's successor is a swap of
this module. fastmath stays off: its nnan/ninf flags would let the compiler delete the
non-finite checks the engine relies on.

Launch sizes differ under the CUDA simulator (NUMBA_ENABLE_CUDASIM=1), where every GPU thread
is a Python thread: tiny blocks and grids there keep tests fast while still running several
blocks and several threads per block through every kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import cuda  # noqa: F401 - the backend's single numba.cuda import
from numba.core import config

SIMULATOR = bool(getattr(config, "ENABLE_CUDASIM", 0))

BLOCK = 4 if SIMULATOR else 256  # threads per block of the 1-D kernels
MAX_BLOCKS = 2 if SIMULATOR else 2048  # grid-stride loops cover the rest
RED_BLOCKS = 2 if SIMULATOR else 64  # blocks of the partial-sum reductions (power of 2 not needed)
RED_THREADS = 4 if SIMULATOR else 256  # threads per reduction block (a power of 2)
TILE = 2 if SIMULATOR else 16  # tiled matmul: TILE x TILE threads, TILE^2 values per tile
BIAS_COLS = 2 if SIMULATOR else 32  # bias gradient: columns per block (threadIdx.x)
BIAS_ROWS = 2 if SIMULATOR else 8  # and row groups summed in shared memory (threadIdx.y)

DTYPE_NAMES = {"float32": "float32", "float64": "float64"}


def grid(n: int) -> int:
    """Blocks for a grid-stride loop over n items."""
    return max(1, min(MAX_BLOCKS, -(-n // BLOCK)))


def device(fn: Callable[..., Any]) -> Any:
    """A device function (called from kernels; typed at the caller's argument types)."""
    return cuda.jit(device=True)(fn)


class Kernel:
    """A kernel compiled on first launch for one explicit signature.

    `sig` is a Numba signature string in which `T` is replaced by the dtype name, e.g.
    "void(T[::1], int64)"; launch with `k[blocks, threads](args...)` as a numba kernel.
    """

    def __init__(self, fn: Callable[..., Any], sig: str, dtype: str):
        self.fn = fn
        self.sig = sig.replace("T", DTYPE_NAMES[dtype])
        self._disp: Any = None

    @property
    def dispatcher(self) -> Any:
        if self._disp is None:
            self._disp = cuda.jit(self.sig, cache=True)(self.fn)
        return self._disp

    def __getitem__(self, launch: Any) -> Any:
        return self.dispatcher[launch]


def kernel(sig: str, dtype: str) -> Callable[[Callable[..., Any]], Kernel]:
    """Decorator: `@kernel("void(T[::1], int64)", dtype)`."""

    def wrap(fn: Callable[..., Any]) -> Kernel:
        return Kernel(fn, sig, dtype)

    return wrap
