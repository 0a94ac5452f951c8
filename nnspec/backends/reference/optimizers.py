"""backends.reference.optimizers: (w, g, state, lr, t) -> updated w and state, as torch.optim.

One step of each optimizer of nnspec/ops/optimizers.py on flat float64 arrays, written in
the order torch.optim's single-tensor code computes it (torch 2.x, foreach=False), so the
results agree to rounding. t is the step number, counted from 1. `opt` is either the
registry op (nnspec.ops.optimizers) or the Plan's `OptimizerPlan`; both are read the same way.

State is one (n_state, n) array, the layout of `OptimizerPlan.n_state`:
sgd: [velocity] with momentum, else none; rmsprop: [square_avg, grad_avg, momentum_buffer];
adam/adamw: [exp_avg, exp_avg_sq, max_exp_avg_sq]; adagrad: [sum].

Clipping (`clip_gradients`) runs before the step: by value first, then by global L2 norm
(torch clip_grad_norm_: g *= max_norm/(norm + 1e-6) when that factor is below 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _hyper(opt: Any) -> dict[str, Any]:
    """Hyperparameters from a registry op or an OptimizerPlan, under the OptimizerPlan names."""
    name = getattr(opt, "kind", None) or opt.name
    h = {"name": name}
    for key in ("momentum", "dampening", "nesterov", "weight_decay", "alpha", "centered",
                "amsgrad", "eps", "lr_decay", "initial_accumulator_value"):
        if hasattr(opt, key):
            h[key] = getattr(opt, key)
    if hasattr(opt, "betas"):
        h["beta1"], h["beta2"] = opt.betas
    elif hasattr(opt, "beta1"):
        h["beta1"], h["beta2"] = opt.beta1, opt.beta2
    return h


def n_state(opt: Any) -> int:
    """The op's own count (ops/optimizers.py), from the op or from the Plan."""
    return opt.n_state() if callable(opt.n_state) else int(opt.n_state)


def _decoupled(opt: Any) -> bool:
    return bool(getattr(opt, "decoupled", None) if hasattr(opt, "decoupled")
                else type(opt).decoupled_decay)


def _rule(opt: Any) -> str:
    """The update rule: the op's `update_rule()`, or the Plan's rule code."""
    if hasattr(opt, "update_rule"):
        return opt.update_rule()
    from nnspec.lower.plan import RULE_CODES

    return next(rule for rule, code in RULE_CODES.items() if code == opt.code)


def init_state(opt: Any, n: int) -> np.ndarray:
    """Zeroed state (adagrad: its initial_accumulator_value)."""
    state = np.zeros((n_state(opt), n))
    h = _hyper(opt)
    if h["name"] == "adagrad":
        state[0] = h["initial_accumulator_value"]
    return state


def step(opt: Any, w: np.ndarray, g: np.ndarray, state: np.ndarray, lr: float, t: int) -> None:
    """Update w and state in place for step t (1-based) with learning rate lr; g is not changed."""
    if t < 1:
        raise ValueError("optimizer steps count from 1")
    h = _hyper(opt)
    name = _rule(opt)
    wd = h["weight_decay"]
    if _decoupled(opt):
        # Decoupled decay: the weight shrinks before the Adam step; g stays as it is.
        if wd != 0:
            w *= 1.0 - lr * wd
    elif wd != 0:
        g = g + wd * w  # L2: a new array, so the caller's gradient is untouched
    if name == "sgd":
        _sgd(h, w, g, state, lr, t)
    elif name == "rmsprop":
        _rmsprop(h, w, g, state, lr)
    elif name == "adam":
        _adam(h, w, g, state, lr, t)
    elif name == "adagrad":
        _adagrad(h, w, g, state, lr, t)
    else:
        raise ValueError(f"unknown optimizer {name!r}")


def _sgd(h: dict, w: np.ndarray, g: np.ndarray, state: np.ndarray, lr: float, t: int) -> None:
    m = h["momentum"]
    if m != 0:
        buf = state[0]
        if t == 1:
            buf[:] = g  # torch starts the buffer at the first gradient (no dampening)
        else:
            buf *= m
            buf += (1.0 - h["dampening"]) * g
        g = g + m * buf if h["nesterov"] else buf
    w -= lr * g


def _rmsprop(h: dict, w: np.ndarray, g: np.ndarray, state: np.ndarray, lr: float) -> None:
    alpha, eps = h["alpha"], h["eps"]
    square_avg, grad_avg, buf = state
    square_avg *= alpha
    square_avg += (1.0 - alpha) * g * g
    if h["centered"]:
        grad_avg += (1.0 - alpha) * (g - grad_avg)
        avg = np.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg = avg + eps
    if h["momentum"] > 0:
        buf *= h["momentum"]
        buf += g / avg
        w -= lr * buf
    else:
        w -= lr * (g / avg)


def _adam(h: dict, w: np.ndarray, g: np.ndarray, state: np.ndarray, lr: float, t: int) -> None:
    b1, b2, eps = h["beta1"], h["beta2"], h["eps"]
    m, v, vmax = state
    m += (1.0 - b1) * (g - m)  # torch: exp_avg.lerp_(g, 1 - beta1)
    v *= b2
    v += (1.0 - b2) * g * g
    step_size = lr / (1.0 - b1**t)
    bc2_sqrt = (1.0 - b2**t) ** 0.5
    if h["amsgrad"]:
        np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(vmax) / bc2_sqrt + eps
    else:
        denom = np.sqrt(v) / bc2_sqrt + eps
    w -= step_size * (m / denom)


def _adagrad(h: dict, w: np.ndarray, g: np.ndarray, state: np.ndarray, lr: float,
             t: int) -> None:
    clr = lr / (1.0 + (t - 1) * h["lr_decay"])
    state[0] += g * g
    w -= clr * (g / (np.sqrt(state[0]) + h["eps"]))


def clip_gradients(g: np.ndarray, norm: float | None = None, value: float | None = None
                   ) -> float:
    """Clip g in place (value first, then global norm; None or 0 = off). Returns the L2 norm
    of g before the norm clipping (after value clipping)."""
    if value:
        np.clip(g, -value, value, out=g)
    total = float(np.sqrt(np.sum(g * g)))
    if norm:
        coef = norm / (total + 1e-6)
        if coef < 1.0:
            g *= coef
    return total
