"""train.loop: Plan + Dataset + Executable -> RunResult (the epoch loop).

Everything the loop needs comes from the Plan (lower/plan.py): epochs, seed, batching, the
schedule, early stopping, metrics, the checkpoint policy; it never reads the IR.

Per epoch e (0-based; history and messages count from 1):
1. lr = schedule.lr(e) (warmup and the main schedule are the schedule object's business);
2. the data order is drawn from the shuffle Generator (identity without shuffle), then the
   executable runs the epoch's batches in chunks sized so that control returns to Python
   about every 0.5 s (progress, Ctrl-C), without a Python round trip per batch;
3. the row: `loss` is the mean of the training batch losses of the epoch (weighted by batch
   size: what the optimizer saw, as Keras and most PyTorch loops report it), measured while
   the weights moved and dropout was active; everything else is measured AFTER the epoch on
   its final weights in eval mode: `train_loss` and the training metrics (metrics like f1
   cannot be averaged over batches) on the whole training split, `val_loss` /
   `val_<metric>` on the validation split. So `train_loss` and `val_loss` (and `rmse` and
   `train_loss` of an mse run) are comparable; `loss` is one epoch behind them.
   `train_loss` is left out of a row with neither metrics nor validation (nothing to
   compare it with, and a forward pass of its own);
4. the row goes to `on_epoch` (the run directory appends it to its history log); early
   stopping and the plateau schedule are fed the row; a checkpoint is offered to the caller
   as `output`'s policy says (train/cadence.py: by default at most once per 30 s, between
   chunks), and always on interruption, on early stop and at the end.
A non-finite batch loss or gradient stops the run with the executable's E411 diagnostic
(`stop_on_nonfinite`, the default); with `stop_on_nonfinite=false` that batch's update is
skipped (as torch's GradScaler skips steps with inf gradients), the epoch's loss is NaN and
training goes on.

The loop owns every piece of training state besides the executable's (data order, the
shuffle and dropout Generators, the schedule, early stopping, history), and `TrainState`
holds all of it, so a run resumed from a checkpoint is bit-identical to an uninterrupted one.
A checkpoint (`state_dict`) leaves out the history, which grows with every epoch: the caller
keeps the rows (on_epoch) and hands them back to a resumed run (`train(..., history=rows)`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnspec.backends.base import (
    Executable,
    as_inputs,
    dropout_rng,
    evaluate_outputs,
    targets_for,
)
from nnspec.diagnostics import Diagnostic, DiagnosticError, warning
from nnspec.lower.plan import Plan
from nnspec.ops.metrics import METRICS
from nnspec.train.batching import ChunkSizer, epoch_order, shuffle_rng
from nnspec.train.cadence import Cadence
from nnspec.train.divergence import Watch
from nnspec.train.divergence import find as find_divergence
from nnspec.train.divergence import warning_of as divergence_warning
from nnspec.train.early_stop import EarlyStopping
from nnspec.train.evaluation import Scorer, split_metrics
from nnspec.train.interrupt import StopFlag
from nnspec.train.nonfinite import nonfinite_error
from nnspec.train.progress import Reporter, RunInfo

COMPLETED, INTERRUPTED, FAILED = "completed", "interrupted", "failed"


@dataclass
class TrainState:
    """Everything the loop needs to continue a run exactly (see `state_dict`)."""

    epoch: int = 0  # epochs fully done
    batch: int = 0  # batches done in the current (unfinished) epoch
    order: np.ndarray | None = None  # the current epoch's order while batch > 0
    loss_sum: float = 0.0  # partial sums of the current epoch
    n_samples: int = 0
    head_sums: list[float] = field(default_factory=list)  # each head's, as loss_sum
    nonfinite_batches: int = 0
    epoch_time: float = 0.0  # seconds already spent in the current epoch
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, np.ndarray] | None = None  # params/buffers of the best epoch (restore_best)
    # `output { trajectory }`: the batch losses since the last record, and its step
    traj_sum: float = 0.0
    traj_n: int = 0
    traj_last: int = -1


@dataclass
class RunResult:
    """What `train` returns; the run directory is written from it."""

    status: str  # completed | interrupted | failed
    history: list[dict[str, Any]]
    epochs_run: int
    best_epoch: int | None  # epoch (1-based) early stopping judged best, if monitoring
    early_stop_epoch: int | None  # epoch (1-based) at which early stopping fired
    restored_epoch: int | None  # epoch whose weights the run ended with, if restore_best
    metrics: dict[str, dict[str, float]]  # final {"train"|"val"|"test": {"loss", <metric>...}}
    diagnostics: list[Diagnostic]
    checkpoint: dict[str, Any]  # the last training state (before restore_best), for resume
    elapsed: float
    interrupt_reason: str | None = None
    diverged_epoch: int | None = None  # the epoch the loss started to diverge (W109)


class Trainer:
    """One training run; `run()` may be called on a fresh or a resumed Trainer."""

    def __init__(self, plan: Plan, data: Any, exe: Executable, schedule: Any, *,
                 reporter: Reporter | None = None, stop: StopFlag | None = None,
                 on_checkpoint: Callable[[dict[str, Any]], None] | None = None,
                 on_epoch: Callable[[dict[str, Any]], None] | None = None,
                 chunk_target_s: float = 0.5, epochs: int | None = None,
                 out_dir: str | None = None,
                 on_step: Callable[[dict[str, Any]], None] | None = None):
        if plan.tensors != exe.plan.tensors or plan.layers != exe.plan.layers:
            raise ValueError("the executable was compiled from a different model than `plan`")
        self.plan, self.exe, self.schedule = plan, exe, schedule
        self.epochs = epochs or plan.epochs
        self.reporter = reporter or Reporter()
        self.stop = stop if stop is not None else StopFlag()
        self.on_checkpoint = on_checkpoint
        self.on_epoch = on_epoch
        # `output { trajectory every=N }` (pictures/trajectory.py): chunks end at every N-th
        # optimizer step, where on_step gets the exact parameters
        self.on_step = on_step
        self.every = plan.trajectory_every if on_step is not None else 0
        self.cadence = Cadence(plan.checkpoint)
        self.out_dir = out_dir
        # a live bar wants control back more often than every chunk_target_s (progress.py)
        wanted = getattr(self.reporter, "chunk_s", None)
        self.sizer = ChunkSizer(min(chunk_target_s, wanted) if wanted else chunk_target_s)
        self.x = as_inputs(self.plan, data.train.x)
        self.y = targets_for(exe, data.train.y)
        self.splits: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name in ("val", "test"):
            part = getattr(data, name, None)
            if part is not None and len(part):
                self.splits[name] = (as_inputs(self.plan, part.x),
                                     targets_for(exe, part.y), np.asarray(part.y))
        self.y_raw = np.asarray(data.train.y)
        self.n = int(self.x.shape[0])
        self.n_batches = self.plan.n_batches(self.n)
        self.metrics = tuple(m.build(METRICS) for m in plan.metrics)
        self.task = self.plan.task
        k = self.plan.n_outputs
        self.scorers = {"train": Scorer(self.metrics, self.task, self.y_raw, k),
                        **{name: Scorer(self.metrics, self.task, raw, k)
                           for name, (_, _, raw) in self.splits.items()}}
        self.shuffle = shuffle_rng(self.plan.seed)
        self.dropout = dropout_rng(self.plan.seed)
        es = plan.early_stop
        self.early = EarlyStopping.from_plan(es) if es is not None else None
        self.restore_best = bool(es and es.restore_best)
        self.stop_on_nonfinite = plan.stop_on_nonfinite
        self.state = TrainState()
        self.diagnostics: list[Diagnostic] = []
        self.watch = Watch()  # train/divergence.py, fed each row as it comes

    # -- checkpoint state ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        s = self.state
        out: dict[str, Any] = {
            "epoch": s.epoch, "batch": s.batch, "loss_sum": s.loss_sum,
            "n_samples": s.n_samples, "head_sums": list(s.head_sums),
            "nonfinite_batches": s.nonfinite_batches,
            "epoch_time": s.epoch_time,
            "shuffle_rng": self.shuffle.bit_generator.state,
            "dropout_rng": self.dropout.bit_generator.state,
            "schedule": self.schedule.state_dict(),
            "early_stop": self.early.state_dict() if self.early else None,
            "executable": {k: np.asarray(v) for k, v in self.exe.state_dict().items()},
        }
        if s.order is not None and s.batch > 0:
            out["order"] = s.order
        if s.best is not None:
            out["best"] = dict(s.best)
        if self.every:
            out["trajectory"] = {"loss_sum": s.traj_sum, "n": s.traj_n, "last": s.traj_last}
        return out

    def load_state_dict(self, state: dict[str, Any],
                        history: list[dict[str, Any]] | None = None) -> None:
        """Continue from `state`; `history` is the rows of its epochs (a checkpoint written
        before the history log carried them itself, and those are used when none are given)."""
        self.exe.load_state_dict(state["executable"])
        self.shuffle.bit_generator.state = state["shuffle_rng"]
        self.dropout.bit_generator.state = state["dropout_rng"]
        self.schedule.load_state_dict(state["schedule"])
        if self.early is not None and state.get("early_stop"):
            self.early.load_state_dict(state["early_stop"])
        self.state = TrainState(
            epoch=int(state["epoch"]), batch=int(state["batch"]), order=state.get("order"),
            loss_sum=float(state["loss_sum"]), n_samples=int(state["n_samples"]),
            head_sums=[float(v) for v in state.get("head_sums", [])],
            nonfinite_batches=int(state.get("nonfinite_batches", 0)),
            epoch_time=float(state.get("epoch_time", 0.0)),
            history=[dict(r) for r in (history if history is not None
                                       else state.get("history", []))],
            best=state.get("best"))
        traj = state.get("trajectory") or {}
        self.state.traj_sum = float(traj.get("loss_sum", 0.0))
        self.state.traj_n = int(traj.get("n", 0))
        self.state.traj_last = int(traj.get("last", -1))

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> RunResult:
        t_start = time.perf_counter()
        s = self.state
        status, reason = COMPLETED, None
        self.reporter.start(RunInfo(self.plan.model_name, self.epochs, s.epoch, self.n,
                                    self.n_batches, self.out_dir))
        for row in s.history:  # a resumed run's earlier epochs (told already, if at all)
            self.watch.update(row)
        try:
            if self.every and self.exe.step == 0 and s.traj_last < 0:
                self._record(0, 0)  # the initial weights
            while s.epoch < self.epochs:
                outcome = self._epoch()
                if outcome == FAILED:
                    status = FAILED
                    break
                if outcome == INTERRUPTED or (self.stop and s.epoch < self.epochs):
                    status, reason = INTERRUPTED, self.stop.reason
                    break
                if outcome == "early_stop":
                    break
            if self.every and status == COMPLETED and self.exe.step > s.traj_last:
                self._record(s.epoch, self.n_batches)  # the last step (before the checkpoint,
                # so that a resume that only writes the artifacts does not record it again)
            checkpoint = self.state_dict()
            if self.on_checkpoint is not None and status != FAILED:
                self._checkpoint(checkpoint)
            restored = self._restore_best() if status == COMPLETED else None
            metrics = self.final_metrics() if status != FAILED else {}
        finally:
            self.reporter.end()
        diverged = find_divergence(s.history)
        if diverged is not None:
            self.diagnostics.append(divergence_warning(diverged, self.plan.optimizer_span,
                                                       self.plan.spec_path))
        early = self.early
        return RunResult(
            status=status, history=list(s.history), epochs_run=s.epoch,
            best_epoch=early.best_epoch if early else None,
            early_stop_epoch=early.stopped_epoch if early else None,
            restored_epoch=restored, metrics=metrics, diagnostics=list(self.diagnostics),
            checkpoint=checkpoint, elapsed=time.perf_counter() - t_start,
            interrupt_reason=reason,
            diverged_epoch=diverged.start if diverged is not None else None)

    def _epoch(self) -> str:
        s, e = self.state, self.state.epoch
        lr = float(self.schedule.lr(e))
        if s.batch == 0:
            s.order = epoch_order(self.shuffle, self.n, self.plan.shuffle)
            s.loss_sum, s.n_samples, s.nonfinite_batches, s.epoch_time = 0.0, 0, 0, 0.0
            s.head_sums = [0.0] * len(self.plan.heads)
        assert s.order is not None
        while s.batch < self.n_batches:
            k = self.sizer.next(self.n_batches - s.batch)
            if self.every:  # stop at the next step to record
                k = min(k, self.every - self.exe.step % self.every)
            t0 = time.perf_counter()
            chunk = self.exe.train_epoch(self.x, self.y, s.order, lr, s.batch, s.batch + k,
                                         self.dropout)
            dt = time.perf_counter() - t0
            s.epoch_time += dt
            self.sizer.observe(max(chunk.n_batches, 1), dt)
            # batch by batch, so the epoch loss is the same however the epoch was chunked
            # (a resumed run must reproduce an uninterrupted one bit for bit)
            s.loss_sum = chunk.add_to(s.loss_sum)
            if s.head_sums:
                s.head_sums = chunk.add_heads_to(s.head_sums)
            s.n_samples += chunk.n_samples
            s.batch += chunk.n_batches
            if self.every:
                s.traj_sum = chunk.add_to(s.traj_sum)
                s.traj_n += chunk.n_samples
                if self.exe.step % self.every == 0 and self.exe.step > s.traj_last:
                    self._record(e + 1, s.batch)
            if not chunk.ok:
                if self.stop_on_nonfinite:
                    err = nonfinite_error(self.exe, self.x, self.y, s.order, e, chunk, lr,
                                          self.plan.spec_path)
                    self.diagnostics.extend(err.diagnostics)
                    return FAILED
                s.nonfinite_batches += 1
                s.batch += 1  # skip the bad batch: its update was not applied
            self.reporter.chunk(e + 1, s.batch, chunk.n_samples / max(dt, 1e-9))
            if self.stop and s.batch < self.n_batches:
                return INTERRUPTED
            if self.on_checkpoint is not None and s.batch < self.n_batches \
                    and self.cadence.mid_epoch():
                self._checkpoint(self.state_dict())
        row = self._row(e, lr)
        s.history.append(row)
        if self.on_epoch is not None:
            self.on_epoch(row)
        s.epoch, s.batch, s.order = e + 1, 0, None
        self.reporter.epoch(row, s.n_samples / max(s.epoch_time, 1e-9))
        diverged = self.watch.update(row)
        if diverged is not None:
            self.reporter.message(f"warning: {diverged.text()}; lower the learning rate")
        stop = self._after_epoch(row)
        if self.on_checkpoint is not None and s.epoch < self.epochs and not stop \
                and not self.stop and self.cadence.after_epoch(s.epoch):
            self._checkpoint(self.state_dict())
        return "early_stop" if stop else "ok"

    def _record(self, epoch: int, batch: int) -> None:
        """Hand the parameters after the current step to on_step (pictures/trajectory.py)."""
        s = self.state
        assert self.on_step is not None
        step = int(self.exe.step)
        self.on_step({"step": step, "epoch": epoch, "batch": batch,
                      "loss": s.traj_sum / s.traj_n if s.traj_n else float("nan"),
                      "params": self.exe.get_params()})
        s.traj_sum, s.traj_n, s.traj_last = 0.0, 0, step

    def _checkpoint(self, state: dict[str, Any]) -> None:
        assert self.on_checkpoint is not None
        on_checkpoint = self.on_checkpoint
        self.cadence.timed(lambda: on_checkpoint(state))

    def _row(self, e: int, lr: float) -> dict[str, Any]:
        s = self.state
        t0 = time.perf_counter()
        loss = s.loss_sum / s.n_samples if s.n_samples else float("nan")
        if s.nonfinite_batches:
            loss = float("nan")
            if not any(d.code == "W105" for d in self.diagnostics):
                self.diagnostics.append(warning(
                    "W105", f"epoch {e + 1}: {s.nonfinite_batches} batch(es) with a "
                    "non-finite loss or gradient were skipped",
                    hints=("lower the learning rate or add `clip norm=1.0`",)))
        row: dict[str, Any] = {"epoch": e + 1, "loss": float(loss)}
        for head, total in zip(self.plan.heads, s.head_sums, strict=True):
            # an auxiliary head's own loss over the epoch's batches, as `loss`
            row[f"{head.name}_loss"] = (float("nan") if s.nonfinite_batches or not s.n_samples
                                        else total / s.n_samples)
        row["lr"] = lr
        # the epoch's end: the training split in eval mode with the final weights, the same
        # moment as the metrics and val_loss (issue 18: `loss` above is not comparable).
        # Without metrics or validation there is nothing to compare it with, and it would
        # cost a forward pass of its own, so it is left out then.
        if self.metrics:  # the loss and the outputs from one forward pass
            train_loss, pred = evaluate_outputs(self.exe, self.x, self.y)
            row["train_loss"] = float(train_loss)
            row.update(self.scorers["train"](pred))
        elif "val" in self.splits:
            row["train_loss"] = float(self.exe.evaluate(self.x, self.y))
        if "val" in self.splits:
            xv, yv, _ = self.splits["val"]
            if self.metrics:  # the loss and the outputs from one forward pass
                val_loss, pred = evaluate_outputs(self.exe, xv, yv)
                row["val_loss"] = float(val_loss)
                row.update({f"val_{k}": v for k, v in self.scorers["val"](pred).items()})
            else:
                row["val_loss"] = float(self.exe.evaluate(xv, yv))
        row["time"] = round(s.epoch_time + time.perf_counter() - t0, 6)
        return row

    def _after_epoch(self, row: dict[str, Any]) -> bool:
        stop = False
        if self.early is not None:
            is_best, stop = self.early.update(int(row["epoch"]), row)
            if is_best and self.restore_best:
                self.state.best = {"params": self.exe.get_params(),
                                   "buffers": self.exe.get_buffers()}
            if stop:
                self.reporter.message(
                    f"early stopping at epoch {row['epoch']}: {self.early.monitor} has not "
                    f"improved for {self.early.patience} epoch(s) (best "
                    f"{self.early.best:.6g} at epoch {self.early.best_epoch})")
        self.schedule.step(row)
        return stop

    def _restore_best(self) -> int | None:
        best = self.state.best
        if not self.restore_best or best is None or self.early is None:
            return None
        self.exe.set_params(best["params"])
        self.exe.set_buffers(best["buffers"])
        self.reporter.message(f"restored the weights of epoch {self.early.best_epoch} "
                              f"({self.early.monitor} {self.early.best:.6g})")
        return self.early.best_epoch

    def final_metrics(self) -> dict[str, dict[str, float]]:
        """Loss and metrics of every split with the final weights, in eval mode."""
        out: dict[str, dict[str, float]] = {}
        splits = {"train": (self.x, self.y, self.y_raw), **self.splits}
        for name, (x, y, y_raw) in splits.items():
            values = {"loss": float(self.exe.evaluate(x, y))}
            if self.metrics:
                values.update(split_metrics(self.metrics, self.task, y_raw, self.exe.predict(x)))
            out[name] = values
        return out


def train(plan: Plan, data: Any, exe: Executable, schedule: Any = None, *,
          resume: dict[str, Any] | None = None, history: list[dict[str, Any]] | None = None,
          **kwargs: Any) -> RunResult:
    """Train `exe` (compiled from `plan`) on `data` (a data.Dataset) as `plan` says; see the
    module docstring.

    `schedule` defaults to `train.schedules.make_schedule(plan)`; `resume` is a state
    from a checkpoint (`Trainer.state_dict()`) and `history` the rows of its epochs;
    kwargs go to `Trainer`. Raises
    DiagnosticError only for problems found before the first epoch.
    """
    if schedule is None:
        from nnspec.train.schedules import make_schedule

        schedule = make_schedule(plan)
    trainer = Trainer(plan, data, exe, schedule, **kwargs)
    if trainer.n_batches == 0:
        raise DiagnosticError(_no_batches(plan, trainer.n))
    if resume is not None:
        trainer.load_state_dict(resume, history)
    return trainer.run()


def _no_batches(plan: Plan, n: int) -> Diagnostic:
    # A batch larger than the training set is one short batch (Plan.batch_size), even with
    # drop_last, so only an empty training split leaves nothing to run.
    from nnspec.diagnostics import error

    return error("E412", f"the training split has {n} samples", plan.data_span,
                 path=plan.spec_path, hints=("check the data file and the split fractions",))
