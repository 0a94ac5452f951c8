"""exporter: every example spec's trained run, exported to ONNX, gives in ONNX Runtime what
`nnspec predict` gives on the same raw inputs (float32; tolerance below).

Each spec is trained once per module (lazily), for 2 epochs (or one more than its warmup)
on the cpu engine: the weights only need to be trained, not good. Two specs of this folder
(zoo_flat.nn, zoo_image.nn) use every layer kind, option and activation the exporter knows,
heads and a dropout included. Inputs are raw values drawn around the training data
(the run's scaler inverted on standard normal rows), so the scaler nodes are exercised.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import nnspec  # noqa: E402
from nnspec.cli import main  # noqa: E402
from nnspec.data.scaling import Scaler  # noqa: E402
from nnspec.exporter import graph  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = HERE / "golden"
SPECS = sorted((ROOT / "specs").glob("*.nn")) + [HERE / "zoo_flat.nn", HERE / "zoo_image.nn"]
# float32 on both sides (the cpu engine and ONNX Runtime), the same weights: they differ
# only in the order of float32 sums (measured: at most 1.4e-6 over every spec)
RTOL, ATOL = 1e-4, 1e-5


def _epochs(path: Path) -> int:
    warmup = nnspec.load(path).ir.train.warmup
    return 2 if warmup is None else warmup.epochs + 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """spec path -> its Run (trained once, when first asked for)."""
    out = tmp_path_factory.mktemp("export-runs")
    done: dict[Path, nnspec.Run] = {}

    def get(spec: Path) -> nnspec.Run:
        if spec not in done:
            done[spec] = nnspec.fit(spec, epochs=_epochs(spec), out=out / spec.stem,
                                    quiet=True, device="cpu")
            assert done[spec].status == "completed"
        return done[spec]

    return get


def _raw_inputs(run: nnspec.Run, n: int = 48) -> np.ndarray:
    restored = run._model()
    plan = restored.exe.plan
    if plan.token_input:  # token ids, every id of the vocabulary possible
        rng = np.random.default_rng(0)
        return rng.integers(0, plan.vocab_size, (n, plan.n_inputs), dtype=np.int64)
    scaler = Scaler.from_dict(restored.schema["scaler"])
    rng = np.random.default_rng(0)
    return scaler.invert(rng.standard_normal((n, restored.exe.plan.n_inputs)))


def _onnx_outputs(path: Path, raw: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (x,), (y,) = sess.get_inputs(), sess.get_outputs()
    assert x.name == "features" and x.shape[0] == "batch" and y.shape[0] == "batch"
    ids = x.type == "tensor(int64)"
    feed = raw.astype(np.int64 if ids else np.float32).reshape(len(raw), *input_shape)
    return sess.run([y.name], {x.name: feed})[0]


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_onnx_runtime_matches_predict(spec, trained, tmp_path):
    run = trained(spec)
    plan = run._model().exe.plan
    refused = graph.unsupported(plan)
    if refused:  # a layer kind newer than the exporter (e.g. `embedding` before its Gather)
        with pytest.raises(nnspec.SpecError) as caught:
            nnspec.export(run, tmp_path / "model.onnx")
        assert {d.code for d in caught.value.diagnostics} == {"E512"}
        assert not (tmp_path / "model.onnx").exists()
        pytest.xfail(f"no ONNX form yet: {refused[0].message}")
    done = nnspec.export(run, tmp_path / "model.onnx")
    model = onnx.load(str(done.path))
    onnx.checker.check_model(model, full_check=True)
    assert [o.opset_import[0].version for o in (model,)] == [graph.OPSET]
    raw = _raw_inputs(run)
    want = run.predict(raw)  # what `nnspec predict` computes: raw -> scaler -> model
    got = _onnx_outputs(done.path, raw, plan.input_shape)
    assert got.dtype == np.float32 and got.shape == want.shape == (len(raw), plan.n_outputs)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    # a batch of one runs too (the batch dimension is symbolic)
    np.testing.assert_allclose(_onnx_outputs(done.path, raw[:1], plan.input_shape), want[:1],
                               rtol=RTOL, atol=ATOL)
    assert done.output[0] == ("prediction" if plan.task == "regression" else "probabilities")
    # auxiliary heads are left out: no node reads or writes a head's tensors
    names = {n for node in model.graph.node for n in (*node.input, *node.output)}
    for head in plan.heads:
        assert plan.layers[head.node].name not in names


def test_zoo_uses_every_exported_kind(trained, tmp_path):
    """The zoo specs (and next_char's embedding) reach every layer and activation form the
    exporter has."""
    ops = set()
    kinds = set()
    for spec in (HERE / "zoo_flat.nn", HERE / "zoo_image.nn", ROOT / "specs/next_char.nn"):
        run = trained(spec)
        plan = run._model().exe.plan
        kinds |= {graph.op_kind(node) for node in plan.layers}
        kinds |= {node.act_name for node in plan.layers}
        model = onnx.load(str(nnspec.export(run, tmp_path / f"{spec.stem}.onnx").path))
        ops |= {node.op_type for node in model.graph.node}
    assert set(graph.LAYERS) <= kinds
    assert set(graph.ACTIVATIONS) - {"softmax"} <= kinds  # softmax: the example specs
    assert {"Gemm", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten",
            "BatchNormalization", "Concat", "Add", "Erf", "Tanh", "Softplus", "Where", "Elu",
            "Selu", "LeakyRelu", "Sigmoid", "LogSoftmax", "Exp", "Sub", "Div", "Gather"} <= ops
    assert "Dropout" not in ops


def test_cli_predict_and_onnx_agree_on_a_csv(trained, tmp_path, capsys):
    """`nnspec predict RUN INPUT.csv` and the exported file, on the same CSV rows."""
    run = trained(ROOT / "specs" / "moons.nn")
    raw = _raw_inputs(run, 20)
    names = run._model().schema["feature_names"]
    data = tmp_path / "in.csv"
    with data.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        w.writerows([[repr(float(v)) for v in row] for row in raw])
    assert main(["export", str(run.dir), "-o", str(tmp_path / "m.onnx")]) == 0
    err = capsys.readouterr().err
    assert "opset 17" in err and "`features` [batch, 2]" in err
    assert main(["predict", str(run.dir), str(data), "-o", str(tmp_path / "p.csv")]) == 0
    with (tmp_path / "p.csv").open() as f:
        rows = list(csv.DictReader(f))
    second = list(rows[0])[2]  # class, p_<class 0>, p_<class 1>
    p1 = np.array([float(r[second]) for r in rows])
    got = _onnx_outputs(tmp_path / "m.onnx", raw, (2,))[:, 0]
    np.testing.assert_allclose(got, p1, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------------------------
# Diagnostics: rendered goldens (paths relative to a scratch folder), no traceback.
# ---------------------------------------------------------------------------------------------

TINY = """model tiny {
    input 2
    dense 4 relu
    dropout 0.1
    dense 1 sigmoid
}
data {
    source moons(samples=60, noise=0.1)
    standardize
}
train {
    loss binary_crossentropy
    optimizer adam(lr=0.01)
    epochs 1
    batch 30
    seed 1
%s}
"""


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder with two tiny runs (float32 `tiny`, float64 `wide`), paths relative to it."""
    where = tmp_path_factory.mktemp("export-diag")
    for name, extra in (("tiny", ""), ("wide", "    dtype float64\n")):
        (where / f"{name}.nn").write_text(TINY % extra, encoding="utf-8")
        nnspec.fit(where / f"{name}.nn", out=where / name, quiet=True, device="cpu")
    return where


def _export(argv: list[str], capsys) -> tuple[int, str]:
    code = main(["export", *argv])
    return code, capsys.readouterr().err


def _golden(code: str, text: str) -> None:
    path = GOLDEN / f"{code}.stderr"
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path.name}; run with NNSPEC_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_unsupported_layer_is_e512_at_its_statement(scratch, monkeypatch, capsys):
    """A kind the exporter has no ONNX form for (an `embedding` before its Gather lands):
    simulated by taking dropout's out of the table."""
    monkeypatch.chdir(scratch)
    monkeypatch.delitem(graph.LAYERS, "dropout")
    code, err = _export(["tiny", "-o", "t.onnx"], capsys)
    assert code == 1 and "Traceback" not in err and not (scratch / "t.onnx").exists()
    assert "layer 1 (dropout 0.1)" in err and "tiny/spec.nn:4:5" in err
    _golden("E512", err)


def test_without_onnx_says_how_to_install(scratch, monkeypatch, capsys):
    monkeypatch.chdir(scratch)
    monkeypatch.setitem(sys.modules, "onnx", None)
    code, err = _export(["tiny", "-o", "t.onnx"], capsys)
    assert code == 1 and "pip install 'nnspec[onnx]'" in err and "Traceback" not in err
    _golden("E513", err)


def test_unwritable_output(scratch, monkeypatch, capsys):
    monkeypatch.chdir(scratch)
    (scratch / "folder").mkdir(exist_ok=True)
    first = _export(["tiny", "-o", "no/such/dir/t.onnx"], capsys)
    second = _export(["tiny", "-o", "folder"], capsys)
    assert first[0] == second[0] == 1
    _golden("E514", first[1] + second[1])
    if os.geteuid() != 0:  # root writes anywhere
        (scratch / "ro").mkdir(exist_ok=True)
        os.chmod(scratch / "ro", 0o500)
        try:
            code, err = _export(["tiny", "-o", "ro/t.onnx"], capsys)
        finally:
            os.chmod(scratch / "ro", 0o700)
        assert code == 1 and "E514" in err and "Permission denied" in err


def test_checker_refusal_writes_nothing(scratch, monkeypatch, capsys):
    """A graph onnx.checker refuses (here: relu spelled as an op ONNX does not have) is E515
    and no file."""
    monkeypatch.chdir(scratch)
    monkeypatch.setitem(graph.ACTIVATIONS, "relu", lambda g, z, out, n: g.op("Rlu", [z], out))
    code, err = _export(["tiny", "-o", "t.onnx"], capsys)
    assert code == 1 and not (scratch / "t.onnx").exists() and "Rlu" in err
    _golden("E515", re.sub(r"(= note: onnx\.checker: )\S.*", r"\1...", err))


def test_float64_run_warns(scratch, monkeypatch, capsys):
    monkeypatch.chdir(scratch)
    code, err = _export(["wide", "-o", "w.onnx"], capsys)
    assert code == 0 and (scratch / "w.onnx").exists()
    _golden("W112", err)


@pytest.mark.parametrize("bad", ["missing", "tiny.nn"])
def test_bad_run_dir(scratch, monkeypatch, capsys, bad):
    monkeypatch.chdir(scratch)
    code, err = _export([bad, "-o", "x.onnx"], capsys)
    assert code == 1 and "error[E504]" in err and "Traceback" not in err


def test_api_raises_spec_error(scratch):
    with pytest.raises(nnspec.SpecError, match="E504"):
        nnspec.export(scratch / "missing", scratch / "x.onnx")
