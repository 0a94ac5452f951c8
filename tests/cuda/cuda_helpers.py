"""Shared by tests/cuda: skip without numba-cuda, tiny Plans built from the IR, data, and the
float32 tolerance.

float32 tolerance (stated): the CPU backend's float32 tanh/sigmoid are rational
approximations (~3e-7 absolute), the GPU's are the exact device functions, products sum in
another order (tiled kernel or cuBLAS vs OpenBLAS), and the simulator evaluates float32
math functions in float64. After a few updates parameters agree to F32_RTOL / F32_ATOL.
float64 agrees to F64_RTOL (only summation order differs).
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

if importlib.util.find_spec("numba_cuda") is None:
    pytest.skip("numba-cuda is not installed (pip install 'nnspec[cuda]')",
                allow_module_level=True)

from numba.core import config  # noqa: E402

if "numba.cuda" in sys.modules and not config.ENABLE_CUDASIM:
    from numba import cuda as _cuda

    if not _cuda.is_available():
        pytest.skip("numba.cuda was imported without the simulator and there is no GPU",
                    allow_module_level=True)

import plan_nets  # noqa: E402
from plan_nets import ACT, LOSS, OPT, OPTIMIZER_CASES, data, dense, order  # noqa: E402, F401

from nnspec.backends import cpu  # noqa: E402
from nnspec.backends import cuda as gpu  # noqa: E402
from nnspec.lower.plan import Plan  # noqa: E402

SIMULATED = bool(config.ENABLE_CUDASIM)
F64_RTOL, F64_ATOL = 1e-11, 1e-13
F32_RTOL, F32_ATOL = 2e-4, 2e-5


def tol(dtype: str) -> dict[str, float]:
    if dtype == "float64":
        return {"rtol": F64_RTOL, "atol": F64_ATOL}
    return {"rtol": F32_RTOL, "atol": F32_ATOL}


def make_plan(layers, loss, **train) -> Plan:
    """plan_nets.make_plan with batches of 4 (simulator launches stay small)."""
    train.setdefault("batch", 4)
    return plan_nets.make_plan(layers, loss, **train)


def pair(plan: Plan):
    """(cuda executable, cpu executable) of the same plan."""
    return gpu.compile(plan), cpu.compile(plan)


def close(a, b, dtype: str, what: str = "") -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               err_msg=what, **tol(dtype))
