"""backends.reference.windows: the sliding windows shared by conv2d, maxpool and avgpool.

A (B, C, H, W) batch is padded (`pad`), its windows gathered into one array (`gather`, the
im2col of convolution kept 6-D for clarity: cols[b, c, u, v, i, j] = xp[b, c, i*sh + u*dh,
j*sw + v*dw]), and gradients with respect to the windows summed back into the padded input
and cropped (`scatter`, col2im). `win` is the Plan's ops.layers.Window (kernel, stride,
padding before/after, dilation per axis).
"""

from __future__ import annotations

import numpy as np

from nnspec.ops.layers import Window


def out_hw(h: int, w: int, win: Window) -> tuple[int, int]:
    """Output height and width: floor((n + pads - d*(k-1) - 1) / s) + 1 per axis."""
    return ((h + win.pt + win.pb - win.dh * (win.kh - 1) - 1) // win.sh + 1,
            (w + win.pl + win.pr - win.dw * (win.kw - 1) - 1) // win.sw + 1)


def pad(x: np.ndarray, win: Window, value: float = 0.0) -> np.ndarray:
    """x (B, C, H, W) with `value` rows and columns around it (top, bottom, left, right)."""
    return np.pad(x, ((0, 0), (0, 0), (win.pt, win.pb), (win.pl, win.pr)),
                  constant_values=value)


def _rows(u: int, win: Window, ho: int) -> slice:
    return slice(u * win.dh, u * win.dh + win.sh * (ho - 1) + 1, win.sh)


def _cols(v: int, win: Window, wo: int) -> slice:
    return slice(v * win.dw, v * win.dw + win.sw * (wo - 1) + 1, win.sw)


def gather(xp: np.ndarray, win: Window, ho: int, wo: int) -> np.ndarray:
    """cols (B, C, kh, kw, Ho, Wo): cols[b, c, u, v, i, j] = xp[b, c, i*sh + u*dh,
    j*sw + v*dw], xp the padded input."""
    b, c = xp.shape[:2]
    cols = np.empty((b, c, win.kh, win.kw, ho, wo), dtype=xp.dtype)
    for u in range(win.kh):
        for v in range(win.kw):
            cols[:, :, u, v] = xp[:, :, _rows(u, win, ho), _cols(v, win, wo)]
    return cols


def scatter(gcols: np.ndarray, win: Window, h: int, w: int) -> np.ndarray:
    """dL/dx (B, C, H, W) from dL/dcols (B, C, kh, kw, Ho, Wo): each window element's
    gradient added at the input position it was read from (overlaps summed), the padding
    cropped away."""
    b, c, _, _, ho, wo = gcols.shape
    gxp = np.zeros((b, c, h + win.pt + win.pb, w + win.pl + win.pr), dtype=gcols.dtype)
    for u in range(win.kh):
        for v in range(win.kw):
            gxp[:, :, _rows(u, win, ho), _cols(v, win, wo)] += gcols[:, :, u, v]
    return gxp[:, :, win.pt:win.pt + h, win.pl:win.pl + w]
