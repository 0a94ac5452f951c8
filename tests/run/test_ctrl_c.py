"""Ctrl-C before training is obeyed at once (train/interrupt.py): a real `nnspec run` on an
empty Numba cache, signalled while its kernels compile, ends within about a second with the
status a shell shows as 130 (a KeyboardInterrupt inside Numba's compiler used to be
swallowed: the run went on for 15-22 s). The folder it leaves is resumed."""

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

from nnspec.backends.cpu import precompile
from nnspec.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_a_signal_while_compiling_on_a_cold_cache_ends_the_run_at_once(tmp_path, sig):
    spec = write_spec(tmp_path, epochs=3)
    out = tmp_path / "r"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "nnspec.cli", "run", str(spec), "--out",
                             str(out), "-q"], stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the data is read: compiling comes next
            try:
                if "data" in json.loads((out / "manifest.json").read_text()):
                    break
            except (OSError, ValueError):
                pass
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.02)
        time.sleep(1.0)  # inside the compiler: a cold compile takes tens of seconds
        assert proc.poll() is None, "the run ended before it was signalled"
        assert not (out / "history.csv").exists()
        if precompile._cores() >= 2:  # a second core: the compile helper runs meanwhile
            deadline = time.monotonic() + 5
            while not _helpers(str(tmp_path / "cache")) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _helpers(str(tmp_path / "cache"))
        sent = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=30)
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"{signal.Signals(sig).name} while compiling: the process ended {waited:.3f} s later")
    assert proc.returncode == -sig  # ended by the signal itself: a shell shows 128 + 2 = 130
    assert waited < 1.5
    # the compile helper (backends/cpu/precompile.py), which the signal's default action
    # left running, ends by itself when it sees its parent gone
    cache = str(tmp_path / "cache")
    deadline = time.monotonic() + 5
    while _helpers(cache) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _helpers(cache)
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    assert main(["run", "--resume", str(out), "-q"]) == 0  # from epoch 0
    assert json.loads((out / "manifest.json").read_text())["status"] == "completed"


def _helpers(cache: str) -> list[int]:
    """Live compile helpers working on the Numba cache folder `cache`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            env = (entry / "environ").read_bytes()
            state = (entry / "status").read_text()
        except OSError:
            continue
        if b"nnspec.backends.cpu.precompile" in cmd and cache.encode() in env \
                and "\nState:\tZ" not in state:
            found.append(int(entry.name))
    return found
