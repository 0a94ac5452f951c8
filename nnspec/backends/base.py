"""backends.base: Plan -> Executable, the contract every backend (reference, cpu, cuda) meets.

A backend module exposes `compile(plan: Plan) -> Executable`. The Executable owns the model's
state: the flat parameter buffer (plan dtype, layout in lower/plan.py), the batchnorm running
statistics, the optimizer moments and the step counter t (counted from 1 at the first update,
over the whole run, as torch.optim does). The training loop drives it epoch by epoch and
chunk by chunk; it owns the data, the learning rate schedule and the shuffle order.

Conventions every backend follows (so backends agree bit for bit where the math allows):

Inputs x: (N, n_inputs), converted to the plan dtype, C-contiguous (`as_inputs`); token ids
  (a model starting with `embedding`) as int64.
Targets y: ALWAYS a float (N, K) array of the plan dtype (`as_targets` converts): regression
  and binary_crossentropy: the target values, K = n_outputs ((N,) becomes (N, 1));
  categorical_crossentropy: one-hot rows (or any soft target rows summing to 1), built by
  `as_targets` from int class indices (N,). Convert once per data set, before the epochs:
  executables accept unconverted arrays but then convert on every call.
Order: `order` is an int64 permutation of range(N) (train.batching.epoch_order); batch k of
  the epoch is the rows order[k*B : min((k+1)*B, N)], B = plan.batch_size(N); with drop_last
  the short final batch is not run (plan.n_batches(N) batches per epoch).
Batch loss: the mean over the batch as the loss formula states (ops/losses.py), computed in
  the forward pass BEFORE that batch's update; the loss includes no weight-decay term.
Epoch loss: sum_k loss_k * B_k / sum_k B_k over the epoch's batches (so batch full gives the
  loss of the whole set). EpochChunk carries loss_sum = sum_k loss_k * B_k and n_samples so a
  caller adds chunks up; the sums are accumulated in float64. `EpochChunk.add_to(total)` adds
  the batch terms one by one, so the epoch loss does not depend on how it was chunked.
Dropout randomness: one Generator (`dropout_rng(seed)`) passed to every train_epoch call; for
  each batch, for each dropout layer with rate > 0 in layer order, u = rng.random((B, n))
  (float64, row-major) and keep[b, i] = u[b, i] >= rate; y = x * keep / (1 - rate).
  Nothing else draws from it. Evaluation (predict, evaluate) never uses dropout and uses the
  batchnorm running statistics.
Non-finite: a chunk stops at the first batch whose loss or any gradient is NaN/inf, BEFORE
  applying that batch's update (parameters, moments, t and running statistics are those
  after the previous batch); status and bad_batch say which. The training loop then calls
  train.nonfinite.nonfinite_error(...) for the E411 diagnostic.
Checkpoints: state_dict() holds everything besides the data order and the generators needed
  for a resumed run to be bit-identical: params, buffers, optimizer moments, step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nnspec.lower.plan import L_CCE, Plan

# Streams derived from the spec seed (train.batching owns the shuffle stream 0x5EED_0001).
INIT_STREAM = 0x5EED_0002
DROPOUT_STREAM = 0x5EED_0003

STATUS_OK = 0
STATUS_NONFINITE_LOSS = 1
STATUS_NONFINITE_GRAD = 2


def init_rng(seed: int) -> np.random.Generator:
    """The Generator initial parameters are drawn from (lower.init_params)."""
    return np.random.default_rng([seed, INIT_STREAM])


def dropout_rng(seed: int) -> np.random.Generator:
    """The Generator dropout masks are drawn from (see the module docstring)."""
    return np.random.default_rng([seed, DROPOUT_STREAM])


@dataclass(frozen=True)
class EpochChunk:
    """What one train_epoch call did: batches [start_batch, start_batch + n_batches)."""

    loss_sum: float  # sum over the batches run of batch_loss * batch_size (float64)
    n_samples: int  # sum of their batch sizes
    n_batches: int  # batches completed (updates applied)
    status: int = STATUS_OK  # STATUS_OK | STATUS_NONFINITE_LOSS | STATUS_NONFINITE_GRAD
    bad_batch: int = -1  # index within the epoch of the batch that went non-finite, else -1
    # Set by a backend when status != OK, for nonfinite_error: the first batch of the chunk
    # and the dropout Generator's bit_generator.state when the chunk started (None when the
    # model has no dropout), so the bad batch can be replayed with the same masks.
    start_batch: int = 0
    rng_state: dict[str, Any] | None = None
    # batch_loss * batch_size of each completed batch, in order (float64), when the backend
    # provides them: see add_to().
    terms: np.ndarray | None = None
    # With heads (Plan.heads): head_loss * batch_size of each completed batch and head,
    # (n_batches, n_heads) float64; the main output's are `terms`. See add_heads_to().
    head_terms: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.n_samples if self.n_samples else float("nan")

    def add_to(self, total: float) -> float:
        """total + this chunk's batch terms, added one batch at a time: the same float
        whichever way an epoch was split into chunks (total + loss_sum is not: float addition
        is not associative, so a resumed run would differ in the last bit)."""
        if self.terms is None:
            return total + self.loss_sum
        for term in self.terms.tolist():
            total += term
        return total

    def add_heads_to(self, totals: list[float]) -> list[float]:
        """Each head's running total + this chunk's terms, batch by batch (as add_to)."""
        out = list(totals)
        if self.head_terms is not None:
            for row in self.head_terms.tolist():
                for h, term in enumerate(row):
                    out[h] += term
        return out


@runtime_checkable
class Executable(Protocol):
    """A compiled model with its training state (see the module docstring)."""

    plan: Plan
    step: int  # optimizer steps taken so far (t of the last update; 0 before any)

    def get_params(self) -> np.ndarray:
        """A copy of the flat parameter buffer (plan dtype, plan.n_params values)."""
        ...

    def set_params(self, flat: np.ndarray) -> None:
        """Replace the parameters (cast to the plan dtype); moments and step are kept."""
        ...

    def get_buffers(self) -> np.ndarray:
        """A copy of the batchnorm running statistics (plan dtype, plan.n_buffers values)."""
        ...

    def set_buffers(self, flat: np.ndarray) -> None:
        ...

    def train_epoch(self, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float,
                    start_batch: int, end_batch: int, rng: np.random.Generator) -> EpochChunk:
        """Run batches [start_batch, min(end_batch, plan.n_batches(N))) of the epoch whose
        sample order is `order`, each a forward, backward and update with learning rate lr
        (lr replaces plan.optimizer.lr; the schedule is the caller's)."""
        ...

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Outputs (N, n_outputs) in eval mode: the last layer's activations (probabilities
        after sigmoid/softmax, log-probabilities after log_softmax)."""
        ...

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        """The loss of the whole set as one batch, in eval mode (for rmse: the rmse of the
        set, not a mean of batch rmses); NaN/inf are returned, not raised."""
        ...

    def state_dict(self) -> dict[str, np.ndarray]:
        """{"params", "buffers", "opt_state" (n_state, n_params), "step" (int64 scalar)}."""
        ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        ...


def evaluate_outputs(exe: Executable, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(exe.evaluate(x, y), exe.predict(x)), from one forward pass where the backend has an
    `evaluate_outputs` method (cpu, reference), else from the two calls."""
    both = getattr(exe, "evaluate_outputs", None)
    return both(x, y) if both is not None else (exe.evaluate(x, y), exe.predict(x))


def as_inputs(plan: Plan, x: np.ndarray) -> np.ndarray:
    """x as the (N, n_inputs) C-contiguous array of the plan dtype (no copy if it is one);
    token ids (plan.token_input) as int64, never through floats."""
    if plan.token_input:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            if x.size and not np.all(x == np.round(x)):
                raise ValueError("token ids must be integers")
        x = np.ascontiguousarray(x, dtype=np.int64)
        vocab = plan.vocab_size
        if x.size and (x.min() < 0 or x.max() >= vocab):  # the engines index with them
            bad = int(x.min()) if x.min() < 0 else int(x.max())
            raise ValueError(f"token id {bad} out of range [0, {vocab})")
    else:
        x = np.ascontiguousarray(x, dtype=plan.dtype)
    if x.ndim == 1 and plan.n_inputs == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[1] != plan.n_inputs:
        raise ValueError(f"inputs of shape {x.shape}; expected (N, {plan.n_inputs})")
    return x


def class_ids(plan: Plan, y: np.ndarray) -> bool:
    """Whether y holds one class index per sample ((N,) or (N, 1) for K > 1 outputs) of a
    multi-class task, rather than target rows."""
    return (plan.loss == L_CCE or plan.task == "multiclass") and (
        y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and plan.n_outputs > 1))


def checked_class_ids(plan: Plan, y: np.ndarray) -> np.ndarray:
    """Class indices (class_ids) as a flat int64 array, each an integer in [0, K)."""
    y = y.reshape(-1)
    k = plan.n_outputs
    if y.size and (not np.issubdtype(y.dtype, np.integer) and not np.all(y == np.round(y))):
        raise ValueError("class targets must be integer indices")
    idx = y.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= k):
        raise ValueError(f"class index out of range [0, {k})")
    return idx


def targets_for(exe: Executable, y: np.ndarray) -> np.ndarray:
    """y as `exe` takes it, converted once before the epochs: the executable's own compact
    form where it has one (the cpu engine keeps class indices, expanding each batch's), else
    as_targets'."""
    own = getattr(exe, "targets", None)
    return own(y) if own is not None else as_targets(exe.plan, y)


def as_targets(plan: Plan, y: np.ndarray) -> np.ndarray:
    """y as the (N, n_outputs) float array of the plan dtype; class indices ((N,) or (N, 1),
    class_ids) become one-hot rows for a multi-class task (categorical_crossentropy, or a
    regression loss on a softmax output: ir.task_of)."""
    y = np.asarray(y)
    k = plan.n_outputs
    if class_ids(plan, y):
        idx = checked_class_ids(plan, y)
        out = np.zeros((idx.shape[0], k), dtype=plan.dtype)
        out[np.arange(idx.shape[0]), idx] = 1
        return out
    y = np.ascontiguousarray(y, dtype=plan.dtype)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] != k:
        raise ValueError(f"targets of shape {y.shape}; expected (N, {k})")
    return y


def checked_flat(plan: Plan, flat: np.ndarray, what: str) -> np.ndarray:
    """`flat` as an array after checking it holds the plan's n_params (what="params") or
    n_buffers (what="buffers") values: the one shape check behind every backend's
    set_params/set_buffers."""
    flat = np.asarray(flat)
    if what == "params":
        n, words = plan.n_params, "parameters"
    else:
        n, words = plan.n_buffers, "buffer values"
    if flat.shape != (n,):
        raise ValueError(f"expected {n} {words}, got {flat.shape}")
    return flat


def check_state(plan: Plan, state: dict[str, np.ndarray]) -> None:
    """Raise ValueError unless a checkpoint's arrays have this plan's shapes (params,
    buffers, optimizer state (n_state, n_params))."""
    shapes = {"params": (plan.n_params,), "buffers": (plan.n_buffers,),
              "opt_state": (plan.optimizer.n_state, plan.n_params)}
    for key, shape in shapes.items():
        value = np.asarray(state[key])
        if value.shape != shape:
            raise ValueError(f"checkpoint `{key}` has shape {value.shape}, the model "
                             f"needs {shape}")


class HostState:
    """Parameter and checkpoint methods of an executable whose state lives in host NumPy
    arrays (reference, cpu): self.plan, self.params (n_params,), self.buffers (n_buffers,),
    self.state (n_state, n_params) and self.step. Assignment casts to the arrays' dtype."""

    plan: Plan
    params: np.ndarray
    buffers: np.ndarray
    state: np.ndarray
    step: int

    def get_params(self) -> np.ndarray:
        return self.params.copy()

    def set_params(self, flat: np.ndarray) -> None:
        self.params[:] = checked_flat(self.plan, flat, "params")

    def get_buffers(self) -> np.ndarray:
        return self.buffers.copy()

    def set_buffers(self, flat: np.ndarray) -> None:
        self.buffers[:] = checked_flat(self.plan, flat, "buffers")

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"params": self.params.copy(), "buffers": self.buffers.copy(),
                "opt_state": self.state.copy(), "step": np.array(self.step, dtype=np.int64)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        check_state(self.plan, state)
        self.params[:] = state["params"]
        self.buffers[:] = state["buffers"]
        self.state[:] = state["opt_state"]
        self.step = int(state["step"])
