"""The epoch loop against a NumPy stand-in executable (conftest.LinearExe): chunking, data
order, history rows, early stopping, restore_best, interrupt + resume bit-identity."""

from __future__ import annotations

import numpy as np
import pytest

from nnspec import ir
from nnspec.run import checkpoint
from nnspec.train.batching import ChunkSizer, batches_per_epoch, epoch_order, shuffle_rng
from nnspec.train.interrupt import StopFlag
from nnspec.train.loop import COMPLETED, INTERRUPTED, Trainer, train
from nnspec.train.progress import Reporter


def strip_time(rows):
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


@pytest.mark.parametrize("n, batch, drop_last, expected", [
    (120, 16, False, 8), (120, 16, True, 7), (120, "full", False, 1), (120, 1, False, 120),
    (10, 32, False, 1), (10, 32, True, 1), (128, 16, True, 8)])
def test_batches_per_epoch(linear, n, batch, drop_last, expected):
    spec_fn, data_fn, make = linear
    spec = spec_fn(batch=batch, drop_last=drop_last)
    exe, _ = make(spec)
    assert exe.plan.n_batches(n) == expected
    size = n if batch == "full" else min(batch, n)
    assert batches_per_epoch(n, size, drop_last) == expected


def test_epoch_order_is_seeded_permutation_or_identity():
    a = epoch_order(shuffle_rng(5), 50, True)
    b = epoch_order(shuffle_rng(5), 50, True)
    assert np.array_equal(a, b) and sorted(a) == list(range(50)) and not np.array_equal(
        a, np.arange(50))
    assert np.array_equal(epoch_order(shuffle_rng(5), 50, False), np.arange(50))
    assert not np.array_equal(a, epoch_order(shuffle_rng(6), 50, True))


def test_chunk_sizer_grows_towards_target():
    s = ChunkSizer(target_s=0.5)
    assert s.next(100) == 1
    s.observe(1, 1.0)  # a slow first call (compile): stays at one batch
    assert s.next(100) == 1
    s.observe(1, 0.001)  # fast: grows by at most x4 per call
    assert s.next(100) == 4
    s.observe(4, 0.004)
    assert s.next(100) == 16
    for _ in range(5):
        s.observe(s.next(10_000), s.next(10_000) * 0.001)
    assert s.next(10_000) == 500  # 0.5 s at 1 ms per batch
    assert s.next(7) == 7


@pytest.mark.parametrize("target", [1e-12, 10.0])
def test_chunks_cover_every_batch_once(linear, target):
    spec_fn, data_fn, make = linear
    spec = spec_fn(epochs=2)
    exe, sched = make(spec)
    result = train(exe.plan, data_fn(), exe, sched, chunk_target_s=target)
    assert result.status == COMPLETED and result.epochs_run == 2
    per_epoch: list[list[tuple[int, int]]] = [[]]
    for start, end in exe.calls:
        if start == 0 and per_epoch[-1]:
            per_epoch.append([])
        per_epoch[-1].append((start, end))
    assert len(per_epoch) == 2
    for calls in per_epoch:
        assert calls[0][0] == 0 and calls[-1][1] == 8
        assert all(a[1] == b[0] for a, b in zip(calls, calls[1:], strict=False))
    if target < 1:
        assert len(exe.calls) == 16  # one batch per call
    assert exe.step == 16


def test_chunking_does_not_change_results(linear):
    spec_fn, data_fn, make = linear
    spec = spec_fn()
    runs = []
    for target in (1e-12, 10.0):
        exe, sched = make(spec)
        r = train(exe.plan, data_fn(), exe, sched, chunk_target_s=target)
        runs.append((exe.get_params(), strip_time(r.history)))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_history_rows_and_final_metrics(linear):
    from nnspec.ops.metrics import R2, Mae

    spec_fn, data_fn, make = linear
    spec = spec_fn(epochs=3, metrics=(Mae(), R2()))
    exe, sched = make(spec)
    data = data_fn()
    r = train(exe.plan, data, exe, sched)
    assert [row["epoch"] for row in r.history] == [1, 2, 3]
    assert list(r.history[0]) == ["epoch", "loss", "lr", "train_loss", "mae", "r2", "val_loss",
                                  "val_mae", "val_r2", "time"]
    assert r.history[-1]["lr"] == pytest.approx(0.05)
    assert sched.steps == 3
    # Final metrics are eval-mode values of the final weights: recompute them independently.
    pred = exe.predict(data.val.x)
    assert r.metrics["val"]["loss"] == pytest.approx(float(np.mean((pred - data.val.y) ** 2)))
    assert r.metrics["val"]["mae"] == pytest.approx(float(np.mean(np.abs(pred - data.val.y))))
    assert set(r.metrics) == {"train", "val"}
    # The last epoch's val row was taken with the same (final) weights.
    assert r.history[-1]["val_loss"] == pytest.approx(r.metrics["val"]["loss"])
    assert r.history[0]["loss"] > r.history[-1]["loss"]
    # issue 18: train_loss is taken at the same moment as val_loss and the metrics (the
    # epoch's final weights, eval mode), so train and val compare within a row...
    assert r.history[-1]["train_loss"] == pytest.approx(r.metrics["train"]["loss"])
    train_pred = exe.predict(data.train.x)
    assert r.history[-1]["mae"] == pytest.approx(
        float(np.mean(np.abs(train_pred - data.train.y))))
    # ...while `loss`, the mean over the epoch's batches as the weights moved, is not
    assert r.history[-1]["loss"] != pytest.approx(r.history[-1]["train_loss"])


class StopAt(Reporter):
    """Sets the stop flag at (epoch, batch) as a Ctrl-C would."""

    def __init__(self, flag: StopFlag, epoch: int, batch: int | None = None):
        self.flag, self.at_epoch, self.at_batch = flag, epoch, batch

    def chunk(self, epoch, batches_done, samples_per_s):
        if self.at_batch is not None and epoch == self.at_epoch and batches_done >= self.at_batch:
            self.flag.set("test")

    def epoch(self, row, samples_per_s):
        super().epoch(row, samples_per_s)
        if self.at_batch is None and row["epoch"] == self.at_epoch:
            self.flag.set("test")


@pytest.mark.parametrize("epoch, batch", [(2, None), (3, 3), (1, 1), (5, None)])
def test_interrupt_and_resume_is_bit_identical(linear, tmp_path, epoch, batch):
    spec_fn, data_fn, make = linear
    spec = spec_fn(epochs=6, early_stop=ir.EarlyStop(monitor="val_loss", patience=50,
                                                     restore_best=True))
    exe, sched = make(spec)
    straight = train(exe.plan, data_fn(), exe, sched, chunk_target_s=1e-12)

    exe1, sched1 = make(spec)
    flag = StopFlag()
    part = train(exe1.plan, data_fn(), exe1, sched1, stop=flag, reporter=StopAt(flag, epoch, batch),
                 chunk_target_s=1e-12)
    assert part.status == INTERRUPTED
    assert part.epochs_run == (epoch if batch is None else epoch - 1)
    # Through the files, as `nnspec run --resume` does; a fresh executable and schedule.
    # The checkpoint does not carry the history: the rows come back from the run's log.
    assert "history" not in part.checkpoint
    checkpoint.save(tmp_path / "checkpoint", part.checkpoint, tag="x")
    state = checkpoint.load(tmp_path / "checkpoint")
    exe2, sched2 = make(spec)
    exe2.params[:] = 0  # nothing of the fresh initialisation may leak into the result
    resumed = train(exe2.plan, data_fn(), exe2, sched2, resume=state, history=part.history,
                    chunk_target_s=10.0)
    assert resumed.status == COMPLETED
    assert np.array_equal(exe2.get_params(), exe.get_params())
    assert exe2.step == exe.step
    assert strip_time(resumed.history) == strip_time(straight.history)
    assert resumed.best_epoch == straight.best_epoch
    assert resumed.metrics == straight.metrics


def test_early_stopping_and_restore_best(linear):
    spec_fn, data_fn, make = linear
    # lr decays fast, so the val loss plateaus; monitor the training loss with a min_delta
    # large enough that improvement stops after a few epochs.
    es = ir.EarlyStop(monitor="loss", patience=2, min_delta=0.05, restore_best=True)
    spec = spec_fn(epochs=40, early_stop=es)
    exe, sched = make(spec)
    r = train(exe.plan, data_fn(), exe, sched)
    assert r.status == COMPLETED
    assert r.early_stop_epoch is not None and r.early_stop_epoch < 40
    assert r.epochs_run == r.early_stop_epoch == len(r.history)
    losses = [row["loss"] for row in r.history]
    best = r.best_epoch
    assert r.early_stop_epoch == best + 2  # patience 2
    # best is the last epoch that improved on the previous best by more than min_delta
    assert all(losses[i] >= losses[best - 1] - 0.05 for i in range(best, len(losses)))
    assert r.restored_epoch == best
    # restored weights: the final train metrics are not those of the last epoch's weights
    exe_last, _ = make(spec)
    exe_last.load_state_dict(r.checkpoint["executable"])
    assert not np.array_equal(exe_last.get_params(), exe.get_params())


def test_restore_best_without_stop_firing(linear):
    spec_fn, data_fn, make = linear
    es = ir.EarlyStop(monitor="val_loss", patience=100, restore_best=True)
    spec = spec_fn(epochs=5, early_stop=es, optimizer=ir.Sgd(lr=0.9))
    exe, sched = make(spec)
    r = train(exe.plan, data_fn(), exe, sched)
    assert r.early_stop_epoch is None
    vals = [row["val_loss"] for row in r.history]
    assert r.best_epoch == int(np.nanargmin(vals)) + 1
    assert r.restored_epoch == r.best_epoch
    assert r.metrics["val"]["loss"] == pytest.approx(vals[r.best_epoch - 1])


def test_nonfinite_skipped_when_not_stopping(linear):
    spec_fn, data_fn, make = linear
    es = ir.EarlyStop(monitor="loss", patience=100, stop_on_nonfinite=False)
    spec = spec_fn(epochs=3, early_stop=es, optimizer=ir.Sgd(lr=1e6))
    exe, sched = make(spec)
    r = train(exe.plan, data_fn(), exe, sched)
    assert r.status == COMPLETED and r.epochs_run == 3
    assert any(np.isnan(row["loss"]) for row in r.history)
    assert [d.code for d in r.diagnostics] == ["W105"]


def test_empty_training_set_is_a_diagnostic(linear):
    from nnspec.diagnostics import DiagnosticError

    spec_fn, data_fn, make = linear
    spec = spec_fn()
    exe, sched = make(spec)
    data = data_fn()
    data.train.x, data.train.y = data.train.x[:0], data.train.y[:0]
    with pytest.raises(DiagnosticError) as info:
        train(exe.plan, data, exe, sched)
    assert info.value.diagnostics[0].code == "E412"


def test_trainer_state_dict_round_trips(linear):
    spec_fn, data_fn, make = linear
    spec = spec_fn(epochs=2)
    exe, sched = make(spec)
    t = Trainer(exe.plan, data_fn(), exe, sched)
    t.run()
    state = t.state_dict()
    assert state["epoch"] == 2 and state["batch"] == 0 and "order" not in state
    assert state["shuffle_rng"]["bit_generator"] == "PCG64"
