"""A real Ctrl-C / SIGTERM / SIGHUP to a training `nnspec run` process: it stops within about a
second, writes its checkpoint and history, exits 130 and says how to resume; the resumed
run continues from the checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runspecs import write_spec

from nnspec.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_with_checkpoint_then_resume(tmp_path, sig):
    spec = write_spec(tmp_path, epochs=100000)  # runs until interrupted
    out = tmp_path / "r"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "nnspec.cli", "run", str(spec), "--out",
                             str(out), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0, env=env, cwd=tmp_path)
    try:
        # unbuffered: readline takes exactly one line, communicate() the rest (a buffered
        # reader would swallow the lines of the epochs that ended before the signal)
        first = json.loads(proc.stdout.readline())  # the first epoch is done
        assert first["epoch"] == 1
        sent = time.monotonic()
        proc.send_signal(sig)
        rest_b, err_b = proc.communicate(timeout=60)
        waited = time.monotonic() - sent
        rest, err = rest_b.decode(), err_b.decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert waited < 5.0
    assert f"resume with: nnspec run --resume {out}" in err and "Traceback" not in err
    rows = [first] + [json.loads(line) for line in rest.splitlines()]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["interrupt_reason"] == signal.Signals(sig).name
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [r["epoch"] for r in rows]
    state = json.loads((out / "checkpoint" / "state.json").read_text())["state"]
    done = state["epoch"]
    assert done == len(history)

    assert main(["run", "--resume", str(out), "--epochs", str(done + 2), "-q"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == list(range(1, done + 3))
    assert json.loads((out / "manifest.json").read_text())["status"] == "completed"
