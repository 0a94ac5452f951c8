"""lower.init: Plan + Generator -> initial flat parameters (float64).

Draws layer by layer in layer order, a dense layer's weight (out, in) before its bias, each
with one vectorised call on the generator (so the same seed gives the same values whatever
the backend or dtype; the backend casts). Batchnorm gamma = 1, beta = 0 (no draw); running
statistics start at mean 0, variance 1 (`init_buffers`). Formulas: nnspec/ops/initializers.py,
implemented once in backends/reference/initializers.py.
"""

from __future__ import annotations

import numpy as np

from nnspec.lower.plan import BATCHNORM, DENSE, Plan


def init_params(plan: Plan, rng: np.random.Generator) -> np.ndarray:
    """The initial flat parameter buffer (float64, plan.n_params values)."""
    # The one implementation of the initializer formulas (imported here: the reference
    # package imports lower, so a module-level import would be circular).
    from nnspec.backends.reference.initializers import initialize as draw

    out = np.empty(plan.n_params, dtype=np.float64)
    for layer in plan.layers:
        if layer.kind == DENSE:
            shape = (layer.n_out, layer.n_in)
            n = layer.n_out * layer.n_in
            assert layer.w_init is not None
            w = draw(layer.w_init, shape, layer.n_in, layer.n_out, rng)
            out[layer.w_offset:layer.w_offset + n] = w.ravel()
            if layer.bias:
                assert layer.b_init is not None
                b = draw(layer.b_init, (layer.n_out,), layer.n_in, layer.n_out, rng)
                out[layer.b_offset:layer.b_offset + layer.n_out] = b
        elif layer.kind == BATCHNORM and layer.bn_affine:
            out[layer.w_offset:layer.w_offset + layer.n_out] = 1.0
            out[layer.b_offset:layer.b_offset + layer.n_out] = 0.0
    return out


def init_buffers(plan: Plan) -> np.ndarray:
    """The initial batchnorm running statistics (float64): mean 0, variance 1."""
    out = np.zeros(plan.n_buffers, dtype=np.float64)
    for layer in plan.layers:
        if layer.kind == BATCHNORM:
            out[layer.rv_offset:layer.rv_offset + layer.n_out] = 1.0
    return out
