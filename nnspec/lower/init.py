"""lower.init: Plan + Generator -> initial flat parameters and buffers (float64).

Draws tensor by tensor in layout order (node by node; a dense layer's weight (out, in)
before its bias), each with one vectorised call on the generator, so the same seed gives the
same values whatever the backend or dtype (the backend casts). Each tensor starts as its op
declared (TensorSlot.init: batchnorm gamma ones, beta zeros, running mean zeros, running
variance ones); constant initializers draw nothing. Formulas: nnspec/ops/initializers.py.
"""

from __future__ import annotations

import numpy as np

from nnspec.lower.plan import Plan
from nnspec.ops.initializers import initialize


def _fill(plan: Plan, buffer: str, size: int, rng: np.random.Generator | None) -> np.ndarray:
    out = np.zeros(size, dtype=np.float64)
    for t in plan.tensors:
        if t.buffer == buffer and t.init is not None:
            values = initialize(t.init, t.shape, t.fan_in, t.fan_out, rng)  # type: ignore[arg-type]
            out[t.offset:t.offset + t.size] = np.ravel(values)
    return out


def init_params(plan: Plan, rng: np.random.Generator) -> np.ndarray:
    """The initial flat parameter buffer (float64, plan.n_params values)."""
    return _fill(plan, "params", plan.n_params, rng)


def init_buffers(plan: Plan) -> np.ndarray:
    """The initial non-trained values (float64): running mean 0, running variance 1. Their
    initializers are constants (no generator needed)."""
    return _fill(plan, "buffers", plan.n_buffers, None)
