"""Reporters: plain lines, JSON lines, quiet, the rich live view (on a recording console),
and which one `make_reporter` picks; checkpoint cadence of the loop."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from nnspec.train.loop import train
from nnspec.train.progress import (
    JsonReporter,
    PlainReporter,
    Reporter,
    RichReporter,
    RunInfo,
    epoch_line,
    fmt,
    fmt_duration,
    make_reporter,
)

ROW = {"epoch": 3, "loss": 0.41234, "lr": 0.01, "accuracy": 0.875, "val_loss": float("nan"),
       "val_accuracy": 0.86, "time": 0.5}


@pytest.mark.parametrize("value, text", [
    (0.41234, "0.4123"), (1234.5, "1234.5000"), (1.5e-5, "1.500e-05"), (0, "0"),
    (0.0, "0.0000"), (float("nan"), "nan"), (None, "-"), (3e7, "3.000e+07")])
def test_fmt(value, text):
    assert fmt(value) == text


@pytest.mark.parametrize("seconds, text", [(5, "0:05"), (75.4, "1:15"), (3725, "1:02:05"),
                                           (None, "-:--")])
def test_fmt_duration(seconds, text):
    assert fmt_duration(seconds) == text


def test_epoch_line():
    assert epoch_line(ROW, 100) == ("epoch   3/100  loss 0.4123  accuracy 0.8750  val_loss nan"
                                    "  val_accuracy 0.8600  lr 0.01")


def feed(reporter: Reporter) -> None:
    reporter.start(RunInfo("m", 3, 0, 100, 4))
    for e in (1, 2, 3):
        reporter.chunk(e, 2, 1000.0)
        reporter.epoch({**ROW, "epoch": e}, 12345.0)
    reporter.message("early stopping at epoch 3")
    reporter.end()


def test_plain_reporter_one_line_per_epoch():
    out = io.StringIO()
    feed(PlainReporter(out))
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch 1/3  loss 0.4123")
    assert "samples/s 12,345" in lines[0] and "eta " in lines[0]
    assert lines[3] == "early stopping at epoch 3"


def test_json_reporter_only_rows_on_stdout():
    out, err = io.StringIO(), io.StringIO()
    feed(JsonReporter(out, err))
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0]["val_loss"] is None  # NaN is not JSON
    assert err.getvalue() == "early stopping at epoch 3\n"


def test_rich_reporter_prints_epochs():
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=200, record=True)
    feed(RichReporter(console))
    text = console.export_text()
    assert "epoch 1/3  loss 0.4123" in text and "early stopping at epoch 3" in text


def test_make_reporter():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert type(make_reporter(json_lines=True)) is JsonReporter
    assert type(make_reporter(quiet=True)) is Reporter
    assert type(make_reporter(stream=io.StringIO())) is PlainReporter
    assert type(make_reporter(stream=Tty())) is RichReporter


@pytest.mark.parametrize("every, epochs, calls", [(1, 4, [1, 2, 3, 4]), (2, 5, [2, 4, 5]),
                                                  (10, 3, [3])])
def test_checkpoint_cadence(linear, every, epochs, calls):
    from nnspec import ir

    spec_fn, data_fn, make = linear
    spec = spec_fn(epochs=epochs).model_copy(update={"output": ir.Output(
        checkpoint_every=every)})
    exe, sched = make(spec)
    seen = []
    train(exe.plan, data_fn(), exe, sched, on_checkpoint=lambda s: seen.append(s["epoch"]))
    assert seen == calls


@pytest.mark.parametrize("output, epochs, calls", [
    ({"checkpoint_every": 0}, 4, [4]),  # `checkpoint off`: only at the end
    ({}, 4, [4]),  # by wall time: a short run checkpoints only at the end
    ({"checkpoint_seconds": 3600.0}, 3, [3]),
])
def test_checkpoint_policies_on_a_short_run(linear, output, epochs, calls):
    from nnspec import ir

    spec_fn, data_fn, make = linear
    spec = spec_fn(epochs=epochs).model_copy(update={"output": ir.Output(**output)})
    exe, sched = make(spec)
    seen = []
    train(exe.plan, data_fn(), exe, sched, on_checkpoint=lambda s: seen.append(s["epoch"]))
    assert seen == calls


def test_checkpoints_by_wall_time_between_chunks(linear, monkeypatch):
    """With a clock that moves 1 s per reading and `seconds=10`, a checkpoint comes after 10
    readings, mid-epoch (batch > 0), and the next only after 49 more (the checkpoint took a
    "second", and checkpoints stay under 2% of the time), plus the one at the end."""
    from nnspec import ir
    from nnspec.train import cadence

    ticks = iter(range(10**6))
    monkeypatch.setattr(cadence.time, "monotonic", lambda: float(next(ticks)))
    spec_fn, data_fn, make = linear
    spec = spec_fn(epochs=6).model_copy(update={"output": ir.Output(checkpoint_seconds=10.0)})
    exe, sched = make(spec)
    seen = []
    train(exe.plan, data_fn(), exe, sched, chunk_target_s=1e-12,
          on_checkpoint=lambda s: seen.append((s["epoch"], s["batch"])))
    assert seen[-1] == (6, 0) and len(seen) >= 2
    assert seen[0][1] > 0


def _policy(**output):
    from nnspec import ir
    from nnspec.lower.lower import checkpoint_plan

    return checkpoint_plan(ir.Output(**output))


def test_cadence_keeps_checkpoints_under_two_percent():
    from nnspec import ir
    from nnspec.train.cadence import Cadence

    now = [0.0]
    c = Cadence(_policy(), clock=lambda: now[0])
    assert c.seconds == ir.CHECKPOINT_SECONDS and not c.after_epoch(1)
    now[0] = 30.0
    assert c.after_epoch(1) and c.mid_epoch()

    def slow_write():
        now[0] += 2.0  # a big state: 2 s to write

    c.timed(slow_write)
    now[0] += 60.0
    assert not c.mid_epoch()  # 2 s / 2% = 98 s between checkpoints
    now[0] += 38.0
    assert c.mid_epoch()
    assert not Cadence(_policy(checkpoint_every=3)).mid_epoch()
    assert Cadence(_policy(checkpoint_every=3)).after_epoch(6)
    assert not Cadence(_policy(checkpoint_every=0)).after_epoch(6)


def test_rich_reporter_prints_every_line_in_batches(monkeypatch):
    """Fast epochs: the lines are printed together (a few prints, not one per epoch), all of
    them, in order, before a message and at the end."""
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=200, record=True)
    r = RichReporter(console)
    prints = []
    real = console.print
    monkeypatch.setattr(console, "print", lambda *a, **k: (prints.append(a), real(*a, **k)))
    r.start(RunInfo("m", 500, 0, 100, 4))
    for e in range(1, 301):
        r.chunk(e, 4, 1e6)
        r.epoch({**ROW, "epoch": e}, 1e6)
    r.message("early stopping at epoch 300")
    r.end()
    text = console.export_text()
    epochs = [int(line.split()[1].split("/")[0]) for line in text.splitlines()
              if line.startswith("epoch ") and "loss" in line]
    assert epochs == list(range(1, 301))
    assert text.index("epoch 300/500") < text.index("early stopping at epoch 300")
    assert len(prints) < 30  # 300 epochs in well under a second: a handful of prints


def test_eta_from_the_last_epochs_in_constant_work(monkeypatch):
    """ETA = the mean of the last 5 epochs (the first left out once there are others) times
    the epochs left; what the reporter keeps does not grow with the epoch count."""
    from nnspec.train import progress

    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    r = Reporter()
    r.start(RunInfo("m", 10000, 0, 100, 4))
    assert r.eta({"epoch": 0}) is None
    now[0] += 20.0  # the first epoch: compile
    r.epoch({"epoch": 1}, 1.0)
    assert r.eta({"epoch": 1}) == 20.0 * 9999
    for e in range(2, 5001):
        now[0] += 1.0 if e < 4996 else 2.0
        r.epoch({"epoch": e}, 1.0)
    assert r.eta({"epoch": 5000}) == 2.0 * 5000
    assert sum(len(v) for v in vars(r).values() if isinstance(v, (list, tuple))) < 10
    assert len(r._recent) == 5


def test_rich_reporter_says_what_a_row_means():
    """Issue 18 item 5: the live view names `loss` (batch mean) apart from the epoch-end
    values, once, before the first epoch."""
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=200, record=True)
    r = RichReporter(console)
    r.start(RunInfo("m", 2, 0, 100, 4))
    r.epoch({**ROW, "epoch": 1}, 1e6)
    r.end()
    text = console.export_text()
    legend = text.index("loss: the mean over the epoch's batches")
    assert "train_loss, metrics and val_*: at the epoch's end" in text
    assert legend < text.index("epoch 1/2")


def test_rich_bar_moves_within_an_epoch():
    """Issue 18 item 6: the batch bar follows the batches of the current epoch, and the loop
    hands control back often enough for it to move (the bar's refresh interval, not the
    loop's 0.5 s chunks)."""
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    r = RichReporter(console)
    r.start(RunInfo("m", 3, 0, 1000, 100))
    seen = []
    for done in (10, 35, 60, 100):  # chunks in quick succession: not all are "due"
        r.chunk(1, done, 1e4)
        seen.append(r.progress.tasks[0].completed)
    assert seen == [10, 35, 60, 100]
    r.epoch({**ROW, "epoch": 1}, 1e4)
    r.end()
    assert RichReporter.chunk_s is not None and RichReporter.chunk_s <= 0.1
    assert Reporter.chunk_s is None  # plain, JSON and quiet runs keep the loop's pace


def test_trainer_sizes_chunks_for_a_live_bar(tmp_path):
    from nnspec.pipeline import compile_spec, dataset_of
    from nnspec.run.session import load
    from nnspec.train.loop import Trainer
    from nnspec.train.schedules import make_schedule

    spec = load(Path(__file__).resolve().parents[2] / "specs" / "linear.nn", {}).spec
    data = dataset_of(spec)
    exe = compile_spec(spec, "reference")
    sched = make_schedule(exe.plan)
    live = Trainer(exe.plan, data, exe, sched, reporter=RichReporter(), chunk_target_s=0.5)
    assert live.sizer.target_s == pytest.approx(RichReporter.chunk_s)
    quiet = Trainer(exe.plan, data, exe, sched, reporter=Reporter(), chunk_target_s=0.5)
    assert quiet.sizer.target_s == 0.5
