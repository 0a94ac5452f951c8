"""Finite-difference gradient checking in float64 (helpers for tests/reference)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences of the scalar f() with respect to x, perturbed in place."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def rel_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-4) -> float:
    """max_i |a_i - n_i| / max(|a_i|, |n_i|, floor): relative, except that entries near 0
    (where difference quotients are only accurate to ~1e-10 absolutely) compare absolutely."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    assert a.shape == n.shape, (a.shape, n.shape)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return float(np.max(np.abs(a - n) / denom)) if a.size else 0.0


def assert_grad(f: Callable[[], float], x: np.ndarray, analytic: np.ndarray,
                tol: float = 1e-6, h: float = 1e-5) -> None:
    err = rel_error(analytic, numeric_grad(f, x, h))
    assert err < tol, f"relative error {err:.3g} >= {tol:g}"
