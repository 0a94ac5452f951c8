"""weights: .npz round trips with PyTorch state_dict names, atomic writes, and E410 for a file
that does not fit the model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from plan_nets import LOSS, data, dense, make_plan, order

from nnspec import ir, weights
from nnspec.backends import cpu
from nnspec.backends.base import dropout_rng
from nnspec.diagnostics import DiagnosticError, Span, render
from nnspec.lower import lower
from nnspec.ops.layers import BatchNorm, Dense, Dropout

SPANS = [Span(line=3 + i, col=5, end_line=3 + i, end_col=15) for i in range(5)]


def _plan():
    layers = (Dense(units=4, span=SPANS[0]), BatchNorm(span=SPANS[1]),
              Dropout(rate=0.1, span=SPANS[2]), Dense(units=2, bias=False, span=SPANS[3]))
    return lower(ir.Spec(path="m.nn", model=ir.Model(input=3, layers=layers),
                         train=ir.Train(loss=LOSS["mse"](), batch=4)))


def _trained(plan):
    exe = cpu.compile(plan)
    x, y = data(plan, 12)
    exe.train_epoch(x, y, order(12), 0.1, 0, 99, dropout_rng(0))
    return exe


def test_round_trip_and_names(tmp_path: Path):
    plan = _plan()
    exe = _trained(plan)
    path = tmp_path / "w.npz"
    weights.save_executable(path, exe)
    with np.load(path) as npz:
        assert sorted(npz.files) == sorted(["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                            "layers.1.bias", "layers.1.running_mean",
                                            "layers.1.running_var", "layers.3.weight"])
        assert npz["layers.0.weight"].shape == (4, 3) and npz["layers.3.weight"].shape == (2, 4)
        p = exe.get_params()
        np.testing.assert_array_equal(npz["layers.0.weight"].ravel(), p[:12])
    other = cpu.compile(plan)
    weights.load_into(other, path)
    np.testing.assert_array_equal(other.get_params(), exe.get_params())
    np.testing.assert_array_equal(other.get_buffers(), exe.get_buffers())
    assert [f for f in os.listdir(tmp_path) if f != "w.npz"] == []  # no temporary left behind


def test_pytorch_state_dict_extras_are_accepted(tmp_path: Path):
    plan = _plan()
    arrays = weights.named_tensors(plan, cpu.compile(plan).get_params(),
                                   cpu.compile(plan).get_buffers())
    arrays["layers.1.num_batches_tracked"] = np.array(7)
    np.savez(tmp_path / "t.npz", **arrays)
    params, buffers = weights.load(tmp_path / "t.npz", plan)
    assert params.shape == (plan.n_params,) and buffers.shape == (plan.n_buffers,)


def _broken(tmp_path, change):
    plan = _plan()
    arrays = weights.named_tensors(plan, cpu.compile(plan).get_params(),
                                   cpu.compile(plan).get_buffers())
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DiagnosticError) as info:
        weights.load(path, plan)
    return info.value.diagnostics


@pytest.mark.parametrize("change, layer, words", [
    (lambda a: a.pop("layers.0.bias"), 0, "has no `layers.0.bias`"),
    (lambda a: a.pop("layers.1.running_var"), 1, "has no `layers.1.running_var`"),
    (lambda a: a.update({"layers.3.weight": np.zeros((4, 2))}), 3, "has shape (4, 2)"),
    (lambda a: a.update({"layers.3.bias": np.zeros(2)}), 3, "which the model does not have"),
    (lambda a: a.update({"layers.2.weight": np.zeros(4)}), 2, "which the model does not have"),
])
def test_mismatch_is_e410_at_the_layer(tmp_path, change, layer, words):
    (d,) = _broken(tmp_path, change)
    assert d.code == "E410" and words in d.message and d.span == SPANS[layer]
    assert d.path == "m.nn" and "error[E410]" in render(d)


def test_every_mismatch_is_reported_at_once(tmp_path):
    def change(a):
        a.pop("layers.0.weight")
        a["layers.1.weight"] = np.zeros(5)
        a["extra"] = np.zeros(1)
    diags = _broken(tmp_path, change)
    assert [d.code for d in diags] == ["E410"] * 3
    assert "extra" in diags[-1].message and diags[-1].span is None


@pytest.mark.parametrize("content", [None, b"not a zip file"])
def test_missing_or_unreadable_file_is_e410(tmp_path, content):
    path = tmp_path / "w.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DiagnosticError) as info:
        weights.load(path, _plan(), span=SPANS[4])
    (d,) = info.value.diagnostics
    assert d.code == "E410" and d.span == SPANS[4] and "w.npz" in d.message


def test_pytorch_loads_the_saved_names(tmp_path):
    torch = pytest.importorskip("torch")
    plan = make_plan([dense(5, "relu"), BatchNorm(), dense(2)], LOSS["mse"](), n_in=3)
    exe = cpu.compile(plan)
    path = tmp_path / "w.npz"
    weights.save_executable(path, exe)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 5), torch.nn.BatchNorm1d(5),
                                               torch.nn.Linear(5, 2)])

    net = Net().double()
    with np.load(path) as npz:
        missing, unexpected = net.load_state_dict(
            {k: torch.from_numpy(npz[k]) for k in npz.files}, strict=False)
    assert unexpected == [] and set(missing) <= {"layers.1.num_batches_tracked"}
    x = np.random.default_rng(0).normal(size=(4, 3))
    net.eval()
    h = torch.relu(net.layers[0](torch.from_numpy(x)))
    out = net.layers[2](net.layers[1](h)).detach().numpy()
    np.testing.assert_allclose(exe.predict(x), out, rtol=1e-12)
