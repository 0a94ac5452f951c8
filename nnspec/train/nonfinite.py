"""train.nonfinite: a chunk that stopped on a non-finite value -> the E411 diagnostic.

The training loop's explanation of a NaN or inf, for every backend: the bad batch is
replayed by the cpu engine's slow, thorough path (backends/cpu/nonfinite.py), which names
the first tensor and layer that went non-finite. It lives here, after the backends in the
pipeline, so that no backend module depends on another.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.base import EpochChunk, Executable
from nnspec.diagnostics import DiagnosticError


def nonfinite_error(exe: Executable, x: np.ndarray, y: np.ndarray, order: np.ndarray,
                    epoch: int, chunk: EpochChunk, lr: float, path: str | None = None
                    ) -> DiagnosticError:
    """The E411 DiagnosticError (returned, for the caller to raise) for a chunk that stopped
    on a non-finite loss or gradient: replays the bad batch in the plan dtype from the
    executable's current parameters (those before the bad update) and names the first tensor
    and layer that went non-finite, with the layer's spec span. epoch is 0-based; the message
    counts epochs and batches from 1. path: the spec file, for the diagnostic."""
    from nnspec.backends.cpu.nonfinite import nonfinite_error as _impl

    return _impl(exe, x, y, order, epoch, chunk, lr, path)
