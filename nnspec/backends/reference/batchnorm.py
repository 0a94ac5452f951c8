"""backends.reference.batchnorm: batch normalization per channel (PyTorch BatchNorm1d/2d).

x is (B, C) (a flat sample: one channel per feature, BatchNorm1d) or (B, C, H, W) (an
image: BatchNorm2d); the statistics of channel c are over the batch and every position, m
values (m = B*H*W, or B).
Training: mu = mean x, var = mean (x - mu)^2 (biased), xh = (x - mu)/sqrt(var + eps),
y = gamma*xh + beta; running_mean <- (1-m)*running_mean + m*mu, running_var <- (1-m)*
running_var + m*var*m/(m-1) (the unbiased variance, as PyTorch). Evaluation normalizes
with the running statistics. Without `affine`, gamma = 1 and beta = 0 (pass None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Cache:
    """What the backward pass needs from the forward pass."""

    xh: np.ndarray  # (B, C, ...) normalized input
    inv_std: np.ndarray  # (C,) 1/sqrt(var + eps)
    mean: np.ndarray  # (C,) batch mean
    var: np.ndarray  # (C,) biased batch variance
    count: int = 0  # m: the values per channel the statistics are over


def _axes(x: np.ndarray) -> tuple[int, ...]:
    """Every axis but the channel axis (1)."""
    return (0, *range(2, x.ndim))


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """A (C,) vector shaped to broadcast against (B, C, ...)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def forward_train(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                  eps: float) -> tuple[np.ndarray, Cache]:
    """y and the cache; batch statistics from x (B, C, ...). PyTorch refuses a single value
    per channel while training; here it normalizes to 0 (var 0) and counts as unbiased
    variance 0."""
    axes, nd = _axes(x), x.ndim
    mean = x.mean(axis=axes)
    var = ((x - _per_channel(mean, nd)) ** 2).mean(axis=axes)
    inv_std = 1.0 / np.sqrt(var + eps)
    xh = (x - _per_channel(mean, nd)) * _per_channel(inv_std, nd)
    y = xh if gamma is None else _per_channel(gamma, nd) * xh + _per_channel(beta, nd)  # type: ignore[arg-type]
    return y, Cache(xh=xh, inv_std=inv_std, mean=mean, var=var, count=x.size // x.shape[1])


def forward_eval(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, eps: float,
                 running_mean: np.ndarray, running_var: np.ndarray) -> np.ndarray:
    nd = x.ndim
    xh = (x - _per_channel(running_mean, nd)) / _per_channel(np.sqrt(running_var + eps), nd)
    return xh if gamma is None else _per_channel(gamma, nd) * xh + _per_channel(beta, nd)  # type: ignore[arg-type]


def backward(g: np.ndarray, gamma: np.ndarray | None, cache: Cache
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dL/dx, dL/dgamma, dL/dbeta) given g = dL/dy (B, C, ...), in training mode.

    With gxh = g*gamma and sums per channel: dL/dx = inv_std/m * (m*gxh - sum gxh -
    xh * sum gxh*xh).
    """
    axes, nd = _axes(g), g.ndim
    m = g.size // g.shape[1]
    xh = cache.xh
    gxh = g if gamma is None else g * _per_channel(gamma, nd)
    gx = _per_channel(cache.inv_std / m, nd) * (
        m * gxh - _per_channel(gxh.sum(axis=axes), nd)
        - xh * _per_channel((gxh * xh).sum(axis=axes), nd))
    return gx, (g * xh).sum(axis=axes), g.sum(axis=axes)


def update_running(running_mean: np.ndarray, running_var: np.ndarray, cache: Cache,
                   count: int, momentum: float) -> None:
    """In place: the PyTorch running-statistics update (unbiased variance over the `count`
    values per channel, cache.count: B, or B*H*W for images; 1 gives 0)."""
    m = count
    unbiased = cache.var * m / max(m - 1, 1)
    running_mean *= 1.0 - momentum
    running_mean += momentum * cache.mean
    running_var *= 1.0 - momentum
    running_var += momentum * unbiased
