"""backends.reference.maxpool: x -> (y, argmax) and dL/dy -> dL/dx (torch.nn.MaxPool2d).

y[b, c, i, j] = max_{u, v} xp[b, c, i*sh + u, j*sw + v], xp padded with -inf. The argmax
is the index u*kw + v of the first maximum in row-major window order (ties: the first, as
PyTorch); dL/dx receives each dL/dy at its argmax, summed where windows overlap.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.reference import windows
from nnspec.ops.layers import Window


def forward(x: np.ndarray, win: Window) -> tuple[np.ndarray, np.ndarray]:
    """(y (B, C, Ho, Wo), argmax (B, C, Ho, Wo) int64) for x (B, C, H, W)."""
    ho, wo = windows.out_hw(x.shape[2], x.shape[3], win)
    cols = windows.gather(windows.pad(x, win, -np.inf), win, ho, wo)
    cols = cols.reshape(*x.shape[:2], win.kh * win.kw, ho, wo)
    arg = np.argmax(cols, axis=2)  # numpy returns the first maximum
    y = np.take_along_axis(cols, arg[:, :, None], axis=2)[:, :, 0]
    return y, arg


def backward(g: np.ndarray, arg: np.ndarray, win: Window, in_hw: tuple[int, int]
             ) -> np.ndarray:
    """dL/dx (B, C, H, W) given g = dL/dy (B, C, Ho, Wo) and the forward pass's argmax."""
    b, c, ho, wo = g.shape
    gcols = np.zeros((b, c, win.kh * win.kw, ho, wo), dtype=g.dtype)
    np.put_along_axis(gcols, arg[:, :, None], g[:, :, None], axis=2)
    return windows.scatter(gcols.reshape(b, c, win.kh, win.kw, ho, wo), win, *in_hw)
