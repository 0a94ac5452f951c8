"""Small networks as Plans built from the IR (no parser), data that fits them, and every
optimizer option combination: shared by the backend test folders (reference, cpu, cuda),
each of which keeps its own list of networks."""

from __future__ import annotations

import numpy as np

from nnspec import ir
from nnspec.lower import lower
from nnspec.lower.plan import Plan
from nnspec.ops.activations import ACTIVATIONS
from nnspec.ops.layers import Dense
from nnspec.ops.losses import LOSSES
from nnspec.ops.optimizers import OPTIMIZERS

ACT, LOSS, OPT = ACTIVATIONS, LOSSES, OPTIMIZERS


def dense(units, act="linear", **kw):
    return Dense(units=units, activation=ACT[act]() if isinstance(act, str) else act, **kw)


def make_plan(layers, loss, *, n_in=3, optimizer=None, **train) -> Plan:
    train.setdefault("dtype", "float64")
    spec = ir.Spec(model=ir.Model(input=n_in, layers=tuple(layers)),
                   train=ir.Train(loss=loss, optimizer=optimizer or OPT["sgd"](lr=0.1), **train))
    return lower(spec)


# name -> optimizer op: every optimizer and option combination
OPTIMIZER_CASES = {
    "sgd": OPT["sgd"](lr=0.1),
    "sgd-wd": OPT["sgd"](lr=0.1, weight_decay=0.01),
    "sgd-momentum-dampening": OPT["sgd"](lr=0.05, momentum=0.9, dampening=0.3),
    "sgd-nesterov-wd": OPT["sgd"](lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3),
    "rmsprop": OPT["rmsprop"](lr=0.01),
    "rmsprop-centered-momentum-wd": OPT["rmsprop"](lr=0.01, centered=True, momentum=0.5,
                                                   weight_decay=0.01, alpha=0.9),
    "rmsprop-momentum": OPT["rmsprop"](lr=0.01, momentum=0.9),
    "adam": OPT["adam"](lr=0.01),
    "adam-amsgrad-wd": OPT["adam"](lr=0.01, amsgrad=True, weight_decay=0.01, betas=(0.8, 0.95)),
    "adamw": OPT["adamw"](lr=0.01),
    "adamw-amsgrad": OPT["adamw"](lr=0.01, amsgrad=True, weight_decay=0.1, eps=1e-6),
    "adagrad": OPT["adagrad"](lr=0.1),
    "adagrad-decay-wd-init": OPT["adagrad"](lr=0.1, lr_decay=0.05, weight_decay=0.01,
                                            initial_accumulator_value=0.1),
}


def data(plan: Plan, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets that fit the plan's loss (class indices for categorical)."""
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, plan.n_inputs))
    first = plan.layers[0] if plan.layers else None
    if first is not None and first.kind_name == "embedding":
        # token ids from a vocabulary smaller than the ids drawn: repeats within a batch
        vocab = first.tensors[0].shape[0]
        x = r.integers(0, vocab, size=(n, plan.n_inputs)).astype(float)
    k = plan.n_outputs
    if plan.loss_name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        return x, r.integers(0, k, size=n)
    if plan.loss_name == "binary_crossentropy":
        return x, (r.random((n, k)) < 0.5).astype(float)
    return x, r.normal(size=(n, k))


def order(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n).astype(np.int64)
