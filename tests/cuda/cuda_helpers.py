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

from nnspec import ir  # noqa: E402
from nnspec.backends import cpu  # noqa: E402
from nnspec.backends import cuda as gpu  # noqa: E402
from nnspec.lower import lower  # noqa: E402
from nnspec.lower.plan import Plan  # noqa: E402
from nnspec.ops.activations import ACTIVATIONS  # noqa: E402
from nnspec.ops.layers import Dense  # noqa: E402
from nnspec.ops.losses import LOSSES  # noqa: E402
from nnspec.ops.optimizers import OPTIMIZERS  # noqa: E402

ACT, LOSS, OPT = ACTIVATIONS, LOSSES, OPTIMIZERS
SIMULATED = bool(config.ENABLE_CUDASIM)
F64_RTOL, F64_ATOL = 1e-11, 1e-13
F32_RTOL, F32_ATOL = 2e-4, 2e-5


def tol(dtype: str) -> dict[str, float]:
    if dtype == "float64":
        return {"rtol": F64_RTOL, "atol": F64_ATOL}
    return {"rtol": F32_RTOL, "atol": F32_ATOL}


def dense(units, act="linear", **kw):
    return Dense(units=units, activation=ACT[act]() if isinstance(act, str) else act, **kw)


def make_plan(layers, loss, *, n_in=3, optimizer=None, **train) -> Plan:
    train.setdefault("dtype", "float64")
    train.setdefault("batch", 4)
    spec = ir.Spec(model=ir.Model(input=n_in, layers=tuple(layers)),
                   train=ir.Train(loss=loss, optimizer=optimizer or OPT["sgd"](lr=0.1), **train))
    return lower(spec)


def data(plan: Plan, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets that fit the plan's loss (class indices for categorical)."""
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, plan.n_inputs))
    k = plan.n_outputs
    if plan.loss_name == "categorical_crossentropy":
        return x, r.integers(0, k, size=n)
    if plan.loss_name == "binary_crossentropy":
        return x, (r.random((n, k)) < 0.5).astype(float)
    return x, r.normal(size=(n, k))


def order(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n).astype(np.int64)


def pair(plan: Plan):
    """(cuda executable, cpu executable) of the same plan."""
    return gpu.compile(plan), cpu.compile(plan)


def close(a, b, dtype: str, what: str = "") -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               err_msg=what, **tol(dtype))
