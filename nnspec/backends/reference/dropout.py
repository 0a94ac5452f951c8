"""backends.reference.dropout: (x, keep mask, rate) -> y, and the mask from the generator.

Training: y = x * m / (1-rate) with m[b, i] in {0, 1}, m = 1 with probability 1-rate;
evaluation: y = x. dL/dx = g * m / (1-rate). Every backend draws the mask the same way
(`make_mask`), so a seeded run is reproducible across backends.
"""

from __future__ import annotations

import numpy as np


def make_mask(rng: np.random.Generator, shape: tuple[int, ...], rate: float) -> np.ndarray:
    """Keep mask (float64 0/1): u ~ U[0, 1) from `rng.random(shape)`, keep where u >= rate."""
    return (rng.random(shape) >= rate).astype(np.float64)


def forward(x: np.ndarray, mask: np.ndarray, rate: float) -> np.ndarray:
    return x * mask / (1.0 - rate)


def backward(g: np.ndarray, mask: np.ndarray, rate: float) -> np.ndarray:
    return g * mask / (1.0 - rate)
