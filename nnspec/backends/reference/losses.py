"""backends.reference.losses: (op, output, target) -> loss value and dL/doutput, NumPy float64.

The executable definition of nnspec/ops/losses.py. p is the network output (B, K); targets
are (B, K) arrays, or for categorical_crossentropy also class indices (B,) or (B, 1). Every
loss is a mean over the batch, so dL/dp carries a 1/B (1/(B*K) for elementwise losses).

Plain forms take the network output p; fused forms (`fused_value_grad`) take the logits z of
the last layer and return dL/dz directly, which is both stabler and how every backend trains
when the output activation matches the loss (sigmoid+BCE, softmax+CCE, log_softmax+CCE).
Plain BCE follows torch.nn.BCELoss: log p and log(1-p) are clamped at -100, and the gradient
divides by max(p(1-p), 1e-12). Plain CCE on probabilities clamps log p at -100 the same way.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.reference.activations import log_softmax, sigmoid
from nnspec.ops.losses import AnyLoss, Huber

LOG_CLAMP = -100.0  # torch BCELoss: log terms never go below -100
GRAD_EPS = 1e-12  # torch BCELoss backward: p(1-p) never below this

FUSABLE = {("binary_crossentropy", "sigmoid"), ("categorical_crossentropy", "softmax"),
           ("categorical_crossentropy", "log_softmax")}


def is_fused(loss: AnyLoss, activation: str) -> bool:
    """Whether `loss` after an output activation named `activation` is computed from logits
    (sparse_categorical_crossentropy as categorical_crossentropy: its `rule`)."""
    return (loss.rule, activation) in FUSABLE


def class_targets(y: np.ndarray, k: int) -> np.ndarray:
    """Targets as (B, K) rows: class indices (B,) / (B, 1) become one-hot, rows pass through."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == k and k > 1:
        return y.astype(np.float64)
    idx = y.reshape(-1).astype(np.int64)
    out = np.zeros((idx.shape[0], k))
    out[np.arange(idx.shape[0]), idx] = 1.0
    return out


def smoothed_targets(loss: AnyLoss, y: np.ndarray, k: int) -> np.ndarray:
    """y' with label smoothing s: BCE y*(1-s) + s/2, CCE y*(1-s) + s/K (torch CrossEntropyLoss)."""
    s = getattr(loss, "label_smoothing", 0.0)  # regression losses never get here
    if loss.rule == "categorical_crossentropy":  # the sparse form too: as_targets made rows
        return class_targets(y, k) * (1.0 - s) + s / k
    return _as_output_shape(y, k) * (1.0 - s) + s / 2.0


def _as_output_shape(y: np.ndarray, k: int) -> np.ndarray:
    return np.asarray(y, dtype=np.float64).reshape(-1, k)


def _clamped_log(p: np.ndarray) -> np.ndarray:
    """max(log p, -100), and -100 for p <= 0 (an output outside the loss's domain)."""
    safe = np.where(p > 0, p, 1.0)
    return np.where(p > 0, np.maximum(np.log(safe), LOG_CLAMP), LOG_CLAMP)


def value(loss: AnyLoss, p: np.ndarray, y: np.ndarray, log_probs: bool = False) -> float:
    """L(p, y). `log_probs`: for CCE, p holds log-probabilities (a log_softmax output)."""
    p = np.asarray(p, dtype=np.float64)
    b, k = p.shape
    kind = loss.kind
    if kind in ("mse", "rmse", "mae", "huber"):
        e = p - _as_output_shape(y, k)
        if kind == "mse":
            return float(np.mean(e**2))
        if kind == "rmse":
            return float(np.sqrt(np.mean(e**2)))
        if kind == "mae":
            return float(np.mean(np.abs(e)))
        assert isinstance(loss, Huber)
        d = loss.delta
        return float(np.mean(np.where(np.abs(e) <= d, 0.5 * e**2, d * (np.abs(e) - 0.5 * d))))
    t = smoothed_targets(loss, y, k)
    if kind == "binary_crossentropy":
        return float(-np.mean(t * _clamped_log(p) + (1.0 - t) * _clamped_log(1.0 - p)))
    if kind in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        log_p = p if log_probs else _clamped_log(p)
        return float(-np.sum(t * log_p) / b)
    raise ValueError(f"unknown loss {kind!r}")


def grad(loss: AnyLoss, p: np.ndarray, y: np.ndarray, log_probs: bool = False) -> np.ndarray:
    """dL/dp, same shape as p."""
    p = np.asarray(p, dtype=np.float64)
    b, k = p.shape
    n = p.size
    kind = loss.kind
    if kind in ("mse", "rmse", "mae", "huber"):
        e = p - _as_output_shape(y, k)
        if kind == "mse":
            return 2.0 * e / n
        if kind == "rmse":
            r = np.sqrt(np.mean(e**2))
            # At r = 0 the loss is not differentiable; 0 is the subgradient every backend uses.
            return e / (n * r) if r > 0 else np.zeros_like(e)
        if kind == "mae":
            return np.sign(e) / n
        assert isinstance(loss, Huber)
        return np.clip(e, -loss.delta, loss.delta) / n
    t = smoothed_targets(loss, y, k)
    if kind == "binary_crossentropy":
        return (p - t) / np.maximum(p * (1.0 - p), GRAD_EPS) / n
    if kind in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        if log_probs:
            return -t / b
        # d/dp of max(log p, -100): zero where the clamp is active.
        return np.where(p > np.exp(LOG_CLAMP), -t / np.maximum(p, GRAD_EPS), 0.0) / b
    raise ValueError(f"unknown loss {kind!r}")


def fused_value_grad(loss: AnyLoss, activation: str, z: np.ndarray, y: np.ndarray
                     ) -> tuple[float, np.ndarray]:
    """(L, dL/dz) from the logits z of an output layer whose activation is folded into the loss.

    sigmoid+BCE: L = mean(max(z,0) - z*y' + log(1+exp(-|z|))), dL/dz = (sigmoid(z) - y')/(B*K).
    softmax+CCE and log_softmax+CCE: log p = z - logsumexp(z), L = -sum y' log p / B,
    dL/dz = (softmax(z) * sum_k y'_k - y')/B (= (p - y')/B when the target rows sum to 1).
    """
    z = np.asarray(z, dtype=np.float64)
    b, k = z.shape
    if not is_fused(loss, activation):
        raise ValueError(f"{loss.kind} after {activation} is not a fused form")
    t = smoothed_targets(loss, y, k)
    if loss.kind == "binary_crossentropy":
        value_ = np.mean(np.maximum(z, 0.0) - z * t + np.log1p(np.exp(-np.abs(z))))
        return float(value_), (sigmoid(z) - t) / z.size
    log_p = log_softmax(z)
    row_sum = t.sum(axis=1, keepdims=True)
    return float(-np.sum(t * log_p) / b), (np.exp(log_p) * row_sum - t) / b
