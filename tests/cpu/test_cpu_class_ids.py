"""Issue 14: a multi-class task's targets reach the cpu engine as one class index a sample
(an (N, 1) column), expanded to one-hot rows batch by batch in the workspace, never as the
N x K one-hot array (5,000 values a sample for a 5,000-word vocabulary)."""

from __future__ import annotations

import numpy as np
import pytest
from cpu_nets import GRAPH_NETS, NETS
from plan_nets import OPT, data, make_plan, order

from nnspec.backends import cpu
from nnspec.backends.base import as_targets, dropout_rng, targets_for
from nnspec.backends.cpu import layout


def _plan(name, nets=NETS, dtype="float32"):
    layers, loss, n_in = nets[name][:3]
    return make_plan(layers, loss, n_in=n_in, dtype=dtype, batch=4,
                     optimizer=OPT["adam"](lr=0.01))


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("name, nets", [("embedding-flatten-tanh-sparse-cce", NETS),
                                        ("relu-bn-dropout-softmax-cce", NETS),
                                        ("concat-fanout-cce", GRAPH_NETS)])
def test_class_indices_train_as_one_hot_rows_do(name, nets, split, monkeypatch):
    """Bit for bit: the ids expanded batch by batch, or (a chain's unsmoothed fused softmax
    loss: the first net) taken as they are by losses.sparse_cce, on 3 threads when split
    (every dense layer split, the loss by blocks of rows)."""
    if split:
        monkeypatch.setattr(layout, "SPLIT_MIN_WORK", 0)
        monkeypatch.setattr(layout, "_THREADS", 3)
    plan = _plan(name, nets)
    x, y = data(plan, 14)
    assert y.ndim == 1
    runs = []
    for targets in (as_targets(plan, y), None):
        exe = cpu.compile(plan)
        t = targets_for(exe, y) if targets is None else targets
        assert t.shape == ((14, 1) if targets is None else (14, plan.n_outputs))
        rng = dropout_rng(0)
        chunks = [exe.train_epoch(x, t, order(14, e), 0.01, 0, 99, rng) for e in range(3)]
        loss, out = exe.evaluate_outputs(x, t)
        runs.append((exe.get_params(), [c.loss_sum for c in chunks], loss, out,
                     exe.evaluate(x[:5], t[:5])))
    (p1, l1, e1, o1, s1), (p2, l2, e2, o2, s2) = runs
    np.testing.assert_array_equal(p1, p2)
    assert l1 == l2 and e1 == e2 and s1 == s2
    np.testing.assert_array_equal(o1, o2)


def test_class_indices_are_checked_before_the_engine_indexes_with_them():
    plan = _plan("sparse-cce-smoothed")
    exe = cpu.compile(plan)
    x, y = data(plan, 8)
    for bad, why in ((np.full(8, plan.n_outputs), "out of range"), (np.full(8, -1), "range"),
                     (np.full(8, 0.5), "integer")):
        with pytest.raises(ValueError, match=why):
            exe.train_epoch(x, bad, order(8), 0.01, 0, 2, dropout_rng(0))
        with pytest.raises(ValueError, match=why):
            exe.evaluate(x, bad.reshape(-1, 1))
    ids = exe.targets(y)
    assert ids.dtype == np.float32 and ids.shape == (8, 1)
    assert exe.targets(ids) is ids  # converted and checked once, not at every epoch


def test_arrays_in_the_engines_form_are_checked_once_and_copies_never_remembered():
    """An input or target array that is already what the engine takes is remembered (checked
    once, not at every call), and checked again when its shape or dtype is reassigned in
    place; an array that had to be converted is converted at every call, so changing it in
    place between calls is seen."""
    plan = _plan("tanh-sigmoid-bce")
    exe = cpu.compile(plan)
    x, y = data(plan, 8)
    x, t = x.astype(np.float32), as_targets(plan, y)
    loss = exe.evaluate(x, t)
    assert exe.evaluate(x, t) == loss
    assert any(seen is x for seen, _ in exe._ids) and any(seen is t for seen, _ in exe._rows)
    x.shape = (4, 2 * x.shape[1])  # numpy lets a caller do this; the next call is checked
    with pytest.raises(ValueError, match="inputs of shape"):
        exe.evaluate(x, t)
    x.shape = (8, x.shape[1] // 2)
    assert exe.evaluate(x, t) == loss
    wide = x.astype(np.float64)  # a copy is made at every call, and not remembered
    assert exe.evaluate(wide, t) == loss
    wide[:] = 0.0
    assert exe.evaluate(wide, t) == exe.evaluate(np.zeros_like(x), t) != loss
    assert not any(seen is wide for seen, _ in exe._ids)
