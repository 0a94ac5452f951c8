"""backends.reference.executable: Plan -> ReferenceExecutable, a slow and clear Executable.

The contract is backends/base.py. A Python loop over batches, each a forward pass, loss,
backward pass, clipping and optimizer step made of this package's op functions. Unlike the
compiled backends it ALWAYS computes and stores in float64, whatever `plan.dtype` says
(inputs and targets are still first converted to the plan dtype, so a float32 plan sees the
same rounded data as the CPU backend): it is the oracle the other backends are checked
against, and the function finite-difference gradient checks look at.
"""

from __future__ import annotations

import numpy as np

from nnspec.backends.base import (
    STATUS_NONFINITE_GRAD,
    STATUS_NONFINITE_LOSS,
    EpochChunk,
    HostState,
    as_inputs,
    as_targets,
    init_rng,
)
from nnspec.backends.reference import network, optimizers
from nnspec.lower.init import init_buffers, init_params
from nnspec.lower.plan import Plan


def _f64(a: np.ndarray) -> np.ndarray:
    """Values in float64; token ids (integers) stay integers."""
    return a if np.issubdtype(a.dtype, np.integer) else np.asarray(a, dtype=np.float64)


class ReferenceExecutable(HostState):
    """A Plan run in NumPy float64; see backends/base.Executable."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.params = init_params(plan, init_rng(plan.seed))
        self.buffers = init_buffers(plan)
        self.state = optimizers.init_state(plan.optimizer, plan.n_params)
        self.step = 0
        self.head_losses: list[float] = []

    # training ---------------------------------------------------------------------------
    def train_batch(self, xb: np.ndarray, yb: np.ndarray, lr: float,
                    rng: np.random.Generator) -> tuple[int, float]:
        """One forward, backward and update on a batch; (status, main output's batch loss).
        The heads' batch losses are left in `self.head_losses`. A non-finite loss or
        gradient leaves every piece of state as it was (the dropout draws are made)."""
        plan = self.plan
        f = network.forward(plan, self.params, self.buffers, xb, True, rng=rng)
        loss, self.head_losses, seeds = network.objective(plan, f, yb)
        if not np.isfinite(loss) or not np.all(np.isfinite(self.head_losses)):
            return STATUS_NONFINITE_LOSS, loss
        grad = network.backward(plan, self.params, f, seeds)
        if not np.all(np.isfinite(grad)):
            return STATUS_NONFINITE_GRAD, loss
        network.update_running(plan, self.buffers, f)
        optimizers.clip_gradients(grad, plan.clip_norm, plan.clip_value)
        self.step += 1
        optimizers.step(plan.optimizer, self.params, grad, self.state, lr, self.step)
        return 0, loss

    def train_epoch(self, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float,
                    start_batch: int, end_batch: int, rng: np.random.Generator) -> EpochChunk:
        plan = self.plan
        x, y = _f64(as_inputs(plan, x)), _f64(as_targets(plan, y))
        n = x.shape[0]
        if y.shape[0] != n:
            raise ValueError(f"{n} input rows but {y.shape[0]} target rows")
        order = np.asarray(order, dtype=np.int64)
        if order.shape != (n,):
            raise ValueError(f"order must hold {n} indices")
        start, end = max(0, start_batch), min(end_batch, plan.n_batches(n))
        size = plan.batch_size(n) if n else 0
        loss_sum, samples, done = 0.0, 0, 0
        head_terms: list[list[float]] = []
        for k in range(start, end):
            rows = order[k * size:min((k + 1) * size, n)]
            status, loss = self.train_batch(x[rows], y[rows], float(lr), rng)
            if status:
                return EpochChunk(loss_sum, samples, done, status, k,
                                  head_terms=self._heads(head_terms))
            loss_sum += loss * len(rows)
            head_terms.append([h * len(rows) for h in self.head_losses])
            samples += len(rows)
            done += 1
        return EpochChunk(loss_sum, samples, done, head_terms=self._heads(head_terms))

    def _heads(self, terms: list[list[float]]) -> np.ndarray | None:
        if not self.plan.heads:
            return None
        return np.array(terms, dtype=np.float64).reshape(len(terms), len(self.plan.heads))

    # evaluation -------------------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        x = _f64(as_inputs(self.plan, x))
        if x.shape[0] == 0:
            return np.empty((0, self.plan.n_outputs))
        return network.forward(self.plan, self.params, self.buffers, x, False).out.copy()

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        plan = self.plan
        x, y = _f64(as_inputs(plan, x)), _f64(as_targets(plan, y))
        if x.shape[0] == 0:
            return float("nan")
        with np.errstate(all="ignore"):  # NaN/inf are returned, not raised
            f = network.forward(plan, self.params, self.buffers, x, False)
            return float(network.loss_and_output_grad(plan, f, y)[0])

    def evaluate_outputs(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(evaluate(x, y), predict(x)) from one forward pass."""
        plan = self.plan
        x, y = _f64(as_inputs(plan, x)), _f64(as_targets(plan, y))
        if x.shape[0] == 0:
            return float("nan"), np.empty((0, plan.n_outputs))
        with np.errstate(all="ignore"):
            f = network.forward(plan, self.params, self.buffers, x, False)
            out = f.out.copy()
            return float(network.loss_and_output_grad(plan, f, y)[0]), out
