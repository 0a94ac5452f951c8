"""`nnspec predict` / `nnspec eval` never print NaN or infinity with exit 0 (issue 21): a row
whose output overflows, a diverged run's weights, a loss that overflows, a header that names a
column twice and an input that is not a regular file are each a diagnostic, exit 1. numpy's
warnings are errors here: none may reach the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnspec.cli import main

pytestmark = pytest.mark.filterwarnings("error")
ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
model lin {
    input 2
    dense 8 relu
    dense 1
}
data {
    source csv("d.csv", target=y)
}
train {
    loss mse
    optimizer sgd(lr=0.01)
    epochs 2
    metrics mae
    seed 1
}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("refusals")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(60, 2))
    y = x @ [1.0, -2.0] + 0.5
    lines = ["a,b,y"] + [f"{a:.5f},{b:.5f},{t:.5f}" for (a, b), t in zip(x, y, strict=True)]
    (root / "d.csv").write_text("\n".join(lines) + "\n")
    (root / "lin.nn").write_text(SPEC)
    assert main(["run", str(root / "lin.nn"), "--out", str(root / "r"), "-q"]) == 0
    return root / "r"


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _no_nan(out: str) -> None:
    assert "nan" not in out.lower() and "inf" not in out.lower(), out


def test_a_row_whose_output_overflows_is_named(run, tmp_path, capsys):
    inp = tmp_path / "in.csv"
    inp.write_text("a,b\n0.5,0.5\n\n3e38,3e38\n")
    rc, out, err = _cli(["predict", str(run), str(inp)], capsys)
    assert rc == 1 and out == ""
    assert f"error[E416]: {inp}:4: the model's output for this sample is not finite" in err
    inp.write_text("a,b,y\n0.5,0.5,1\n3e38,3e38,1\n")
    rc, out, err = _cli(["eval", str(run), str(inp)], capsys)
    assert rc == 1 and "error[E416]" in err
    _no_nan(out)


def test_a_diverged_run_is_refused(run, tmp_path, capsys):
    import shutil

    broken = run.parent / "broken"  # beside the run: spec.nn's data path stays valid
    shutil.copytree(run, broken)
    with np.load(broken / "weights.npz") as z:
        arrays = {k: np.full_like(z[k], np.nan) for k in z.files}
    np.savez(broken / "weights.npz", **arrays)
    inp = tmp_path / "in.csv"
    inp.write_text("a,b,y\n0.5,0.5,1\n")
    for argv in (["predict", str(broken), str(inp)], ["eval", str(broken), str(inp)],
                 ["eval", str(broken)]):
        rc, out, err = _cli(argv, capsys)
        assert rc == 1, argv
        assert "error[E416]: the run's weights are not finite" in err and "diverged" in err
        _no_nan(out)


def test_a_loss_or_metric_that_is_not_finite_is_refused(run, monkeypatch):
    # (float32 targets squared in float64 cannot overflow: this guards the arithmetic of a
    # loss or metric that could, e.g. a future one.)
    from nnspec.diagnostics import DiagnosticError
    from nnspec.run.predict import evaluate
    from nnspec.run.restore import restore

    restored = restore(run, {})
    x, y = np.array([[0.5, 0.5]], np.float32), np.array([[1.0]], np.float32)
    assert np.isfinite(list(evaluate(restored, x, y, "d.csv").values())).all()
    monkeypatch.setattr(restored.exe, "evaluate", lambda x, y: float("inf"))
    with pytest.raises(DiagnosticError) as info:
        evaluate(restored, x, y, "d.csv")
    [d] = info.value.diagnostics
    assert d.code == "E416" and d.message.startswith("d.csv: the loss is inf")


def test_duplicate_header_is_refused_by_predict_and_eval(run, tmp_path, capsys):
    inp = tmp_path / "dup.csv"
    inp.write_text("b,a,b,y\n0.1,0.2,0.3,1\n")
    for command in ("predict", "eval"):
        rc, out, err = _cli([command, str(run), str(inp)], capsys)
        assert rc == 1 and out == ""
        assert f"error[E414]: {inp}:1:3: column 3 is named `b`, like column 1" in err


def test_a_healthy_prediction_still_works(run, tmp_path, capsys):
    inp = tmp_path / "ok.csv"
    inp.write_text("a,b\n0.5,0.5\n")
    rc, out, err = _cli(["predict", str(run), str(inp)], capsys)
    assert rc == 0 and out.splitlines()[0] == "y" and np.isfinite(float(out.splitlines()[1]))


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_fifo_input_is_refused_without_blocking(run, tmp_path, command):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    out = subprocess.run([sys.executable, "-m", "nnspec.cli", command, str(run), str(fifo)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1, out.stderr
    assert f"error[E413]: `{fifo}` is a named pipe (FIFO), not a regular file" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_spec_that_is_a_named_pipe_is_refused_at_once(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "model.nn"
    os.mkfifo(fifo)
    for command in ("check", "run"):
        done = subprocess.run([sys.executable, "-m", "nnspec.cli", command, str(fifo)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and "named pipe (FIFO), not a spec file" in done.stderr
