"""kill -9 at any moment leaves no dead end (docs/runs.md): the run is killed at named stages
(NNSPEC_TEST_KILL_AT, run/killpoints.py) and at seeded random moments, then `--resume`d (or,
when it died before its manifest existed, run again); the finished run is bit-identical to
an uninterrupted one: weights, metrics, checkpoint arrays, history without its time column.

The runs are forked children of this (warm) process, so each takes a fraction of a second."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from runfork import needs_fork, run, start, wait
from runspecs import write_spec

from nnspec.cli import main

pytestmark = needs_fork
KILLED = -signal.SIGKILL
EXTRA = ("early_stop(monitor=val_loss, patience=20, restore_best=true)\n}\n"
         "output { checkpoint every=2")


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    return write_spec(tmp_path_factory.mktemp("kills"), epochs=5,
                      schedule="warmup(epochs=2) then cosine()", extra=EXTRA)


@pytest.fixture(scope="module")
def reference(spec) -> tuple[Path, float]:
    return _reference(spec)


@pytest.fixture(scope="module")
def long_spec(tmp_path_factory) -> Path:
    """Random kills: enough epochs that training, not writing curves, fills most of the run."""
    return write_spec(tmp_path_factory.mktemp("kills"), epochs=60,
                      schedule="warmup(epochs=2) then cosine()",
                      extra=EXTRA.replace("every=2", "every=7"))


@pytest.fixture(scope="module")
def long_reference(long_spec) -> tuple[Path, float]:
    return _reference(long_spec)


def _reference(spec: Path) -> tuple[Path, float]:
    """An uninterrupted run (forked, as the killed ones) and how long it took."""
    out = spec.parent / "reference"
    assert main(["run", str(spec), "--out", str(out), "-q"]) == 0  # warms this process
    out2 = spec.parent / "reference-forked"
    t0 = time.monotonic()
    assert run(["run", spec, "--out", out2, "-q"]) == 0
    took = time.monotonic() - t0
    assert_same(out, out2)
    return out, took


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _rows(folder: Path) -> list[dict]:
    rows = json.loads((folder / "history.json").read_text())
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def assert_same(a: Path, b: Path) -> None:
    assert json.loads((b / "manifest.json").read_text())["status"] == "completed"
    wa, wb = _arrays(a / "weights.npz"), _arrays(b / "weights.npz")
    assert sorted(wa) == sorted(wb) and all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert json.loads((a / "metrics.json").read_text()) == \
        json.loads((b / "metrics.json").read_text())
    assert _rows(a) == _rows(b)
    ca = sorted((a / "checkpoint").glob("state-*.npz"))
    cb = sorted((b / "checkpoint").glob("state-*.npz"))
    assert [p.name for p in ca] == [p.name for p in cb] and len(ca) == 1
    xa, xb = _arrays(ca[0]), _arrays(cb[0])
    assert sorted(xa) == sorted(xb) and all(np.array_equal(xa[k], xb[k]) for k in xa)
    assert (b / "curves.png").is_file() and (b / "history.csv").is_file()
    assert not [p.name for p in b.rglob(".*")]  # no lock file, no temporary file left


def recover(spec: Path, out: Path) -> None:
    """What a user does after a kill: --resume; a rerun when nothing was started yet."""
    if (out / "manifest.json").exists():
        status = json.loads((out / "manifest.json").read_text())["status"]
        code = main(["run", "--resume", str(out), "-q"])
        assert code == (1 if status == "completed" else 0), status
    else:  # killed before the manifest existed: there is nothing to resume, nor to lose
        assert main(["run", "--resume", str(out), "-q"]) == 1 or not out.exists()
        assert main(["run", str(spec), "--out", str(out), "-q"]) == 0


STAGES = [
    "write:manifest.json#1",  # the folder holds the lock file and a temporary manifest
    "write:spec.nn", "importing", "write:manifest.json#2", "data", "write:data.json",
    "compiling", "write:history.csv", "training-no-checkpoint", "write:state-*",
    "write:state.json", "training-checkpoint", "write:state.json#3",
    "write:manifest.json#4", "finishing", "write:weights.npz", "write:history.json",
    "write:metrics.json", "write:curves.png", "write:manifest.json#5",
]


@pytest.mark.parametrize("stage", STAGES)
def test_kill_at_a_stage_then_resume(spec, reference, tmp_path, stage):
    out = tmp_path / "r"
    assert run(["run", spec, "--out", out, "-q"], kill_at=stage) == KILLED
    recover(spec, out)
    assert_same(reference[0], out)


def test_after_a_kill_a_rerun_starts_over_unless_training_would_be_lost(spec, reference,
                                                                         tmp_path, capsys):
    out = tmp_path / "r"
    assert run(["run", spec, "--out", out, "-q"], kill_at="compiling") == KILLED
    assert main(["run", str(spec), "--out", str(out), "-q"]) == 0  # nothing trained: no flag
    assert_same(reference[0], out)
    out = tmp_path / "s"
    assert run(["run", spec, "--out", out, "-q"], kill_at="training-checkpoint") == KILLED
    assert main(["run", str(spec), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "error[E503]" in err and "checkpoint at epoch 2 of 5" in err and "--overwrite" in err
    assert main(["run", str(spec), "--out", str(out), "-q", "--overwrite"]) == 0
    assert_same(reference[0], out)


def test_a_killed_resume_resumes(spec, reference, tmp_path):
    out = tmp_path / "r"
    assert run(["run", spec, "--out", out, "-q"], kill_at="training-checkpoint") == KILLED
    assert run(["run", "--resume", out, "-q"], kill_at="finishing") == KILLED
    assert main(["run", "--resume", str(out), "-q"]) == 0
    assert_same(reference[0], out)
    assert len(json.loads((out / "manifest.json").read_text())["resumed"]) == 2


def _status(out: Path) -> str | None:
    """The manifest's status, with the checkpoint's epoch ('-' when there is none)."""
    if not (out / "manifest.json").exists():
        return None
    status = json.loads((out / "manifest.json").read_text())["status"]
    state = out / "checkpoint" / "state.json"
    epoch = json.loads(state.read_text())["state"]["epoch"] if state.exists() else "-"
    return status if status == "completed" else f"{status}, checkpoint {epoch}"


def _random_kills(spec, reference, tmp_path, seed: int) -> None:
    print(f"random kill seed {seed}")  # shown by pytest when the test fails
    rng = random.Random(seed)
    out = tmp_path / f"r{seed}"
    took = reference[1]
    argv = ["run", spec, "--out", out, "-q"]
    for _ in range(2):  # kill the run, then (maybe) the resume
        pid = start(argv)
        delay = rng.uniform(0.0, took * 1.2)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        assert wait(pid) in (KILLED, 0)
        status = _status(out)
        what = "the resume" if argv[1] == "--resume" else "the run"
        print(f"  killed {what} after {delay:.3f} s of {took:.3f}: status {status}")
        if status in (None, "completed"):
            break
        argv = ["run", "--resume", out, "-q"]
    recover(spec, out)
    assert_same(reference[0], out)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_kills_then_resume(long_spec, long_reference, tmp_path, seed):
    _random_kills(long_spec, long_reference, tmp_path, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 124))
def test_more_random_kills_then_resume(long_spec, long_reference, tmp_path, seed):
    _random_kills(long_spec, long_reference, tmp_path, seed)
