"""backends.reference.dense: (x, w, bias) -> z and dL/dz -> (dL/dx, dL/dw, dL/dbias).

z[b, o] = sum_i x[b, i] * w[o, i] + bias[o]; w is (out, in), the PyTorch layout. The
activation is applied separately (reference/activations.py).
"""

from __future__ import annotations

import numpy as np


def forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """z = x @ w.T + bias; x (B, in), w (out, in), bias (out,) or None."""
    z = x @ w.T
    if bias is not None:
        z = z + bias
    return z


def backward(x: np.ndarray, w: np.ndarray, gz: np.ndarray, has_bias: bool = True
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Given gz = dL/dz (B, out): dL/dx = gz @ w (B, in), dL/dw[o, i] = sum_b gz[b, o] x[b, i],
    dL/dbias[o] = sum_b gz[b, o] (None without a bias)."""
    gx = gz @ w
    gw = gz.T @ x
    gb = gz.sum(axis=0) if has_bias else None
    return gx, gw, gb
