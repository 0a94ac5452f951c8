"""A whole `nnspec run --backend cuda` of a tiny LeNet-like spec (conv2d, max and average
pooling, batchnorm over images, on the procedural `shapes` images) against the same run on
the cpu backend: epoch losses and metrics, and the saved weights and running statistics.
(The image kernels one by one, chains and graphs: test_cuda_parity.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cuda_helpers import close

from nnspec.cli import main

pytestmark = pytest.mark.cuda

SPEC = """model tiny_lenet {{
    input 1 8 8
    conv2d 3 3 relu padding=same
    maxpool 2
    conv2d 4 3 tanh bias=false
    batchnorm
    avgpool 2
    flatten
    dense 4 softmax
}}
data {{
    source shapes(samples=20, size=8, noise=0.05)
    split validation=0.2
    standardize
}}
train {{
    loss categorical_crossentropy
    optimizer adam(lr=0.01)
    epochs 2
    batch 8
    metrics accuracy
    dtype {dtype}
    seed 3
}}
"""


def test_a_conv_spec_runs_on_cuda_as_on_cpu(tmp_path, capsys):
    """float32, as a user runs it (both dtypes, op by op: test_cuda_parity.py)."""
    dtype = "float32"
    spec = tmp_path / "tiny_lenet.nn"
    spec.write_text(SPEC.format(dtype=dtype), encoding="utf-8")
    runs = {}
    for backend in ("cuda", "cpu"):
        out = tmp_path / backend
        assert main(["run", str(spec), "--out", str(out), "--backend", backend, "-q"]) == 0, \
            capsys.readouterr().err
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["backend"] == backend and manifest["status"] == "completed"
        history = json.loads((out / "history.json").read_text())
        with np.load(out / "weights.npz") as z:
            runs[backend] = history, {k: z[k] for k in z.files}
    (g_hist, g_w), (c_hist, c_w) = runs["cuda"], runs["cpu"]
    assert len(g_hist) == len(c_hist) == 2
    for g_row, c_row in zip(g_hist, c_hist, strict=True):
        assert g_row.keys() == c_row.keys()
        for key in ("loss", "val_loss"):
            close(g_row[key], c_row[key], dtype, key)
        assert g_row["accuracy"] == c_row["accuracy"]
    assert g_w.keys() == c_w.keys()
    assert g_w["layers.0.weight"].shape == (3, 1, 3, 3)
    assert "layers.3.running_var" in g_w
    for key in g_w:
        close(g_w[key], c_w[key], dtype, key)
