"""train.schedules: Plan -> LrSchedule (the learning rate of every epoch).

The training loop asks `schedule.lr(e)` before epoch e (0-based) and calls
`schedule.step(row)` after it with that epoch's history row (loss, val_loss, metrics...).
The rates are PyTorch's for a scheduler whose `step()` is called once after every epoch
(`get_last_lr()` before epoch e), computed here in closed form (torch mostly multiplies
step by step; the two agree to ~1e-15 relative):

constant: lr0. step: StepLR. multistep: MultiStepLR. exponential: ExponentialLR.
cosine: CosineAnnealingLR(T_max = period, default the epochs after warmup) — like torch,
  the curve is not clamped after T_max, it rises again (period 2*T_max); with
  restart_every: CosineAnnealingWarmRestarts(T_0, T_mult=mult).
warmup W then X: SequentialLR([LinearLR(start_factor, 1.0, total_iters=W), X],
  milestones=[W]); X counts its epochs from 0 at epoch W, and its "all epochs" is E - W.
reduce_on_plateau: ReduceLROnPlateau (threshold_mode rel, cooldown, min_lr, and torch's
  eps: a reduction smaller than 1e-8 is not made), fed row[monitor] at every step; mode
  auto is max for metrics where higher is better (accuracy, precision, recall, f1, r2 and
  their val_ forms), min otherwise.
one_cycle: OneCycleLR(max_lr, total_steps = E, pct_start, div_factor, final_div_factor,
  anneal_strategy cos, three_phase False).

Where this differs from torch on purpose:
- one_cycle is stepped per epoch, not per batch, and does not cycle momentum (torch's
  cycle_momentum=False): the optimizer's momentum/betas stay as written.
- one_cycle with pct_start*E - 1 == 0 (e.g. 10 epochs, pct_start 0.1): torch divides by
  zero; here the rising phase is empty and epoch 0 starts at max_lr.
- warmup then reduce_on_plateau / one_cycle (torch SequentialLR cannot chain a plateau
  scheduler; check() rejects both): the main schedule starts at epoch W as above; a plateau
  schedule ignores the rows of the warmup epochs.
- lr(e) of a plateau schedule is only known for the current epoch (it depends on history).
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from nnspec.lower.plan import Plan
from nnspec.ops.metrics import monitor_mode
from nnspec.ops.schedules import (
    SCHEDULES,
    Constant,
    Cosine,
    Exponential,
    Multistep,
    OneCycle,
    ReduceOnPlateau,
    Schedule,
    Step,
    Warmup,
)


def _cosine(lr0: float, min_lr: float, e: int, t: int) -> float:
    return min_lr + (lr0 - min_lr) * (1.0 + math.cos(math.pi * e / t)) / 2.0


def _restart_position(e: int, t0: int, mult: int) -> tuple[int, int]:
    """(epochs into the current cycle, cycle length) for SGDR cycles t0, t0*mult, ..."""
    t_i = t0
    while e >= t_i:
        e -= t_i
        t_i *= mult
    return e, t_i


def _one_cycle(op: OneCycle, e: int, total: int) -> float:
    initial = op.max_lr / op.div_factor
    final = initial / op.final_div_factor
    # torch's two phases: (end_step, start_lr, end_lr), the first ending at pct*T - 1.
    phases = ((float(op.pct_start * total) - 1.0, initial, op.max_lr),
              (float(total - 1), op.max_lr, final))
    start = 0.0
    for i, (end, lr_start, lr_end) in enumerate(phases):
        if e <= end or i == len(phases) - 1:
            pct = (e - start) / (end - start) if end != start else 1.0
            return lr_end + (lr_start - lr_end) / 2.0 * (math.cos(math.pi * pct) + 1.0)
        start = end
    raise AssertionError("unreachable")


def closed_form(op: Schedule, lr0: float, e: int, epochs: int) -> float:
    """The lr of epoch e (0-based, counted from the start of this schedule) of a schedule
    that does not depend on history; `epochs` is how many epochs it runs for."""
    if isinstance(op, Constant):
        return lr0
    if isinstance(op, Step):
        return lr0 * op.gamma ** (e // op.every)
    if isinstance(op, Multistep):
        return lr0 * op.gamma ** bisect.bisect_right(op.milestones, e)
    if isinstance(op, Exponential):
        return lr0 * op.gamma**e
    if isinstance(op, Cosine):
        if op.restart_every is not None:
            t_cur, t_i = _restart_position(e, op.restart_every, op.mult)
            return _cosine(lr0, op.min_lr, t_cur, t_i)
        return _cosine(lr0, op.min_lr, e, op.period or max(epochs, 1))
    if isinstance(op, OneCycle):
        return _one_cycle(op, e, max(epochs, 1))
    if isinstance(op, Warmup):
        return lr0 * (op.start_factor + (1.0 - op.start_factor) * min(e, op.epochs) / op.epochs)
    raise ValueError(f"{type(op).__name__} depends on history; it has no closed form")


def plateau_mode(op: ReduceOnPlateau) -> str:
    """min or max: auto is max when the monitored metric is better higher."""
    return monitor_mode(op.monitor, op.mode)


class LrSchedule:
    """Learning rate per epoch: `lr(e)` before epoch e, `step(row)` after it."""

    def __init__(self, main: Schedule, lr0: float, epochs: int, warmup: Warmup | None = None):
        self.main, self.lr0, self.epochs, self.warmup = main, float(lr0), epochs, warmup
        self.w = warmup.epochs if warmup is not None else 0
        self.plateau = main if isinstance(main, ReduceOnPlateau) else None
        self.epoch = 0  # steps taken = the epoch whose lr `current` is
        # reduce_on_plateau state (torch ReduceLROnPlateau)
        self.plateau_lr = self.lr0
        self.mode = plateau_mode(self.plateau) if self.plateau is not None else "min"
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    @property
    def current(self) -> float:
        return self.lr(self.epoch)

    def lr(self, e: int) -> float:
        if e < 0:
            raise ValueError("epochs count from 0")
        if self.warmup is not None and e < self.w:
            return closed_form(self.warmup, self.lr0, e, self.w)
        if self.plateau is not None:
            if e != self.epoch:
                raise ValueError(f"reduce_on_plateau knows the lr of epoch {self.epoch} only")
            return self.plateau_lr
        return closed_form(self.main, self.lr0, e - self.w, self.epochs - self.w)

    def step(self, row: dict[str, Any] | None = None) -> None:
        """After an epoch: advance, feeding a plateau schedule its monitored value."""
        if self.plateau is not None and self.epoch >= self.w:
            monitor = self.plateau.monitor
            if row is None or monitor not in row:
                raise KeyError(f"reduce_on_plateau monitors `{monitor}`, which this epoch's "
                               f"results do not have (have: {', '.join(row or {})})")
            self._plateau_step(self.plateau, float(row[monitor]))
        self.epoch += 1

    def _is_better(self, a: float, rel: float) -> bool:
        if self.mode == "min":
            return a < self.best * (1.0 - rel)
        return a > self.best * (rel + 1.0)

    def _plateau_step(self, op: ReduceOnPlateau, value: float) -> None:
        if self._is_better(value, op.threshold):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > op.patience:
            new = max(self.plateau_lr * op.factor, op.min_lr)
            if self.plateau_lr - new > 1e-8:  # torch's eps: tiny reductions are not made
                self.plateau_lr = new
            self.cooldown_counter = op.cooldown
            self.num_bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        """Plain ints and floats (JSON-friendly except that best may be +-inf)."""
        return {"epoch": self.epoch, "plateau_lr": self.plateau_lr, "best": self.best,
                "num_bad_epochs": self.num_bad_epochs, "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.plateau_lr = float(state["plateau_lr"])
        self.best = float(state["best"])
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])


def make_schedule(plan: Plan, epochs: int | None = None) -> LrSchedule:
    """The schedule of a Plan (lr0 = the optimizer's lr; one_cycle's own max_lr replaces it)
    over `epochs` (default the Plan's: a resumed run given `--epochs N` passes N)."""
    warmup = plan.warmup.build(SCHEDULES) if plan.warmup is not None else None
    return LrSchedule(plan.schedule.build(SCHEDULES), plan.optimizer.lr,
                      plan.epochs if epochs is None else epochs, warmup)
