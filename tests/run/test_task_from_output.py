"""Issue 18 item 4: our bugs must not be shown as the user's.

- `dense 1 sigmoid` + `loss mse` + `metrics accuracy` trains a classifier (ir.task_of): the
  accuracy thresholds p at 0.5 (checked against NumPy here); it used to pass check and then
  fail in run with E502 "this is a bug in nnspec";
- a linear output with accuracy is E307 in check, `dense 1 softmax` for regression E306;
- `predict` names every output unit, so an output layer with more units than the data has
  classes never writes a row longer than the header.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from runspecs import write_csv

from nnspec.cli import main
from nnspec.pipeline import diagnose

SIG_MSE = """\
model m {
    input 2
    dense 1 sigmoid
}
data { source csv("d.csv", target=label) }
train {
    loss mse
    optimizer sgd(lr=0.5)
    epochs 3
    batch 16
    metrics accuracy, mae
}
"""

FRUITS = """\
model fruit {
    input 2
    dense 4 softmax
}
data { source csv("fruit.csv", target=fruit) }
train {
    loss categorical_crossentropy
    optimizer adam(lr=0.05)
    epochs 2
    batch 8
}
"""


def _codes(text: str) -> list[str]:
    _, diagnostics = diagnose(text, "m.nn")
    return [d.code for d in diagnostics if d.is_error]


def test_sigmoid_mse_accuracy_trains_and_scores_against_numpy(tmp_path, capsys):
    write_csv(tmp_path / "d.csv", n=80)
    spec = tmp_path / "m.nn"
    spec.write_text(SIG_MSE)
    assert main(["check", str(spec)]) == 0
    assert main(["run", str(spec), "--out", str(tmp_path / "r"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "E502" not in err
    assert main(["eval", str(tmp_path / "r"), str(tmp_path / "d.csv"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)[str(tmp_path / "d.csv")]
    rows = list(csv.DictReader(open(tmp_path / "d.csv")))
    x = np.array([[float(r["a"]), float(r["b"])] for r in rows])
    y = np.array([r["label"] == "yes" for r in rows], dtype=np.float64)
    with np.load(tmp_path / "r" / "weights.npz") as z:
        p = 1 / (1 + np.exp(-(x @ z["layers.0.weight"].astype(np.float64).T
                              + z["layers.0.bias"])))[:, 0]
    assert got["loss"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-4)  # still mse
    assert got["accuracy"] == pytest.approx(np.mean((p >= 0.5) == (y == 1)))
    assert got["mae"] == pytest.approx(np.mean(np.abs(p - y)), rel=1e-4)
    # predictions are classes with probabilities, as for binary_crossentropy
    assert main(["predict", str(tmp_path / "r"), str(tmp_path / "d.csv")]) == 0
    out = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert out[0] == ["class", "p_no", "p_yes"]
    assert [r[0] for r in out[1:]] == ["yes" if v >= 0.5 else "no" for v in p]


@pytest.mark.parametrize("model, metric, code", [
    ("dense 1", "accuracy", "E307"),  # linear output: no classes to count
    ("dense 4 relu\n    dense 1 tanh", "f1", "E307"),
    ("dense 1 softmax", "mae", "E306"),  # always 1.0
    ("dense 1 log_softmax", "mae", "E306"),  # always 0.0
    ("dense 1 sigmoid", "accuracy", None),
    ("dense 3 softmax", "accuracy", None),
])
def test_check_decides_the_task_from_the_output_layer(model, metric, code):
    text = f"""model m {{
    input 2
    {model}
}}
data {{ source {'blobs(samples=60, classes=3)' if '3' in model else 'moons(samples=60)'} }}
train {{
    loss mse
    epochs 1
    metrics {metric}
}}
"""
    if metric == "mae" and code:
        text = text.replace("moons(samples=60)", "linear(samples=60, features=2)")
    assert _codes(text) == ([code] if code else [])


def test_softmax_mse_accuracy_runs_on_one_hot_targets(tmp_path, capsys):
    spec = tmp_path / "s.nn"
    spec.write_text("""model s {
    input 2
    dense 3 softmax
}
data { source blobs(samples=90, classes=3, seed=1) }
train {
    loss mse
    optimizer adam(lr=0.1)
    epochs 5
    batch 16
    metrics accuracy
}
""")
    assert main(["run", str(spec), "--out", str(tmp_path / "r"), "-q"]) == 0
    final = json.loads((tmp_path / "r" / "metrics.json").read_text())["train"]
    assert 0.0 <= final["accuracy"] <= 1.0 and final["loss"] < 2 / 3  # < mse of uniform


def test_predict_names_every_output_unit(tmp_path, capsys):
    rng = np.random.default_rng(0)
    names = np.array(["apple", "pear", "plum"])
    x = rng.normal(size=(48, 2))
    y = names[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)]
    (tmp_path / "fruit.csv").write_text(
        "a,b,fruit\n" + "".join(f"{a:.5f},{b:.5f},{c}\n" for (a, b), c in zip(x, y, strict=True)))
    spec = tmp_path / "fruit.nn"
    spec.write_text(FRUITS)
    assert main(["run", str(spec), "--out", str(tmp_path / "r"), "-q"]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "r"), str(tmp_path / "fruit.csv")]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["class", "p_apple", "p_pear", "p_plum", "p_unit3"]
    assert all(len(r) == len(rows[0]) for r in rows)
    assert len(rows) == 49
    probs = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    cols = ["apple", "pear", "plum", "unit3"]
    assert [r[0] for r in rows[1:]] == [cols[i] for i in probs.argmax(axis=1)]
