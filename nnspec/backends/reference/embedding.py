"""backends.reference.embedding: token ids + table -> vectors (gather), and the table's
gradient (scatter-add), NumPy float64.

The executable definition of ops.layers.Embedding: ids (B, T) integers in [0, vocab),
w (vocab, dim); y[b, t, :] = w[ids[b, t], :]; dL/dw[v, :] = sum of dL/dy[b, t, :] over the
(b, t) with ids[b, t] = v (np.add.at sums repeated ids; a plain fancy-index assignment would
keep only one of them).
"""

from __future__ import annotations

import numpy as np


def token_ids(x: np.ndarray, vocab: int) -> np.ndarray:
    """The model input as int64 ids (B, T); ValueError for a value that is not an id."""
    ids = np.asarray(x)
    if not np.issubdtype(ids.dtype, np.integer):
        if ids.size and not np.all(ids == np.round(ids)):
            raise ValueError("embedding inputs must be integer token ids")
        ids = ids.astype(np.int64)
    ids = ids.astype(np.int64, copy=False)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise ValueError(f"token id out of range [0, {vocab}): found "
                         f"{int(ids.min()) if ids.min() < 0 else int(ids.max())}")
    return ids


def forward(ids: np.ndarray, w: np.ndarray) -> np.ndarray:
    """y[b, t, d] = w[ids[b, t], d]: (B, T, dim)."""
    return w[ids]


def backward(ids: np.ndarray, g: np.ndarray, vocab: int) -> np.ndarray:
    """dL/dw (vocab, dim) from dL/dy (B, T, dim): rows scatter-added, duplicates summed."""
    gw = np.zeros((vocab, g.shape[-1]))
    np.add.at(gw, ids.reshape(-1), g.reshape(-1, g.shape[-1]))
    return gw
