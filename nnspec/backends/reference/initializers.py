"""backends.reference.initializers: (op, shape, fan_in, fan_out, rng) -> initial float64 values.

The one implementation of nnspec/ops/initializers.py: lower calls it to create the initial
parameters, so every backend starts from the same numbers. Draws come from the spec-seeded
numpy.random.Generator (rng.uniform / rng.normal with the whole shape at once); constant
initializers draw nothing, so they do not shift the generator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnspec.ops.initializers import INITIALIZERS, Initializer


def _option(op: Any, name: str) -> float:
    """An option of a registry op, or of the Plan's InitPlan (registry default when absent)."""
    if isinstance(op, Initializer):
        return float(getattr(op, name))
    return float(op.get(name, INITIALIZERS[op.kind].model_fields[name].default))


def initialize(op: Any, shape: tuple[int, ...], fan_in: int, fan_out: int,
               rng: np.random.Generator) -> np.ndarray:
    """Initial values of the given shape for `op` (a registry initializer or an InitPlan)."""
    kind = op.kind
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "ones":
        return np.ones(shape)
    if kind == "constant":
        return np.full(shape, float(_option(op, "value")))
    if kind == "uniform":
        return rng.uniform(_option(op, "low"), _option(op, "high"), size=shape)
    if kind == "normal":
        return rng.normal(_option(op, "mean"), _option(op, "std"), size=shape)
    if kind == "glorot_uniform":
        a = _option(op, "gain") * math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=shape)
    if kind == "glorot_normal":
        s = _option(op, "gain") * math.sqrt(2.0 / (fan_in + fan_out))
        return rng.normal(0.0, s, size=shape)
    if kind == "he_uniform":
        a = math.sqrt(6.0 / fan_in)
        return rng.uniform(-a, a, size=shape)
    if kind == "he_normal":
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    if kind == "lecun_normal":
        return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape)
    raise ValueError(f"unknown initializer {kind!r}")
