"""train.cadence: the Plan's checkpoint policy (lower.plan.CheckpointPlan, from `output`)
-> when the loop offers a periodic checkpoint.

- `checkpoint every=N`: after every N-th epoch;
- `checkpoint seconds=S`, or nothing said (S: ir.CHECKPOINT_SECONDS, set by lower):
  between two chunks of batches (so a long epoch is not lost whole) once S seconds have
  passed since the last one, and never more often than keeps checkpoints under 2% of the
  time (a big net whose state takes long to write waits longer);
- `checkpoint off` (`every=0`): none.
Whatever the policy, the loop also checkpoints at the end, on interruption and on early stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nnspec.lower.plan import CheckpointPlan

# cost / (interval + cost) <= 2% when interval >= 49 x cost
_SHARE = 49.0


class Cadence:
    def __init__(self, policy: CheckpointPlan, clock: Callable[[], float] | None = None):
        self.every = policy.every
        self.seconds: float | None = None
        if self.every is None:
            assert policy.seconds is not None, "lower() resolves the default policy"
            self.seconds = policy.seconds
        self.clock = clock or time.monotonic
        self.last = self.clock()
        self.cost = 0.0

    def after_epoch(self, epochs_done: int) -> bool:
        """Offer a checkpoint now that `epochs_done` epochs are done?"""
        if self.every is not None:
            return self.every > 0 and epochs_done % self.every == 0
        return self._due()

    def mid_epoch(self) -> bool:
        """Offer a checkpoint between two chunks of an epoch?"""
        return self.every is None and self._due()

    def _due(self) -> bool:
        assert self.seconds is not None
        return self.clock() - self.last >= max(self.seconds, _SHARE * self.cost)

    def timed(self, write: Callable[[], None]) -> None:
        """Run `write` (a checkpoint) and remember when and how long it took."""
        t0 = self.clock()
        write()
        self.last = self.clock()
        self.cost = self.last - t0
