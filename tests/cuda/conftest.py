"""tests/cuda setup: the CUDA backend's kernels run on a real GPU when one is here, else on
numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, every GPU thread a Python thread).

The simulator has to be chosen before `numba.cuda` is first imported; importing `numba`
itself earlier (other test folders do, at collection) is fine, because numba-cuda reads the
flag from numba.core.config, which `reload_config()` refreshes from the environment. The
choice is process-wide, so subprocesses started by later tests inherit it, and the backend's
probe then reports "no GPU" (the simulator is not one): `device auto` stays on the CPU.

Without numba-cuda every module here skips (cuda_helpers.py); a numba.cuda imported earlier
without the simulator on a machine with no GPU also skips, with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

HAVE_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None


def _real_gpu() -> bool:
    from nnspec.backends.cuda.probe import _has_driver  # imports no CUDA code

    if not _has_driver():
        return False
    # a driver without a device is possible: ask a child so this process stays unbound
    probe = "from numba import cuda; print(cuda.is_available())"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=120, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip().endswith("True")


def _choose_simulator() -> None:
    if not HAVE_NUMBA_CUDA or "numba.cuda" in sys.modules:
        return
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0") or _real_gpu():
        return
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    from numba.core import config

    config.reload_config()


_choose_simulator()


def _atomic_shared_arrays() -> None:
    """Repair a race in the simulator: `cuda.shared.array` is looked up per source line in a
    dict shared by the block's threads (kernelapi.FakeCUDAShared.array: get, and if absent,
    allocate and store), so two threads that reach the line together can each allocate their
    own array, and the block's threads then disagree about the shared memory (a tile of the
    tiled matmul, a reduction's partial sums: wrong numbers, now and then, under load; seen
    4 times in one run of this folder). Here the store is dict.setdefault (atomic under the
    GIL) and every thread uses the array stored first. Same behaviour otherwise."""
    from numba.core import config

    if not HAVE_NUMBA_CUDA or not config.ENABLE_CUDASIM:
        return
    import traceback

    import numpy as np
    from numba.cuda.simulator import kernelapi

    types, numpy_support = kernelapi.types, kernelapi.numpy_support  # (the original's)

    def array(self, shape, dtype, alignment=None):  # type: ignore[no-untyped-def]
        if alignment is not None:
            raise RuntimeError("Array alignment is not supported in cudasim")
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        if shape == 0:  # dynamic shared memory: one buffer, as the original
            count = self._dynshared_size // dtype.itemsize
            return np.frombuffer(self._dynshared.data, dtype=dtype, count=count)
        caller = traceback.extract_stack(sys._getframe())[-2][0:2]
        res = self._allocations.get(caller)
        if res is None:
            res = self._allocations.setdefault(caller, np.empty(shape, dtype))
        return res

    kernelapi.FakeCUDAShared.array = array


_atomic_shared_arrays()


@pytest.fixture(autouse=True)
def _fast_thread_switching():
    """The simulator runs a block's threads as Python threads that poll each other: a short
    GIL switch interval makes launches ~3x faster."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(5e-4)
    yield
    sys.setswitchinterval(old)
