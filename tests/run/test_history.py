"""The history log (rows appended, never rewritten), resume from it, and the per-epoch work of
a run: bytes written and calls made by epoch ~1000 are those of epoch ~10."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from runspecs import write_spec

from nnspec.cli import main
from nnspec.run import history
from nnspec.run.rundir import RunDir
from nnspec.run.session import RunOptions, resume_run, run_spec
from nnspec.train.interrupt import StopFlag
from nnspec.train.progress import Reporter

ROWS = [{"epoch": i, "loss": 1.0 / i, "lr": 0.1, "val_loss": float("nan") if i == 2 else 0.5,
         "time": 0.001 * i} for i in range(1, 6)]


def read(folder: Path, name: str):
    return json.loads((folder / name).read_text())


def test_log_appends_and_reads_back_exactly(tmp_path):
    log = history.HistoryLog(tmp_path / "h.csv")
    for row in ROWS:
        log.append(row)
    log.close()
    text = (tmp_path / "h.csv").read_text()
    assert text == history.to_csv(ROWS)  # the same file as one written whole
    back = history.read(tmp_path / "h.csv", upto_epoch=10)
    assert len(back) == 5 and np.isnan(back[1]["val_loss"])
    assert [r for i, r in enumerate(back) if i != 1] == [r for i, r in enumerate(ROWS) if i != 1]



def test_rows_reach_the_file_at_most_every_flush_interval_and_all_at_sync(tmp_path,
                                                                          monkeypatch):
    """Appended rows are flushed at most every FLUSH_S (a write per row cost ~1.7 us of a tiny
    model's epoch), the first at once; sync() (before every checkpoint) writes them all."""
    now = [50.0]
    monkeypatch.setattr(history.time, "monotonic", lambda: now[0])
    log = history.HistoryLog(tmp_path / "h.csv")
    path = tmp_path / "h.csv"
    log.append(ROWS[0])  # the header and the first row: written at once
    log.append(ROWS[1])
    log.append(ROWS[2])
    assert [r["epoch"] for r in history.read(path, 10)] == [1]
    now[0] += history.FLUSH_S
    log.append(ROWS[3])  # the interval has passed: everything so far
    assert [r["epoch"] for r in history.read(path, 10)] == [1, 2, 3, 4]
    log.append(ROWS[4])
    assert len(history.read(path, 10)) == 4
    log.sync()
    assert [r["epoch"] for r in history.read(path, 10)] == [1, 2, 3, 4, 5]
    log.close()
    assert path.read_text() == history.to_csv(ROWS)

def test_read_drops_later_epochs_and_a_torn_line(tmp_path):
    path = tmp_path / "h.csv"
    text = history.to_csv(ROWS)
    path.write_text(text)
    assert [r["epoch"] for r in history.read(path, 3)] == [1, 2, 3]
    path.write_text(text + "6,0.1,0.1,0.")  # killed in the middle of appending epoch 6
    assert [r["epoch"] for r in history.read(path, 99)] == [1, 2, 3, 4, 5]
    path.write_text(text[:-7])  # torn inside the last row: that row is dropped
    assert [r["epoch"] for r in history.read(path, 99)] == [1, 2, 3, 4]
    assert history.read(tmp_path / "missing.csv", 5) == []


def test_a_row_with_new_columns_rewrites_the_log(tmp_path):
    log = history.HistoryLog(tmp_path / "h.csv", ROWS[:2])
    log.append({**ROWS[2], "extra": 1.5})
    log.close()
    back = history.read(tmp_path / "h.csv", 9)
    assert [r["epoch"] for r in back] == [1, 2, 3] and back[2]["extra"] == 1.5
    assert "extra" not in back[0]


def test_clean_temporary_removes_leftovers(tmp_path):
    spec = write_spec(tmp_path, epochs=2)
    run = tmp_path / "r"
    assert main(["run", str(spec), "--out", str(run), "-q"]) == 0
    leftovers = [run / ".tmp-history.json-x1", run / "checkpoint" / ".tmp-state.json-x2",
                 run / "checkpoint" / "state-e00001-b000000.npz"]
    for path in leftovers:
        path.write_bytes(b"partial")
    assert main(["run", "--resume", str(run), "--epochs", "3", "-q"]) == 0
    assert not any(p.exists() for p in leftovers)
    assert len(list((run / "checkpoint").glob("state-*.npz"))) == 1


class StopAt(Reporter):
    def __init__(self, flag: StopFlag, epoch: int):
        self.flag, self.at = flag, epoch

    def epoch(self, row, samples_per_s):
        if row["epoch"] == self.at:
            self.flag.set("test")


@pytest.mark.parametrize("artifacts", ["weights, history, checkpoint", "weights, checkpoint",
                                       "weights"])
def test_resume_rebuilds_the_history_from_the_log(tmp_path, artifacts):
    extra = f"}}\noutput {{ checkpoint every=2\n artifacts {artifacts}"
    if "checkpoint" not in artifacts:
        extra = f"}}\noutput {{ artifacts {artifacts}"
    spec = write_spec(tmp_path, epochs=6, extra=extra)
    flag = StopFlag()
    run = tmp_path / "r"
    cut = run_spec(spec, RunOptions(out=str(run)), sources={}, reporter=StopAt(flag, 3),
                   stop=flag)
    assert cut.exit_code == 130
    state = read(run / "checkpoint", "state.json")["state"]
    assert "history" not in state and state["epoch"] == 3
    log = run / ("history.csv" if "history" in artifacts else "checkpoint/history.csv")
    assert [r["epoch"] for r in history.read(log, 99)] == [1, 2, 3]
    # a kill after epoch 4's row was appended, before its checkpoint: that row is dropped
    log.write_text(log.read_text() + log.read_text().splitlines()[-1].replace("3,", "4,", 1)
                   + "\n5,0.")
    done = resume_run(run, RunOptions(), sources={})
    assert done.exit_code == 0 and not done.warnings
    assert [r["epoch"] for r in done.result.history] == [1, 2, 3, 4, 5, 6]
    assert main(["run", str(spec), "--out", str(tmp_path / "s"), "-q"]) == 0
    straight = RunDir.open(tmp_path / "s")
    if "history" in artifacts:
        assert [r["epoch"] for r in read(run, "history.json")] == [1, 2, 3, 4, 5, 6]
        rows = history.read(run / "history.csv", 99)
        same = history.read(straight.path / "history.csv", 99)
        assert [{k: v for k, v in r.items() if k != "time"} for r in rows] == \
               [{k: v for k, v in r.items() if k != "time"} for r in same]
    else:
        assert not (run / "history.csv").exists() and not (run / "history.json").exists()
    # the rows are kept for a resume only while there is a checkpoint to resume from
    assert (run / "checkpoint" / "history.csv").exists() == ("history" not in artifacts
                                                              and "checkpoint" in artifacts)


def test_resume_of_a_checkpoint_that_carries_its_history(tmp_path):
    """Run folders written before the history log: state.json holds the rows."""
    from nnspec.run import checkpoint

    spec = write_spec(tmp_path, epochs=3)
    run = tmp_path / "r"
    assert main(["run", str(spec), "--out", str(run), "-q"]) == 0
    state = checkpoint.load(run / "checkpoint")
    rows = read(run, "history.json")
    state["history"] = rows
    checkpoint.save(run / "checkpoint", state, "old")
    (run / "history.csv").write_text("epoch\n")  # whatever the log says, the state wins
    done = resume_run(run, RunOptions(epochs=4), sources={})
    assert done.exit_code == 0 and not done.warnings
    assert [r["epoch"] for r in read(run, "history.json")] == [1, 2, 3, 4]
    assert "history" not in read(run / "checkpoint", "state.json")["state"]


def test_a_lost_log_is_a_warning_not_a_failure(tmp_path):
    spec = write_spec(tmp_path, epochs=3)
    run = tmp_path / "r"
    assert main(["run", str(spec), "--out", str(run), "-q"]) == 0
    (run / "history.csv").unlink()
    done = resume_run(run, RunOptions(epochs=4), sources={})
    assert done.exit_code == 0
    assert [d.code for d in done.warnings] == ["W105"]
    assert "0 row(s) for the checkpoint's 3 epoch(s)" in done.warnings[0].message


# -- per-epoch work ----------------------------------------------------------------------------


def _written() -> int:
    with open("/proc/self/io") as f:  # every byte this process wrote, whatever wrote it
        return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))


class Counter(Reporter):
    """Bytes written and Python calls made between the ends of consecutive epochs."""

    def __init__(self):
        self.calls = 0
        self.marks: list[tuple[int, int]] = []

    def count(self, frame, event, arg):
        if event in ("call", "c_call"):
            self.calls += 1

    def epoch(self, row, samples_per_s):
        self.marks.append((_written(), self.calls))

    def per_epoch(self, first: int, last: int) -> tuple[list[int], list[int]]:
        m = self.marks
        return ([m[i][0] - m[i - 1][0] for i in range(first, last)],
                [m[i][1] - m[i - 1][1] for i in range(first, last)])


def _count(tmp_path: Path, epochs: int, monkeypatch) -> Counter:
    # history.json is rewritten whole at a checkpoint at most once per 30 s (its own test
    # below); a slow machine could take that long, so it is held off here
    monkeypatch.setattr(RunDir, "_json_due", lambda self: False)
    spec = write_spec(tmp_path, name=f"s{epochs}.nn", epochs=epochs,
                      extra="}\noutput { checkpoint every=1")
    counter = Counter()
    sys.setprofile(counter.count)
    try:
        outcome = run_spec(spec, RunOptions(out=str(tmp_path / f"r{epochs}")), sources={},
                           reporter=counter)
    finally:
        sys.setprofile(None)
    assert outcome.exit_code == 0 and len(counter.marks) == epochs
    return counter


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_per_epoch_work_does_not_grow_with_the_epoch_count(tmp_path, monkeypatch):
    short = _count(tmp_path, 10, monkeypatch)
    long = _count(tmp_path, 1000, monkeypatch)
    b10, c10 = short.per_epoch(3, 10)  # a checkpoint and an epoch each
    b1000, c1000 = long.per_epoch(980, 1000)
    assert min(b10) > 1000  # the checkpoint is in what is counted
    # the same work: a few more digits in an epoch number, the RNG state's own size
    assert max(b1000) <= max(b10) * 1.05 + 64, (b10, b1000)
    assert max(c1000) <= max(c10) * 1.05 + 20, (c10, c1000)


def test_history_json_refresh_is_bounded(tmp_path, monkeypatch):
    """At checkpoints, history.json is rewritten at most once per 30 s, and never so often
    that writing it takes more than 2% of the time."""
    import nnspec.run.rundir as rundir

    now = [100.0]
    monkeypatch.setattr(rundir.time, "monotonic", lambda: now[0])
    rd = RunDir(tmp_path, ("history", "checkpoint"))
    rd.start_history()
    state = {"epoch": 1, "batch": 0, "x": np.zeros(3)}
    rd.append_history(ROWS[0])
    rd.save_checkpoint(state)
    assert not (tmp_path / "history.json").exists()  # not yet 30 s
    now[0] += 30.0
    rd.save_checkpoint(state)
    assert len(read(tmp_path, "history.json")) == 1
    rd.append_history(ROWS[1])
    now[0] += 29.0
    rd.save_checkpoint(state)
    assert len(read(tmp_path, "history.json")) == 1
    rd._json_cost = 1.0  # a long history: 1 s to write, so 49 s between rewrites
    now[0] += 10.0  # 39 s since the last rewrite
    rd.save_checkpoint(state)
    assert len(read(tmp_path, "history.json")) == 1
    now[0] += 10.0
    rd.save_checkpoint(state)
    assert len(read(tmp_path, "history.json")) == 2


@pytest.mark.parametrize("rows", [
    [], ROWS, [{"epoch": 1, "loss": np.float32(0.25), "acc": np.float64(np.inf), "n": np.int64(3),
                "name": 'a"b\u00e9'}], [{"epoch": 1, "nested": [1.0, float("nan")]}], [{}],
    [{"epoch": 1, "a{b": "}"}, {"epoch": 2, "a{b": "x"}], ROWS[:1],
])
def test_history_json_text_is_the_general_encoders(rows):
    from nnspec.run.atomic import dumps

    assert history.to_json(rows) == dumps(list(rows), indent=2) + "\n"


def test_the_sweep_table_leaves_out_a_row_still_being_written(tmp_path):
    """A sweep reads a live run's log: a last line without its newline (a write under way)
    is not read as a row with a cut number."""
    from nnspec.sweep.table import history_of

    text = history.to_csv(ROWS[:3])
    (tmp_path / "history.csv").write_text(text + "4,0.2")  # row 4's write under way
    rows = history_of(tmp_path)
    assert [r["epoch"] for r in rows] == [1.0, 2.0, 3.0]
    assert rows[2]["loss"] == ROWS[2]["loss"]
