"""`nnspec sweep` end to end on the local pool: the sweep folder, its rows and pictures, the
same results as plain runs, a rerun that runs nothing, Ctrl-C and a rerun that resumes, and
the Ray executor giving the pool's results (slow: it starts Ray on 127.0.0.1)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweepspecs import write

from nnspec.run.session import RunOptions, load, run_spec
from nnspec.sweep.run import SweepOptions, run_sweep

ROOT = Path(__file__).resolve().parents[2]
SWEEP = "sweep {\n    grid train.optimizer.lr = [0.05, 0.5, 5000]\n    seeds 2\n    parallel 2\n}\n"


def sweep(spec: Path, out: Path, **kw):
    from nnspec.cli.sweep import sweep_of

    loaded = load(spec, {})
    sw = sweep_of(loaded.text, str(spec), loaded.spec, {})
    said: list[str] = []
    outcome = run_sweep(loaded.spec, loaded.text, sw, SweepOptions(out=str(out), **kw),
                        sources={}, say=said.append)
    return outcome, said


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    spec = write(tmp, SWEEP, epochs=6)
    outcome, said = sweep(spec, tmp / "s")
    return spec, outcome, said


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_the_sweep_folder(pooled) -> None:
    _, outcome, said = pooled
    d = outcome.sweep_dir
    assert outcome.exit_code == 0 and outcome.ran == 6 and not outcome.interrupted
    names = sorted(p.name for p in d.iterdir() if p.is_dir())
    assert names[0] == "000-lr=0.05_seed=3" and len(names) == 6
    for name in names:  # every trial is an ordinary run folder (lr=5000: E411, a NaN loss)
        status = json.loads((d / name / "manifest.json").read_text())["status"]
        assert status == ("failed" if "5000" in name else "completed")
    rows = list(csv.DictReader((d / "sweep.csv").open()))
    assert len(rows) == 6 and {r["train.optimizer.lr"] for r in rows} == {"0.05", "0.5", "5000"}
    assert {"status", "epochs", "time_s", "final_val_loss", "best_val_loss", "seed",
            "final_accuracy", "val_accuracy"} <= set(rows[0])
    data = json.loads((d / "sweep.json").read_text())
    assert data["status"] == "completed" and len(data["plan"]) == 6
    # lr=5000 wrecks the network: marked diverged, ranked last, not dropped
    by_lr = {}
    for r in outcome.rows:
        by_lr.setdefault(r["train.optimizer.lr"], set()).add(r["status"])
    assert by_lr["5000"] == {"diverged"} and by_lr["0.5"] == {"completed"}
    assert outcome.rows[-1]["train.optimizer.lr"] == "5000"
    assert outcome.table.splitlines()[0].startswith("trials ranked by the final val_loss")
    assert (d / "summary.txt").read_text().strip() == outcome.table
    assert len([m for m in said if m.startswith("[")]) == 6


def test_the_pictures(pooled) -> None:
    pytest.importorskip("matplotlib")
    d = pooled[1].sweep_dir
    for name in ("curves.png", "final.png"):
        data = (d / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_a_trial_is_the_run_its_settings_make(pooled, tmp_path: Path) -> None:
    spec, outcome, _ = pooled
    trial = outcome.sweep_dir / "002-lr=0.5_seed=3"
    alone = run_spec(spec, RunOptions(out=str(tmp_path / "r"), sets=(
        "train.optimizer.lr=0.5", "train.seed=3")), sources={})
    assert metrics(trial) == metrics(alone.run_dir)  # bit for bit (JSON floats round-trip)


def test_a_rerun_runs_nothing(pooled) -> None:
    spec, first, _ = pooled
    before = {p: p.stat().st_mtime_ns for p in first.sweep_dir.glob("*/metrics.json")}
    again, said = sweep(spec, first.sweep_dir)
    assert again.ran == 0 and "(6 already done)" in said[0]
    assert [r["final_val_loss"] for r in again.rows] == [r["final_val_loss"] for r in first.rows]
    assert before == {p: p.stat().st_mtime_ns for p in first.sweep_dir.glob("*/metrics.json")}


@pytest.mark.slow
def test_ctrl_c_stops_promptly_and_a_rerun_resumes(tmp_path: Path) -> None:
    spec = write(tmp_path, "sweep {\n    grid train.optimizer.lr = [0.05, 0.1]\n"
                 "    parallel 2\n}\n", epochs=4000)
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "nnspec.cli", "sweep", str(spec), "-o", str(out),
           "--no-pictures"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # until both trials train
        logs = list(out.glob("*/history.csv"))
        if len(logs) == 2 and all(len(p.read_text().splitlines()) > 3 for p in logs):
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    stopped = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert stopped < 15, stopped
    assert "continue with: nnspec sweep" in err and "Traceback" not in err
    assert json.loads((out / "sweep.json").read_text())["status"] == "interrupted"
    states = [json.loads(p.read_text())["status"] for p in out.glob("*/manifest.json")]
    assert states == ["interrupted", "interrupted"]
    # the workers are gone with the sweep
    assert not [p for p in Path("/proc").glob("[0-9]*") if _child_of(p, proc.pid)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    for m in out.glob("*/manifest.json"):
        manifest = json.loads(m.read_text())
        assert manifest["status"] == "completed" and manifest["resumed"]
        assert manifest["epochs_run"] == 4000


def _child_of(proc_dir: Path, pid: int) -> bool:
    try:
        return f") S {pid} " in (proc_dir / "stat").read_text() or \
            (proc_dir / "stat").read_text().split(") ")[1].split()[1] == str(pid)
    except (OSError, IndexError):
        return False


def _listening() -> dict[str, str]:
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(name).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A":
                out[f[9]] = f[1].split(":")[0]
    return out


LOOPBACK = {"0100007F", "00000000000000000000000001000000",
            "0000000000000000FFFF00000100007F"}


@pytest.mark.slow
def test_ray_gives_the_pools_results_and_listens_on_loopback_only(pooled, tmp_path) -> None:
    pytest.importorskip("ray")
    import ray

    from nnspec.sweep.run import ray_init

    before = _listening()
    ray_init(None, 2)
    try:
        new = {k: v for k, v in _listening().items() if k not in before}
        assert new and set(new.values()) <= LOOPBACK, new
    finally:
        ray.shutdown()
    spec, pool, _ = pooled
    got, _ = sweep(spec, tmp_path / "r", executor="ray", parallel=2)
    assert got.exit_code == 0 and got.ran == 6
    for row in pool.rows:
        mine, theirs = got.sweep_dir / row["name"], pool.sweep_dir / row["name"]
        if (theirs / "metrics.json").exists():
            assert metrics(mine) == metrics(theirs)
        else:  # a trial that failed (E411): the same history up to the failure
            assert not (mine / "metrics.json").exists()
            assert (mine / "history.csv").read_text().count("\n") == \
                (theirs / "history.csv").read_text().count("\n")
    assert [r["status"] for r in got.rows] == [r["status"] for r in pool.rows]
