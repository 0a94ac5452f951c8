"""The CUDA engine on graphs (branches, merges, heads) beyond the op-by-op parity of
test_cuda_parity.py::test_graphs: gradients against the reference backend (which is checked
by finite differences), predict and evaluate leaving the heads out, chunked epochs with
heads, a head's non-finite loss, and the training loop's per-head history."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from cpu_nets import GRAPH_NETS
from cuda_helpers import close, data, make_plan, order, pair

from nnspec.backends import cuda as gpu
from nnspec.backends import reference
from nnspec.backends.base import STATUS_NONFINITE_LOSS, as_targets, dropout_rng
from nnspec.backends.reference import network
from nnspec.train.nonfinite import nonfinite_error

pytestmark = pytest.mark.cuda
HEADS = "input-concat-dropout-heads-mse"  # two heads (weights 0.5, 0.25), concat, residual


def _plan(name, **train):
    layers, loss, n_in = GRAPH_NETS[name]
    return make_plan(layers, loss, n_in=n_in, **train)


@pytest.mark.parametrize("name", list(GRAPH_NETS))
def test_gradient_matches_reference(name):
    """One batch of 5 rows with lr -> tiny: the cuda gradient buffer is the reference
    gradient of main loss + weight x each head's loss (a fan-out node gets the sum of its
    readers' gradients), and the chunk's terms are the reference's losses."""
    n = 5
    plan = _plan(name, batch=n)
    x, y = data(plan, n)
    g = gpu.compile(plan)
    params = g.get_params()
    chunk = g.train_epoch(x, y, np.arange(n), 1e-300, 0, 1, dropout_rng(1))
    assert chunk.ok and chunk.n_batches == 1
    value, grad = network.loss_and_grad(plan, params, reference.compile(plan).get_buffers(), x,
                                        as_targets(plan, y), rng=dropout_rng(1))
    heads = [o.weight * h for o, h in zip(plan.heads, chunk.head_terms[0], strict=True)] \
        if plan.heads else []
    assert (chunk.loss_sum + sum(heads)) / n == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(g.s.grad.copy_to_host()[:plan.n_params], grad, rtol=1e-10,
                               atol=1e-13)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_predict_and_evaluate_leave_the_heads_out(dtype):
    """The main output only, as the reference computes it from the same parameters."""
    plan = _plan("head-bn-dropout-cce", dtype=dtype)
    assert plan.heads
    x, y = data(plan, 7)
    g = gpu.compile(plan)
    g.train_epoch(x, y, order(7), 0.05, 0, 99, dropout_rng(0))  # running stats move
    r = reference.compile(plan)
    r.set_params(g.get_params().astype(np.float64))
    r.set_buffers(g.get_buffers().astype(np.float64))
    out = g.predict(x)
    assert out.shape == (7, plan.n_outputs)
    close(out, r.predict(x), dtype, "predict")
    close(g.evaluate(x, y), r.evaluate(x, y), dtype, "evaluate")


def test_an_epoch_in_chunks_equals_one_call_with_heads():
    plan = _plan(HEADS, dtype="float32", seed=2)
    x, y = data(plan, 10)
    a, b = gpu.compile(plan), gpu.compile(plan)
    ra, rb = dropout_rng(2), dropout_rng(2)
    whole = a.train_epoch(x, y, order(10), 0.05, 0, 99, ra)
    parts = [b.train_epoch(x, y, order(10), 0.05, s, t, rb) for s, t in ((0, 1), (1, 99))]
    assert whole.head_terms.shape == (3, 2)
    assert [p.head_terms.shape for p in parts] == [(1, 2), (2, 2)]
    np.testing.assert_array_equal(whole.head_terms,
                                  np.concatenate([p.head_terms for p in parts]))
    totals = [0.0, 0.0]
    for p in parts:
        totals = p.add_heads_to(totals)
    assert totals == whole.add_heads_to([0.0, 0.0])
    np.testing.assert_array_equal(a.get_params(), b.get_params())


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_nonfinite_head_loss_stops_the_chunk():
    """A head's loss going non-finite stops a chunk as the main loss does (before the
    update), as on the cpu, and E411 names the same thing."""
    plan = _plan(HEADS, dtype="float64")
    x, y = data(plan, 10)
    g, c = pair(plan)
    head = plan.layers[plan.heads[1].node]  # head b: dense 2, linear
    p = g.get_params()
    p[head.w_offset:head.w_offset + head.n_in * head.n_out] = 1e300
    g.set_params(p)
    c.set_params(p)
    chunk = g.train_epoch(x, y, order(10), 0.01, 0, 99, dropout_rng(0))
    cpu_chunk = c.train_epoch(x, y, order(10), 0.01, 0, 99, dropout_rng(0))
    assert chunk.status == cpu_chunk.status == STATUS_NONFINITE_LOSS
    assert chunk.bad_batch == cpu_chunk.bad_batch == 0 and chunk.n_batches == 0
    assert chunk.head_terms.shape == (0, 2)
    np.testing.assert_array_equal(g.get_params(), p)
    err_g = nonfinite_error(g, x, y, order(10), 0, chunk, 0.01)
    err_c = nonfinite_error(c, x, y, order(10), 0, cpu_chunk, 0.01)
    assert [d.message for d in err_g.diagnostics] == [d.message for d in err_c.diagnostics]


SPEC = """model branches {{
    input 3
    dense 6 tanh
    head aux weight=0.4 {{
        dense 3 softmax
    }}
    concat {{
        branch {{
            dense 4 relu
        }}
        branch {{ }}
    }}
    residual {{
        dense 10 elu
    }}
    dense 3 softmax
}}
train {{
    loss categorical_crossentropy
    optimizer adam(lr=0.02)
    epochs 3
    batch 8
    dtype {dtype}
    seed 5
}}
"""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_loop_with_a_head_matches_cpu(dtype):
    """The real training loop on both backends: the epoch losses and the head's own
    history column (aux_loss)."""
    from nnspec.backends import cpu
    from nnspec.lower import lower
    from nnspec.pipeline import diagnose
    from nnspec.train.loop import train

    spec, diags = diagnose(SPEC.format(dtype=dtype))
    assert spec is not None, diags
    rng = np.random.default_rng(1)
    x = rng.standard_normal((12, 3))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    dataset = SimpleNamespace(train=SimpleNamespace(x=x, y=y), val=None, test=None)
    plan = lower(spec)
    results = [train(plan, dataset, backend.compile(plan)) for backend in (gpu, cpu)]
    for r in results:
        assert r.status == "completed" and len(r.history) == 3
        assert all("aux_loss" in row for row in r.history)
    for key in ("loss", "aux_loss"):
        close([row[key] for row in results[0].history],
              [row[key] for row in results[1].history], dtype, key)
