"""train.batching: (n samples, batch option, Generator) -> batch order and chunk sizes.

The data order of an epoch is one permutation drawn from the run's shuffle Generator at the
start of the epoch (or the identity with `shuffle false`); batch k is order[k*B:(k+1)*B].
`batch full` is one batch of every sample; `batch 1` is plain SGD. With drop_last a final
short batch is skipped (torch DataLoader drop_last). The same Generator state gives the same
order, so a resumed run replays exactly the batches an uninterrupted run would see.

The executable runs a chunk of consecutive batches inside compiled code; `ChunkSizer` picks
the chunk length so control comes back to Python about every `target_s` seconds (progress
display, Ctrl-C) without paying a Python round trip per batch.
"""

from __future__ import annotations

import numpy as np

# The shuffle stream is derived from the spec seed with its own key so it never coincides with
# the streams backends derive for initialisation or dropout.
SHUFFLE_STREAM = 0x5EED_0001


def shuffle_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, SHUFFLE_STREAM])


def batch_size(batch: int | str, n: int) -> int:
    """Samples per step: `full` -> n; an int larger than n -> n (one short batch)."""
    if batch == "full":
        return n
    return min(int(batch), n)


def batches_per_epoch(n: int, size: int, drop_last: bool) -> int:
    if size <= 0 or n <= 0:
        return 0
    return n // size if drop_last else -(-n // size)


def epoch_order(rng: np.random.Generator, n: int, shuffle: bool) -> np.ndarray:
    """Sample indices in the order this epoch visits them (int64)."""
    if shuffle:
        return rng.permutation(n).astype(np.int64, copy=False)
    return np.arange(n, dtype=np.int64)


class ChunkSizer:
    """Batches per executable call, adapted from the measured time per batch.

    The first call runs one batch (it may include a JIT compile, which makes it look slow, so
    growth afterwards is capped at x4 per call instead of trusting one measurement).
    """

    def __init__(self, target_s: float = 0.5, first: int = 1, max_growth: int = 4):
        self.target_s = target_s
        self.size = max(1, first)
        self.max_growth = max_growth

    def next(self, remaining: int) -> int:
        return max(1, min(self.size, remaining))

    def observe(self, n_batches: int, seconds: float) -> None:
        if n_batches <= 0:
            return
        per_batch = max(seconds, 1e-9) / n_batches
        ideal = max(1, int(self.target_s / per_batch))
        self.size = min(ideal, max(1, n_batches) * self.max_growth)
