"""train.early_stop: history rows -> stop / keep going, and which epoch was best.

Semantics (Keras EarlyStopping, stated here because the details differ between libraries):
- mode auto: `max` when the monitored name (without its `val_` / `test_` prefix) is a metric
  whose `higher_is_better` is set in the op registry (accuracy, precision, recall, f1, r2),
  `min` otherwise (loss and the error metrics).
- an epoch improves when `value < best - min_delta` (min) or `value > best + min_delta` (max);
  NaN never improves. The first finite value always improves.
- after an epoch without improvement `wait += 1`; the run stops once `wait >= patience`
  (patience 0 stops at the first epoch that does not improve).
- `best_epoch` is the (1-based) epoch of the best value; restore_best makes the run end with
  that epoch's weights whether or not the stop fired (the loop keeps the snapshot).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from nnspec.ops.metrics import monitor_mode


def resolve_mode(monitor: str, mode: Literal["auto", "min", "max"]) -> Literal["min", "max"]:
    return monitor_mode(monitor, mode)


@dataclass
class EarlyStopping:
    monitor: str
    mode: Literal["min", "max"]
    patience: int
    min_delta: float = 0.0
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    stopped_epoch: int | None = None

    @classmethod
    def from_plan(cls, es: Any) -> EarlyStopping:
        """Build from a `lower.plan.EarlyStopPlan` (or an `ir.EarlyStop`: same fields; an
        `auto` mode is resolved)."""
        return cls(monitor=es.monitor, mode=resolve_mode(es.monitor, es.mode),
                   patience=es.patience, min_delta=es.min_delta)

    def improved(self, value: float | None) -> bool:
        if value is None or math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, row: dict[str, Any]) -> tuple[bool, bool]:
        """Feed the row of (1-based) `epoch`; returns (is_new_best, should_stop)."""
        value = row.get(self.monitor)
        if value is not None and self.improved(value):
            self.best, self.best_epoch, self.wait = float(value), epoch, 0
            return True, False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return False, True
        return False, False

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
