"""backends.cpu.dropout: (x, rate, uniform draws) -> y and the mask; dL/dy -> dL/dx, Numba.

    u[b, i] = rng.random()  (float64, drawn in row-major order, as reference make_mask;
                             the executable draws them with NumPy for the chunk's batches)
    m[b, i] = [u[b, i] >= rate] / (1 - rate)
    y[b, i] = x[b, i] * m[b, i]        gx[b, i] = g[b, i] * m[b, i]
Evaluation is the identity and draws nothing.
"""

from __future__ import annotations

from nnspec.backends.cpu.jit import kernel


@kernel
def forward(x, rate, u, mask, y):  # type: ignore[no-untyped-def]
    """The scaled keep mask of the draws u into `mask`, and y = x * mask (flat arrays)."""
    scale = x.dtype.type(1.0 / (1.0 - rate))
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        m = scale if u[i] >= rate else zero
        mask[i] = m
        y[i] = x[i] * m


@kernel
def backward(g, mask):  # type: ignore[no-untyped-def]
    """g <- g * mask in place."""
    for i in range(g.shape[0]):
        g[i] = g[i] * mask[i]
