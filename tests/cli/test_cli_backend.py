"""`nnspec run --backend`: a model with layers a compiled engine has no kernels for
(convolutions on the 8x8 digits, read as 1x8x8 images) is refused with E506 naming
`--backend reference`, never a traceback (every engine runs them now: the cuda engine's
image kernels are taken out of backends.KERNELS to stand for one that lacks them; the
cuda run itself is tests/cuda's); it trains on the cpu and reference backends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nnspec.cli import main

ROOT = Path(__file__).resolve().parents[2]

SPEC = """model digits_cnn {{
    input 1 8 8
    conv2d 4 3 relu padding=same
    maxpool 2
    conv2d 6 3 relu padding=1
    global_avgpool
    dense 10 softmax
}}
data {{
    source csv("{csv}", target=digit)
    split validation=0.2, stratify=true
    normalize
}}
train {{
    loss categorical_crossentropy
    optimizer adam(lr=0.01)
    epochs 2
    batch 64
    metrics accuracy
    seed 3
}}
"""


def _spec(tmp_path: Path) -> Path:
    path = tmp_path / "digits_cnn.nn"
    path.write_text(SPEC.format(csv=(ROOT / "specs/data/digits.csv").as_posix()),
                    encoding="utf-8")
    return path


def test_cuda_refuses_a_conv_model_and_names_the_reference_backend(tmp_path, capsys,
                                                                  monkeypatch):
    from nnspec import backends

    monkeypatch.setitem(backends.KERNELS, "cuda", backends.KERNELS["cuda"] - backends.IMAGE_KINDS)
    spec = _spec(tmp_path)
    assert main(["run", str(spec), "--out", str(tmp_path / "run"), "--backend", "cuda"]) == 1
    err = capsys.readouterr().err
    assert "error[E506]: the cuda backend has no kernels yet for `conv2d`, `maxpool`, " \
           "`global_avgpool`" in err
    assert "--backend reference" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "weights.npz").exists()


def test_the_cpu_backend_trains_a_conv_model(tmp_path, capsys):
    spec = _spec(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out), "--device", "cpu", "-q"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"] == "cpu" and manifest["status"] == "completed"
    history = json.loads((out / "history.json").read_text())
    assert history[-1]["loss"] < history[0]["loss"]
    assert main(["eval", str(out), str(ROOT / "specs/data/digits.csv")]) == 0
    assert "E506" not in capsys.readouterr().err


def test_the_reference_backend_trains_a_conv_model(tmp_path, capsys):
    spec = _spec(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out), "--backend", "reference", "-q"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"] == "reference" and manifest["status"] == "completed"
    with np.load(out / "weights.npz") as z:
        assert z["layers.0.weight"].shape == (4, 1, 3, 3)
        assert z["layers.2.weight"].shape == (6, 4, 3, 3)
    history = json.loads((out / "history.json").read_text())
    assert history[-1]["loss"] < history[0]["loss"]
    # eval and predict restore the run on a backend that has its kernels
    assert main(["eval", str(out), str(ROOT / "specs/data/digits.csv")]) == 0
    assert "E506" not in capsys.readouterr().err
