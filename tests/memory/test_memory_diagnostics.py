"""E311 / W107 (the run's memory against the machine's), --max-memory and NNSPEC_MAX_MEMORY,
`summary`'s estimate, and counts beyond 2^31 - 1 (E302 at the literal)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnspec.cli import main
from nnspec.memory import limit as lim
from nnspec.memory import memory_diagnostics
from nnspec.pipeline import diagnose

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "check" / "golden"

WIDE = """model wide {
    input 5000
    dense 1000000 relu
    dense 1
}
data {
    source linear(features=5000, samples=1000)
}
train {
    loss mse
    optimizer adam lr=0.001
}
"""

# ~300 MB: 1,000,000 samples x 10 features, read, split and scaled
MID = """model mid {
    input 10
    dense 4 relu
    dense 1
}
data {
    source linear(features=10, samples=1000000)
}
train {
    loss mse
    epochs 1
    batch 1024
}
"""


@pytest.fixture(autouse=True)
def _no_override():
    yield
    lim.set_override(None)


def codes(diags) -> list[str]:
    return [d.code for d in diags]


def test_e311_names_the_layer_with_the_estimate() -> None:
    spec, diags = diagnose(WIDE, "wide.nn")  # NNSPEC_MAX_MEMORY=16GB (tests/conftest.py)
    assert spec is None and codes(diags) == ["E311"]
    d = diags[0]
    assert d.span is not None and (d.span.line, d.span.col) == (3, 5)
    # 5,000 x 1,000,000 weights: parameters, gradients, adam's 3 moments, the checkpoint
    # copy (parameters and moments: 4) and weights.npz's two copies: 11 x 4 bytes each
    assert d.message == ("dense 1000000 relu: 5 billion parameters, about 220 GB with gradients "
                         "and adam's state and the copies a run saves; NNSPEC_MAX_MEMORY "
                         "allows 16 GB")
    assert any("the run needs about" in n for n in d.notes)


def test_w107_over_half() -> None:
    spec, _ = diagnose(MID, "mid.nn")
    assert spec is not None
    assert memory_diagnostics(spec, limit=lim.Limit(10**12, "physical memory")) == []
    found = memory_diagnostics(spec, limit=lim.Limit(500 * 10**6, "physical memory"))
    assert codes(found) == ["W107"]
    w = found[0]
    assert w.span is not None and w.span.line == 7  # the source statement
    assert "1 million samples x 10 features" in w.message
    assert "more than half of the 500 MB this machine allows" in w.message
    over = memory_diagnostics(spec, limit=lim.Limit(10**8, "cgroup"))
    assert codes(over) == ["E311"] and over[0].message.endswith("this machine allows 100 MB")


def test_blames_batch_and_epochs() -> None:
    lim.set_override(10**9)  # as --max-memory 1GB does
    batch = MID.replace("samples=1000000", "samples=100000").replace(
        "dense 4 relu", "dense 2000 relu").replace("batch 1024", "batch 100000")
    _, found = diagnose(batch, "b.nn")
    assert codes(found) == ["E311"] and found[0].message.startswith("batch 100,000: ")
    assert found[0].message.endswith("--max-memory allows 1 GB")
    assert found[0].span.line == 12  # type: ignore[union-attr]
    epochs = MID.replace("samples=1000000", "samples=100").replace("epochs 1", "epochs 100000000")
    _, found = diagnose(epochs, "e.nn")
    found = [d for d in found if d.code != "W105"]  # batch 1024 > 100 samples: a warning
    assert codes(found) == ["E311"] and found[0].message.startswith("epochs 100,000,000: ")
    assert found[0].span.line == 11  # type: ignore[union-attr]


def test_cli_flag_and_env(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "mid.nn"
    spec.write_text(MID)
    assert main(["check", str(spec), "--max-memory", "50MB"]) == 1
    assert "error[E311]" in capsys.readouterr().err
    assert main(["check", str(spec), "--max-memory", "500MB"]) == 0
    assert "warning[W107]" in capsys.readouterr().err
    assert main(["check", str(spec), "--max-memory", "1T"]) == 0
    assert "[W107]" not in capsys.readouterr().err
    monkeypatch.setenv(lim.ENV, "50MB")
    assert main(["check", str(spec)]) == 1
    assert "NNSPEC_MAX_MEMORY allows 50 MB" in capsys.readouterr().err
    assert main(["check", str(spec), "--max-memory", "1T"]) == 0  # the flag wins
    capsys.readouterr()
    monkeypatch.setenv(lim.ENV, "lots")
    assert main(["check", str(spec)]) == 2
    assert "NNSPEC_MAX_MEMORY: not a size" in capsys.readouterr().err
    assert main(["check", str(spec), "--max-memory", "lots"]) == 2
    assert main(["summary", str(spec), "--max-memory", "nope"]) == 2


def test_summary_shows_the_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "mid.nn"
    spec.write_text(MID)
    assert main(["summary", str(spec), "--max-memory", "1T"]) == 0
    out = capsys.readouterr().out
    assert "memory (estimated peak, cpu engine): about" in out
    assert "--max-memory allows 1 TB" in out
    for item in ("parameters", "gradients", "activations", "data splits", "scaling copies"):
        assert item in out
    assert main(["summary", str(spec), "--max-memory", "50MB"]) == 1  # E311, then the table
    captured = capsys.readouterr()
    assert "error[E311]" in captured.err
    assert "memory (estimated peak, cpu engine): about 300 MB" in captured.out
    assert "--max-memory allows 50 MB" in captured.out


def test_run_is_refused_before_anything_runs(tmp_path: Path) -> None:
    spec = tmp_path / "mid.nn"
    spec.write_text(MID)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-m", "nnspec.cli", "run", str(spec), "--out",
                          str(tmp_path / "r"), "--max-memory", "50MB", "-q"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1 and "error[E311]" in out.stderr
    assert not (tmp_path / "r").exists()
    assert "numba" not in out.stderr


# ---- counts beyond 2^31 - 1 ----------------------------------------------------------------

BASE = """model m {
    input 2
    dense 4 relu
    dense 1
}
data {
    source moons(samples=100)
}
train {
    loss mse
    epochs 5
    batch 8
    early_stop(monitor=loss, patience=3)
}
output { checkpoint every=2 }
"""


@pytest.mark.parametrize(("old", "new", "key"), [
    ("dense 4 relu", "dense 2147483648 relu", "units"),
    ("dense 4 relu", "dense 99999999999999999999 relu", "units"),
    ("samples=100", "samples=2147483648", "samples"),
    ("epochs 5", "epochs 100000000000000000000", "epochs"),
    ("batch 8", "batch 2147483648", "batch"),
    ("input 2", "input 2147483648", "input"),
    ("patience=3", "patience=2147483648", "patience"),
    ("every=2", "every=2147483648", "checkpoint_every"),
])
def test_counts_beyond_2_31_are_e302_at_the_literal(old: str, new: str, key: str) -> None:
    text = BASE.replace(old, new)
    spec, diags = diagnose(text, "m.nn")
    assert spec is None
    big = [d for d in diags if d.code == "E302"]
    assert len(big) == 1, diags
    literal = new.split()[-2] if new.endswith("relu") else new.split("=")[-1].split()[-1]
    start = text.index(literal)
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    assert (big[0].span.line, big[0].span.col) == (line, col)  # type: ignore[union-attr]
    assert "2,147,483,647 (2^31 - 1)" in big[0].message
    assert "E502" not in {d.code for d in diags}


def test_largest_count_and_big_seeds_are_fine() -> None:
    spec, diags = diagnose(BASE.replace("epochs 5", "epochs 2147483647\n    seed 9999999999999"),
                           "m.nn")
    assert "E302" not in codes(diags)


def test_epochs_override_beyond_2_31_is_e302(tmp_path: Path) -> None:
    spec = tmp_path / "m.nn"
    spec.write_text(BASE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-m", "nnspec.cli", "run", str(spec), "--out",
                          str(tmp_path / "r"), "--epochs", "100000000000000000000", "-q"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1 and "error[E302]" in out.stderr, out.stderr
    assert "OverflowError" not in out.stderr and "E502" not in out.stderr


@pytest.mark.slow
def test_two_billion_epochs_start_at_once_without_a_big_allocation(tmp_path: Path) -> None:
    """Nothing is allocated in proportion to `epochs` up front: with the history's estimate
    allowed (--max-memory), a tiny model with 2e9 epochs trains its first epochs at once and
    stays small; SIGTERM then ends it with a checkpoint."""
    spec = tmp_path / "m.nn"
    spec.write_text(BASE.replace("epochs 5", "epochs 2000000000").replace(
        "    early_stop(monitor=loss, patience=3)\n", ""))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    check = subprocess.run([sys.executable, "-m", "nnspec.cli", "check", str(spec)],
                           capture_output=True, text=True, env=env, timeout=120)
    assert check.returncode == 1 and "error[E311]" in check.stderr  # the history, at the end
    proc = subprocess.Popen([sys.executable, "-m", "nnspec.cli", "run", str(spec), "--out",
                             str(tmp_path / "r"), "--json", "--max-memory", "100T"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        t0 = time.monotonic()
        lines = [json.loads(proc.stdout.readline()) for _ in range(20)]
        took = time.monotonic() - t0
        assert [row["epoch"] for row in lines] == list(range(1, 21))
        with open(f"/proc/{proc.pid}/status") as f:
            hwm_kib = int(next(ln.split()[1] for ln in f if ln.startswith("VmHWM:")))
        assert hwm_kib < 600 * 1024, hwm_kib  # the interpreter, NumPy and Numba: ~250 MB
        assert took < 120
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_eval_of_a_trained_run_is_not_held_to_the_training_estimate(tmp_path: Path) -> None:
    """A run trained with --max-memory is evaluated without it: eval trains nothing."""
    spec = tmp_path / "m.nn"
    spec.write_text(BASE.replace("epochs 5", "epochs 1"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", lim.ENV: "1kB"}
    cli = [sys.executable, "-m", "nnspec.cli"]
    check = subprocess.run([*cli, "check", str(spec)], capture_output=True, text=True,
                           env=env, timeout=120)
    assert check.returncode == 1 and "error[E311]" in check.stderr
    run = subprocess.run([*cli, "run", str(spec), "--out", str(tmp_path / "r"), "-q",
                          "--max-memory", "1GB"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    ev = subprocess.run([*cli, "eval", str(tmp_path / "r")], capture_output=True, text=True,
                        env=env, timeout=300)
    assert ev.returncode == 0, ev.stderr
    assert "E311" not in ev.stderr
