"""backends.reference.avgpool: x -> y and dL/dy -> dL/dx (torch.nn.AvgPool2d,
count_include_pad=True).

y[b, c, i, j] = sum_{u, v} xp[b, c, i*sh + u, j*sw + v] / (kh*kw), xp zero-padded (the
padded zeros count in the mean); dL/dx[window] += dL/dy / (kh*kw), summed where windows
overlap.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.reference import windows
from nnspec.ops.layers import Window


def forward(x: np.ndarray, win: Window) -> np.ndarray:
    """y (B, C, Ho, Wo) for x (B, C, H, W)."""
    ho, wo = windows.out_hw(x.shape[2], x.shape[3], win)
    cols = windows.gather(windows.pad(x, win), win, ho, wo)
    return cols.sum(axis=(2, 3)) / (win.kh * win.kw)


def backward(g: np.ndarray, win: Window, in_hw: tuple[int, int]) -> np.ndarray:
    """dL/dx (B, C, H, W) given g = dL/dy (B, C, Ho, Wo)."""
    b, c, ho, wo = g.shape
    share = g / (win.kh * win.kw)
    gcols = np.broadcast_to(share[:, :, None, None], (b, c, win.kh, win.kw, ho, wo))
    return windows.scatter(np.ascontiguousarray(gcols), win, *in_hw)
