"""backends.reference.conv2d: (x, w, bias) -> z and dL/dz -> (dL/dx, dL/dw, dL/dbias).

z[b, f, i, j] = bias[f] + sum_{c, u, v} w[f, c, u, v] * xp[b, c, i*sh + u*dh, j*sw + v*dw]
(torch.nn.Conv2d: a cross-correlation), xp the zero-padded input; w is (filters, C, kh, kw),
the PyTorch layout. Computed through the windows array (im2col, windows.py) and tensordot.
The activation is applied separately (reference/activations.py).
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.reference import windows
from nnspec.ops.layers import Window


def forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, win: Window
            ) -> tuple[np.ndarray, np.ndarray]:
    """(z (B, F, Ho, Wo), cols) for x (B, C, H, W); cols (B, C, kh, kw, Ho, Wo) is what the
    backward pass reads."""
    ho, wo = windows.out_hw(x.shape[2], x.shape[3], win)
    cols = windows.gather(windows.pad(x, win), win, ho, wo)
    z = np.tensordot(cols, w, axes=([1, 2, 3], [1, 2, 3])).transpose(0, 3, 1, 2)
    if bias is not None:
        z = z + bias[None, :, None, None]
    return np.ascontiguousarray(z), cols


def backward(cols: np.ndarray, w: np.ndarray, gz: np.ndarray, win: Window,
             in_hw: tuple[int, int], has_bias: bool = True
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Given gz = dL/dz (B, F, Ho, Wo): dL/dw[f, c, u, v] = sum_{b, i, j} gz[b, f, i, j] *
    cols[b, c, u, v, i, j]; dL/dbias[f] = sum_{b, i, j} gz[b, f, i, j]; dL/dx: dL/dcols =
    sum_f w[f, c, u, v] * gz[b, f, i, j], scattered back (col2im)."""
    gw = np.tensordot(gz, cols, axes=([0, 2, 3], [0, 4, 5]))
    gcols = np.tensordot(gz, w, axes=([1], [0])).transpose(0, 3, 4, 5, 1, 2)
    gx = windows.scatter(gcols, win, *in_hw)
    gb = gz.sum(axis=(0, 2, 3)) if has_bias else None
    return gx, gw, gb
