"""backends.cpu.embedding: token ids -> vectors (gather) and the table's gradient
(scatter-add), Numba.

The same op as backends/reference/embedding.py. The batch's ids sit at the start of the
workspace as the engine gathered them (rows x T values of the plan dtype: exact integers up
to 2^24 in float32, 2^53 in float64; as_inputs checks them as int64 against the vocabulary,
and the executable hands them to the engine in the plan dtype, so that one compiled engine
serves every x). w is (vocab, dim) row-major in params.
"""

from __future__ import annotations

from nnspec.backends.cpu.jit import kernel


@kernel
def forward(ids, rows, t, dim, w, a):  # type: ignore[no-untyped-def]
    """a[r, j, d] = w[ids[r, j], d] (a: rows x t x dim, row-major)."""
    for r in range(rows):
        for j in range(t):
            v = int(ids[r * t + j])
            src = v * dim
            dst = (r * t + j) * dim
            for d in range(dim):
                a[dst + d] = w[src + d]


@kernel
def backward(ids, rows, t, dim, g, gw):  # type: ignore[no-untyped-def]
    """gw = 0, then gw[ids[r, j], d] += g[r, j, d]: every row used gets the sum of its
    gradients (an id twice in the batch: both), the others 0 (a dense gradient, as
    torch.nn.Embedding's default)."""
    gw[:] = 0
    for r in range(rows):
        for j in range(t):
            v = int(ids[r * t + j])
            dst = v * dim
            src = (r * t + j) * dim
            for d in range(dim):
                gw[dst + d] += g[src + d]
