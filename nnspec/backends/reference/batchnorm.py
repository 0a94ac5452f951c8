"""backends.reference.batchnorm: batch normalization over the batch axis (PyTorch BatchNorm1d).

Training: mu = mean_b x, var = mean_b (x - mu)^2 (biased), xh = (x - mu)/sqrt(var + eps),
y = gamma*xh + beta; running_mean <- (1-m)*running_mean + m*mu, running_var <- (1-m)*
running_var + m*var*B/(B-1) (the unbiased variance, as PyTorch). Evaluation normalizes
with the running statistics. Without `affine`, gamma = 1 and beta = 0 (pass None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Cache:
    """What the backward pass needs from the forward pass."""

    xh: np.ndarray  # (B, F) normalized input
    inv_std: np.ndarray  # (F,) 1/sqrt(var + eps)
    mean: np.ndarray  # (F,) batch mean
    var: np.ndarray  # (F,) biased batch variance


def forward_train(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                  eps: float) -> tuple[np.ndarray, Cache]:
    """y and the cache; batch statistics from x (B, F). PyTorch refuses B = 1 while training;
    here a single row normalizes to 0 (var 0) and counts as unbiased variance 0."""
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    xh = (x - mean) * inv_std
    y = xh if gamma is None else gamma * xh + beta
    return y, Cache(xh=xh, inv_std=inv_std, mean=mean, var=var)


def forward_eval(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, eps: float,
                 running_mean: np.ndarray, running_var: np.ndarray) -> np.ndarray:
    xh = (x - running_mean) / np.sqrt(running_var + eps)
    return xh if gamma is None else gamma * xh + beta


def backward(g: np.ndarray, gamma: np.ndarray | None, cache: Cache
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dL/dx, dL/dgamma, dL/dbeta) given g = dL/dy (B, F), in training mode.

    With gxh = g*gamma: dL/dx = inv_std/B * (B*gxh - sum_b gxh - xh * sum_b gxh*xh).
    """
    b = g.shape[0]
    xh = cache.xh
    gxh = g if gamma is None else g * gamma
    gx = cache.inv_std / b * (b * gxh - gxh.sum(axis=0) - xh * (gxh * xh).sum(axis=0))
    return gx, (g * xh).sum(axis=0), g.sum(axis=0)


def update_running(running_mean: np.ndarray, running_var: np.ndarray, cache: Cache,
                   batch: int, momentum: float) -> None:
    """In place: the PyTorch running-statistics update (unbiased variance; B = 1 gives 0)."""
    unbiased = cache.var * batch / max(batch - 1, 1)
    running_mean *= 1.0 - momentum
    running_mean += momentum * cache.mean
    running_var *= 1.0 - momentum
    running_var += momentum * unbiased
