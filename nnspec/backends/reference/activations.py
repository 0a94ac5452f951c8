"""backends.reference.activations: (op, z) -> a and (op, z, a, dL/da) -> dL/dz, NumPy float64.

The executable definition of every activation in nnspec/ops/activations.py (PyTorch
semantics). z is a (B, F) batch of pre-activations; softmax and log_softmax act on each row.
Written for clarity, not speed: the CPU and CUDA backends are tested against these.
"""

from __future__ import annotations

import math

import numpy as np

from nnspec.ops.activations import AnyActivation

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715

# NumPy has no erf; math.erf is exact to the last bit, and speed does not matter here.
_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    return np.asarray(_erf(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1/(1+exp(-z)) without overflow: exp is only taken of non-positive numbers."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise z - logsumexp(z), shifted by the row maximum so exp never overflows."""
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward(op: AnyActivation, z: np.ndarray) -> np.ndarray:
    """a = f(z) for the activation `op`."""
    z = np.asarray(z, dtype=np.float64)
    if op.kind == "linear":
        return z.copy()
    if op.kind == "relu":
        return np.maximum(z, 0.0)
    if op.kind == "leaky_relu":
        return np.where(z > 0, z, op.alpha * z)
    if op.kind == "elu":
        # expm1 keeps precision near 0; the minimum() keeps exp from overflowing on the
        # branch np.where throws away.
        return np.where(z > 0, z, op.alpha * np.expm1(np.minimum(z, 0.0)))
    if op.kind == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))
    if op.kind == "gelu":
        if op.approximate == "tanh":
            u = _SQRT_2_OVER_PI * (z + _GELU_C * z**3)
            return 0.5 * z * (1.0 + np.tanh(u))
        return z * 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
    if op.kind == "silu":
        return z * sigmoid(z)
    if op.kind == "softplus":
        bz = op.beta * z
        # log(1+exp(bz)) = logaddexp(0, bz), stable for large |bz|.
        return np.where(bz > op.threshold, z, np.logaddexp(0.0, bz) / op.beta)
    if op.kind == "tanh":
        return np.tanh(z)
    if op.kind == "sigmoid":
        return sigmoid(z)
    if op.kind == "softmax":
        return softmax(z)
    if op.kind == "log_softmax":
        return log_softmax(z)
    raise ValueError(f"unknown activation {op.kind!r}")


def backward(op: AnyActivation, z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """dL/dz given z, a = f(z) and g = dL/da."""
    z = np.asarray(z, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if op.kind == "linear":
        return g.copy()
    if op.kind == "relu":
        return g * (z > 0)
    if op.kind == "leaky_relu":
        return g * np.where(z > 0, 1.0, op.alpha)
    if op.kind == "elu":
        return g * np.where(z > 0, 1.0, op.alpha * np.exp(np.minimum(z, 0.0)))
    if op.kind == "selu":
        return g * SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0)))
    if op.kind == "gelu":
        if op.approximate == "tanh":
            u = _SQRT_2_OVER_PI * (z + _GELU_C * z**3)
            t = np.tanh(u)
            du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_C * z**2)
            return g * (0.5 * (1.0 + t) + 0.5 * z * (1.0 - t**2) * du)
        cdf = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
        return g * (cdf + z * pdf)
    if op.kind == "silu":
        s = sigmoid(z)
        return g * (s + z * s * (1.0 - s))
    if op.kind == "softplus":
        bz = op.beta * z
        return g * np.where(bz > op.threshold, 1.0, sigmoid(bz))
    if op.kind == "tanh":
        return g * (1.0 - a**2)
    if op.kind == "sigmoid":
        return g * a * (1.0 - a)
    if op.kind == "softmax":
        return a * (g - (g * a).sum(axis=1, keepdims=True))
    if op.kind == "log_softmax":
        return g - np.exp(a) * g.sum(axis=1, keepdims=True)
    raise ValueError(f"unknown activation {op.kind!r}")
