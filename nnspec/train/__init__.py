"""train: Plan + Dataset + Executable -> RunResult (the epoch loop, early stopping, progress).

    train(plan, dataset, executable, schedule=None, *, resume=None, reporter=None, stop=None,
          on_checkpoint=None, chunk_target_s=0.5, epochs=None, out_dir=None) -> RunResult

See loop.py for what an epoch does and what the history rows hold.
"""

from nnspec.train.loop import COMPLETED, FAILED, INTERRUPTED, RunResult, Trainer, train

__all__ = ["COMPLETED", "FAILED", "INTERRUPTED", "RunResult", "Trainer", "train"]
