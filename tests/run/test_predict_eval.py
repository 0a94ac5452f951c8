"""`nnspec predict` / `nnspec eval` on trained tiny runs, checked against a NumPy forward
pass computed here from weights.npz and data.json (an oracle independent of the backends)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from runspecs import write_csv, write_spec

from nnspec.cli import main

MULTI = """\
model three {
    input 2
    dense 8 relu
    dense 3 log_softmax
}
data {
    source spirals(samples=90, classes=3)
    split validation=0.3
}
train {
    loss categorical_crossentropy
    optimizer adam(lr=0.02)
    epochs 3
    batch 8
    metrics accuracy
}
"""

REGRESSION = """\
model reg {
    input 3
    dense 4 tanh
    dense 1
}
data {
    source linear(samples=80, features=3, slope=2.0)
    normalize
}
train {
    loss mse
    optimizer sgd(lr=0.05)
    epochs 2
    metrics mae
}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    write_csv(root / "d.csv", n=120)
    specs = {"binary": write_spec(root, epochs=3, source='csv("d.csv", target=label)')}
    for name, text in (("multi", MULTI), ("reg", REGRESSION)):
        specs[name] = root / f"{name}.nn"
        specs[name].write_text(text)
    out = {}
    for name, spec in specs.items():
        assert main(["run", str(spec), "--out", str(root / name), "-q"]) == 0
        out[name] = root / name
    return root, out


def forward(run, x_raw: np.ndarray) -> np.ndarray:
    """The network of tests/run specs in NumPy float64: scale, dense layers, activations."""
    scaler = json.loads((run / "data.json").read_text())["scaler"]
    x = np.asarray(x_raw, dtype=np.float64)
    if scaler["kind"] == "standardize":
        x = (x - np.array(scaler["mean"])) / np.array(scaler["std"])
    elif scaler["kind"] == "normalize":
        lo, hi = np.array(scaler["min"]), np.array(scaler["max"])
        x = (x - lo) / (hi - lo)
    spec = (run / "spec.nn").read_text()
    acts = [line.split()[2] if len(line.split()) > 2 and "=" not in line.split()[2] else "linear"
            for line in spec.splitlines() if line.strip().startswith("dense")]
    with np.load(run / "weights.npz") as z:
        dense = sorted({int(k.split(".")[1]) for k in z.files})
        for i, act in zip(dense, acts, strict=True):
            x = x @ z[f"layers.{i}.weight"].astype(np.float64).T + z[f"layers.{i}.bias"]
            if act == "tanh":
                x = np.tanh(x)
            elif act == "relu":
                x = np.maximum(x, 0)
            elif act == "sigmoid":
                x = 1 / (1 + np.exp(-x))
            elif act == "log_softmax":
                x = x - x.max(axis=1, keepdims=True)
                x = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    return x


def read_rows(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def test_predict_binary_csv_labels(runs, capsys, tmp_path):
    root, run = runs
    new = tmp_path / "new.csv"
    x = np.array([[0.3, 0.4], [-1.0, 0.8], [2.0, -0.1], [0.0, 0.0]])
    new.write_text("b,a\n" + "\n".join(f"{b},{a}" for a, b in x) + "\n")  # columns by name
    assert main(["predict", str(run["binary"]), str(new)]) == 0
    header, rows = read_rows(capsys.readouterr().out)
    assert header == ["class", "p_no", "p_yes"]
    p = forward(run["binary"], x)[:, 0]
    got = np.array([[float(r[1]), float(r[2])] for r in rows])
    np.testing.assert_allclose(got[:, 1], p, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-6)
    assert [r[0] for r in rows] == ["yes" if v >= 0.5 else "no" for v in p]


def test_predict_multiclass_to_file(runs, capsys, tmp_path):
    root, run = runs
    x = np.random.default_rng(0).normal(size=(5, 2))
    np.savez(tmp_path / "new.npz", x=x)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run["multi"]), str(tmp_path / "new.npz"), "-o", str(out)]) == 0
    assert "5 predictions written" in capsys.readouterr().err
    header, rows = read_rows(out.read_text())
    assert header == ["class", "p_0", "p_1", "p_2"]
    probs = np.exp(forward(run["multi"], x))
    got = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_allclose(got, probs, rtol=1e-4, atol=1e-6)
    assert [int(r[0]) for r in rows] == list(probs.argmax(axis=1))


def test_predict_regression(runs, capsys, tmp_path):
    root, run = runs
    x = np.random.default_rng(1).uniform(-1, 1, size=(4, 3))
    (tmp_path / "new.csv").write_text("\n".join(",".join(map(str, r)) for r in x) + "\n")
    assert main(["predict", str(run["reg"]), str(tmp_path / "new.csv")]) == 0
    header, rows = read_rows(capsys.readouterr().out)
    assert len(header) == 1 and len(rows) == 4
    np.testing.assert_allclose([float(r[0]) for r in rows], forward(run["reg"], x)[:, 0],
                               rtol=1e-4, atol=1e-5)


def test_eval_splits_match_metrics_json(runs, capsys):
    root, run = runs
    for name in ("binary", "multi"):
        assert main(["eval", str(run[name]), "--json"]) == 0
        got = json.loads(capsys.readouterr().out)
        want = json.loads((run[name] / "metrics.json").read_text())
        assert set(got) == set(want)
        for split in want:
            for k, v in want[split].items():
                assert got[split][k] == pytest.approx(v, rel=1e-9, abs=1e-12)


def test_eval_on_a_file_against_numpy(runs, capsys):
    root, run = runs
    assert main(["eval", str(run["binary"]), str(root / "d.csv"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)[str(root / "d.csv")]
    rows = list(csv.DictReader(open(root / "d.csv")))
    x = np.array([[float(r["a"]), float(r["b"])] for r in rows])
    y = np.array([r["label"] == "yes" for r in rows], dtype=np.float64)
    p = np.clip(forward(run["binary"], x)[:, 0], 1e-12, 1 - 1e-12)
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert got["loss"] == pytest.approx(bce, rel=1e-4)
    assert got["accuracy"] == pytest.approx(np.mean((p >= 0.5) == (y == 1)))


@pytest.mark.parametrize("case, code", [
    ("no_run", "E504"), ("no_weights", "E504"), ("bad_weights", "E410"),
    ("missing_column", "E402"), ("eval_without_target", "E402")])
def test_predict_eval_errors(runs, capsys, tmp_path, case, code):
    root, run = runs
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(run["binary"], target)
    new = tmp_path / "new.csv"
    new.write_text("a,b\n0.1,0.2\n")
    argv = ["predict", str(target), str(new)]
    if case == "no_run":
        argv = ["predict", str(tmp_path), str(new)]
    elif case == "no_weights":
        (target / "weights.npz").unlink()
    elif case == "bad_weights":
        np.savez(target / "weights.npz", **{"layers.0.weight": np.zeros((2, 2))})
    elif case == "missing_column":
        new.write_text("a,c\n0.1,0.2\n")
    elif case == "eval_without_target":
        argv = ["eval", str(target), str(new)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and "Traceback" not in err
