"""Fixtures for the training-loop tests: tiny specs and a NumPy stand-in Executable.

`LinearExe` meets the backends.base contract for a model of linear dense layers trained with
mse and sgd (momentum): the loop's bookkeeping (order, chunks, generators, checkpoints,
early stopping) can be tested exactly and fast, independently of the compiled backends. It
draws an input-dropout mask from the loop's dropout Generator every batch, so a resumed run
is only bit-identical if that Generator's state is restored too.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnspec import ir
from nnspec.backends.base import STATUS_NONFINITE_LOSS, STATUS_OK, EpochChunk, as_inputs, as_targets
from nnspec.lower.lower import lower
from nnspec.ops.layers import Dense
from nnspec.ops.losses import Mse
from nnspec.ops.optimizers import Sgd


class LinearExe:
    """y = x @ w.T + b (one dense layer), mse, sgd with momentum; input dropout 0.1."""

    def __init__(self, plan, seed: int = 0):
        self.plan = plan
        self.step = 0
        rng = np.random.default_rng(seed)
        self.params = rng.normal(0, 0.5, plan.n_params).astype(plan.dtype)
        self.velocity = np.zeros_like(self.params)
        self.calls: list[tuple[int, int]] = []

    def _wb(self, params):
        k, f = self.plan.n_outputs, self.plan.n_inputs
        return params[: k * f].reshape(k, f), params[k * f:]

    def get_params(self):
        return self.params.copy()

    def set_params(self, flat):
        self.params = np.asarray(flat, dtype=self.plan.dtype).copy()

    def get_buffers(self):
        return np.zeros(0, dtype=self.plan.dtype)

    def set_buffers(self, flat):
        pass

    @np.errstate(all="ignore")
    def train_epoch(self, x, y, order, lr, start_batch, end_batch, rng):
        x, y = as_inputs(self.plan, x), as_targets(self.plan, y)
        n = len(x)
        bs, nb = self.plan.batch_size(n), self.plan.n_batches(n)
        end_batch = min(end_batch, nb)
        self.calls.append((start_batch, end_batch))
        loss_sum, n_samples, done = 0.0, 0, 0
        momentum = self.plan.optimizer.momentum
        for k in range(start_batch, end_batch):
            idx = order[k * bs: min((k + 1) * bs, n)]
            keep = rng.random((len(idx), x.shape[1])) >= 0.1
            xb = x[idx] * keep / 0.9
            w, b = self._wb(self.params)
            err = xb @ w.T + b - y[idx]
            loss = float(np.mean(err.astype(np.float64) ** 2))
            gw = 2 * err.T @ xb / err.size
            gb = 2 * err.sum(axis=0) / err.size
            g = np.concatenate([gw.ravel(), gb])
            if not (np.isfinite(loss) and np.all(np.isfinite(g))):
                return EpochChunk(loss_sum, n_samples, done, STATUS_NONFINITE_LOSS, k)
            self.velocity = momentum * self.velocity + g if self.step else g.copy()
            self.params = (self.params - lr * self.velocity).astype(self.plan.dtype)
            self.step += 1
            loss_sum += loss * len(idx)
            n_samples += len(idx)
            done += 1
        return EpochChunk(loss_sum, n_samples, done, STATUS_OK, -1)

    @np.errstate(all="ignore")
    def predict(self, x):
        w, b = self._wb(self.params)
        return as_inputs(self.plan, x) @ w.T + b

    def evaluate(self, x, y):
        err = self.predict(x) - as_targets(self.plan, y)
        return float(np.mean(err.astype(np.float64) ** 2))

    def state_dict(self):
        return {"params": self.params.copy(), "buffers": self.get_buffers(),
                "opt_state": self.velocity.copy()[None, :], "step": np.int64(self.step)}

    def load_state_dict(self, state):
        self.params = np.array(state["params"], dtype=self.plan.dtype)
        self.velocity = np.array(state["opt_state"][0], dtype=self.plan.dtype)
        self.step = int(state["step"])


class ConstantSchedule:
    """Stand-in for train.schedules: lr0 * gamma^epoch."""

    def __init__(self, lr0: float, gamma: float = 1.0):
        self.lr0, self.gamma, self.steps = lr0, gamma, 0

    def lr(self, epoch: int) -> float:
        return self.lr0 * self.gamma**epoch

    def step(self, metrics):
        self.steps += 1

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = int(state["steps"])


class Part:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)


class Data:
    def __init__(self, train, val=None, test=None):
        self.train, self.val, self.test = train, val, test


def linear_data(n: int = 120, seed: int = 3, val: int = 30) -> Data:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n + val, 2))
    y = (x @ np.array([2.0, -1.0]) + 0.5 + rng.normal(0, 0.05, n + val)).reshape(-1, 1)
    return Data(Part(x[:n], y[:n]), Part(x[n:], y[n:]) if val else None)


def linear_spec(**train_kw) -> ir.Spec:
    kw = dict(loss=Mse(), optimizer=Sgd(lr=0.05, momentum=0.5), epochs=6, batch=16,
              metrics=())
    kw.update(train_kw)
    return ir.Spec(model=ir.Model(name="lin", input=2, layers=(Dense(units=1),)),
                   train=ir.Train(**kw))


def make(spec: ir.Spec):
    plan = lower(spec)
    return LinearExe(plan, seed=spec.train.seed), ConstantSchedule(spec.train.optimizer.lr)


@pytest.fixture
def linear():
    return linear_spec, linear_data, make
