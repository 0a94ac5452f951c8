"""train.divergence: the history's losses -> "training diverged from epoch N" (W109).

A learning rate that is too high rarely ends in NaN at once: the loss grows by a constant
factor per epoch for a long while (sgd(lr=5) on the linear regression reached 4e+57 in 30
epochs with exit 0). The rule, run after every epoch and on the whole history at the end:

    the run diverged at epoch e when loss[e] >= FACTOR * min(loss[1..e-1]) and loss[e] is
    above the first epoch's loss (worse than where training started);

it started at the epoch after that minimum (the last epoch that improved). FACTOR is two
orders of magnitude: far beyond the noise of mini-batch losses, which wander by a few times
at most, and the extra "worse than the start" keeps a loss that fell to 1e-6 and then back to
1e-4 (still far better than at the start) from being called divergence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from nnspec.diagnostics import Diagnostic, Span, warning

FACTOR = 100.0


@dataclass(frozen=True)
class Divergence:
    start: int  # the first epoch (1-based) after the last one that improved
    best_epoch: int
    best: float
    seen_epoch: int  # the epoch of the worst loss from where the rule fired on
    seen: float  # that loss
    lr: float | None  # the learning rate in the start epoch, when the rows hold it

    def text(self) -> str:
        grew = (f"grew from {_num(self.best)} (epoch {self.best_epoch}) to {_num(self.seen)} "
                f"(epoch {self.seen_epoch})")
        decades = math.log10(self.seen / self.best)
        if decades >= 3:
            grew += f", {decades:.0f} orders of magnitude"
        return f"training diverged from epoch {self.start}: the loss {grew}"


def _num(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)


class Watch:
    """The rule, fed one row at a time (constant work per epoch, however long the run)."""

    def __init__(self, key: str = "loss") -> None:
        self.key = key
        self.best, self.best_epoch = math.inf, 0
        self.first: float | None = None
        self.lr: dict[int, float] = {}  # the learning rate of the epoch after the best
        self.fired: Divergence | None = None

    def update(self, row: dict[str, Any]) -> Divergence | None:
        """The divergence when this row is where the rule first fires, else None."""
        if self.fired is not None:
            return None
        v, epoch = row.get(self.key), int(row["epoch"])
        if epoch == self.best_epoch + 1 and row.get("lr") is not None:
            self.lr = {epoch: float(row["lr"])}
        if v is None or not math.isfinite(float(v)):
            return None  # a NaN epoch (skipped batches) is W105's, a stop E411's
        v = float(v)
        if self.first is not None and self.best > 0 and v >= FACTOR * self.best \
                and v > self.first:
            start = self.best_epoch + 1
            self.fired = Divergence(start, self.best_epoch, self.best, epoch, v,
                                    self.lr.get(start))
            return self.fired
        if self.first is None:
            self.first = v
        if v < self.best:
            self.best, self.best_epoch = v, epoch
            self.lr = {}
        return None


def find(rows: Sequence[dict[str, Any]], key: str = "loss") -> Divergence | None:
    """The first divergence in `rows` (history rows, in epoch order), or None; it reports
    the worst loss from where the rule fired to the end."""
    watch = Watch(key)
    for i, row in enumerate(rows):
        d = watch.update(row)
        if d is not None:
            later = [(float(r[key]), int(r["epoch"])) for r in rows[i:]
                     if r.get(key) is not None and math.isfinite(float(r[key]))]
            worst, worst_epoch = max(later)
            return replace(d, seen_epoch=worst_epoch, seen=worst)
    return None


def warning_of(d: Divergence, span: Span | None, path: str | None) -> Diagnostic:
    """The W109 warning, pointing at the optimizer (where the learning rate is set)."""
    hint = "lower the learning rate"
    if d.lr is not None and d.lr > 0:
        hint += f" (it was {d.lr:g} in epoch {d.start}; try {d.lr / 10:g})"
    return warning("W109", d.text(), span, path=path, label="learning rate set here",
                   hints=[hint + ", or add gradient clipping (`clip norm=1.0`)"])
