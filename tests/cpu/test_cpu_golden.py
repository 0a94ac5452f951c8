"""Rendered goldens of the run-time diagnostics this stage raises: E410 (weights file does not
fit the model) and E411 (loss or gradient not finite), from a real spec through diagnose(),
so the caret points at the real layer. NNSPEC_UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from plan_nets import order

from nnspec import weights
from nnspec.backends import cpu
from nnspec.backends.base import dropout_rng
from nnspec.diagnostics import DiagnosticError, render_all
from nnspec.lower import lower
from nnspec.pipeline import diagnose
from nnspec.train.nonfinite import nonfinite_error

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1"

SOURCE = """\
model blowup {
    input 3
    dense 16 relu
    dense 1
}
train {
    loss mse
    optimizer sgd(lr=1000000)
    batch 8
    dtype float64
}
"""


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def _plan(source=SOURCE):
    spec, diags = diagnose(source, "blowup.nn")
    assert spec is not None, diags
    return lower(spec)


@pytest.mark.parametrize("dtype, name", [("float64", "E411.stderr"),
                                         ("float32", "E411-layer.stderr")])
def test_e411_golden(dtype, name):
    source = SOURCE.replace("float64", dtype)
    plan = _plan(source)
    r = np.random.default_rng(0)
    x, y = r.normal(size=(32, 3)), 100 * r.normal(size=(32, 1))
    exe = cpu.compile(plan)
    for epoch in range(20):
        chunk = exe.train_epoch(x, y, order(32, epoch), 1e6, 0, 99, dropout_rng(0))
        if not chunk.ok:
            break
    assert not chunk.ok
    err = nonfinite_error(exe, x, y, order(32, epoch), epoch, chunk, 1e6)
    golden(name, render_all(err.diagnostics, {"blowup.nn": source}) + "\n")


def test_e410_golden(tmp_path):
    plan = _plan()
    arrays = weights.named_tensors(plan, cpu.compile(plan).get_params(), np.zeros(0))
    arrays["layers.1.weight"] = arrays["layers.1.weight"].T  # (16, 1) instead of (1, 16)
    del arrays["layers.0.bias"]
    path = tmp_path / "init.npz"
    np.savez(path, **arrays)
    try:
        weights.load(path, plan)
    except DiagnosticError as err:
        text = render_all(err.diagnostics, {"blowup.nn": SOURCE}).replace(str(tmp_path), "TMP")
        golden("E410.stderr", text + "\n")
    else:
        raise AssertionError("no E410")
