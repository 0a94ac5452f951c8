"""The CUDA executable's own guarantees, checked against the CPU backend or numpy: the tiled
matmul on odd shapes, chunked epochs, the non-finite stop (status, books, E411, skipping the
bad batch), checkpoints that move between backends, and whole seeded runs of the training
loop."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from cuda_helpers import LOSS, OPT, close, data, dense, make_plan, order, pair

from nnspec.backends import cpu
from nnspec.backends import cuda as gpu
from nnspec.backends.base import (
    STATUS_NONFINITE_GRAD,
    STATUS_NONFINITE_LOSS,
    dropout_rng,
)
from nnspec.diagnostics import render
from nnspec.ops.layers import BatchNorm, Dropout
from nnspec.train.nonfinite import nonfinite_error

pytestmark = pytest.mark.cuda
DROPNET = [dense(5, "relu"), BatchNorm(), Dropout(rate=0.3), dense(3, "softmax")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (5, 7, 3), (3, 2, 9), (6, 4, 4)])
@pytest.mark.parametrize("pattern", ["x@w.T", "gz.T@x", "gz@w"])
def test_tiled_matmul_matches_numpy(pattern, m, n, k, dtype):
    """Strided views of one flat buffer, shapes that are not multiples of the tile."""
    from nnspec.backends.cuda.cublas import TiledGemm
    from nnspec.backends.cuda.jit import TILE, cuda

    assert any(s % TILE for s in (m, n, k)) or (m, n, k) == (6, 4, 4)
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((k, n))
    # store A and B as the engine finds them: x (m, k) rows, w (n, k) rows, gz (k, m) rows
    if pattern == "x@w.T":
        a_store, a_st, b_store, b_st = a, (k, 1), b.T, (1, k)
    elif pattern == "gz.T@x":
        a_store, a_st, b_store, b_st = a.T, (1, m), b, (n, 1)
    else:
        a_store, a_st, b_store, b_st = a, (k, 1), b, (n, 1)
    pad = 3  # nonzero offsets
    flat = np.concatenate([np.zeros(pad), a_store.ravel(), b_store.ravel()]).astype(dtype)
    src = cuda.to_device(flat)
    out = cuda.to_device(np.full(2 + m * n, np.nan, dtype=dtype))
    TiledGemm(dtype)(src, pad, *a_st, src, pad + m * k, *b_st, out, 2, n, m, n, k)
    got = out.copy_to_host()
    assert np.isnan(got[:2]).all()  # nothing written outside C
    want = (a.astype(dtype) @ b.astype(dtype)).ravel()
    np.testing.assert_allclose(got[2:], want, rtol=1e-5 if dtype == "float32" else 1e-13,
                               atol=1e-6 if dtype == "float32" else 1e-13)


def test_an_epoch_in_chunks_equals_one_call():
    plan = make_plan(DROPNET, LOSS["categorical_crossentropy"](), dtype="float32", seed=2)
    x, y = data(plan, 14)
    a, b = gpu.compile(plan), gpu.compile(plan)
    ra, rb = dropout_rng(2), dropout_rng(2)
    for e in range(2):
        whole = a.train_epoch(x, y, order(14, e), 0.05, 0, 99, ra)
        parts = [b.train_epoch(x, y, order(14, e), 0.05, s, t, rb) for s, t in
                 ((0, 1), (1, 3), (3, 99))]
        assert whole.n_batches == sum(p.n_batches for p in parts) == 4
        assert whole.loss_sum == pytest.approx(sum(p.loss_sum for p in parts), rel=1e-6)
        total = 0.0
        for p in parts:
            total = p.add_to(total)
        assert total == whole.add_to(0.0)  # bit-identical whatever the chunking
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    np.testing.assert_array_equal(a.get_buffers(), b.get_buffers())
    assert a.step == b.step == 8
    assert ra.random() == rb.random()


def test_same_seed_is_bit_identical_and_another_seed_differs():
    plan = make_plan(DROPNET, LOSS["categorical_crossentropy"](), dtype="float32", seed=3)
    x, y = data(plan, 8)
    runs = []
    for _ in range(2):
        exe = gpu.compile(plan)
        exe.train_epoch(x, y, order(8), 0.1, 0, 99, dropout_rng(3))
        runs.append(exe.get_params())
    np.testing.assert_array_equal(runs[0], runs[1])
    other = make_plan(DROPNET, LOSS["categorical_crossentropy"](), dtype="float32", seed=4)
    assert not np.array_equal(gpu.compile(other).get_params(), runs[0])


def _poisoned(kind):
    """A plan, data and the batch (of 3) whose loss or gradient goes non-finite."""
    if kind == "loss":
        plan = make_plan(DROPNET, LOSS["categorical_crossentropy"](), dtype="float64")
        x, y = data(plan, 12)
        x[order(12)[5]] = np.nan  # a row of batch 1
        return plan, x, y, None
    # float32 overflow in the weight gradient only: z ~ 1e30, loss finite in float64,
    # g * x ~ 1e40 > float32 max
    plan = make_plan([dense(1, bias=False)], LOSS["mse"](), n_in=1, dtype="float32")
    x = np.full((12, 1), 1e10)
    y = np.zeros((12, 1))
    return plan, x, y, np.array([1e20])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("kind, status", [("loss", STATUS_NONFINITE_LOSS),
                                          ("grad", STATUS_NONFINITE_GRAD)])
def test_nonfinite_stop_matches_cpu_and_explains_itself(kind, status):
    plan, x, y, params = _poisoned(kind)
    g, c = pair(plan)
    if params is not None:
        g.set_params(params)
        c.set_params(params)
    rg, rc = dropout_rng(0), dropout_rng(0)
    cg = g.train_epoch(x, y, order(12), 0.05, 0, 99, rg)
    cc = c.train_epoch(x, y, order(12), 0.05, 0, 99, rc)
    assert cg.status == cc.status == status
    assert (cg.bad_batch, cg.n_batches, cg.n_samples, cg.start_batch) == \
        (cc.bad_batch, cc.n_batches, cc.n_samples, cc.start_batch)
    assert cg.rng_state == cc.rng_state
    close(cg.loss_sum, cc.loss_sum, plan.dtype)
    assert g.step == c.step == cc.n_batches
    close(g.get_params(), c.get_params(), plan.dtype, "no update from the bad batch")
    err_g = nonfinite_error(g, x, y, order(12), 0, cg, 0.05)
    err_c = nonfinite_error(c, x, y, order(12), 0, cc, 0.05)
    assert [d.message for d in err_g.diagnostics] == [d.message for d in err_c.diagnostics]
    assert "error[E411]" in render(err_g.diagnostics[0])
    # skipping the bad batch and going on (stop_on_nonfinite=false) keeps the two in step,
    # the dropout generator included
    assert rg.bit_generator.state == rc.bit_generator.state
    after_g = g.train_epoch(x, y, order(12), 0.05, cg.bad_batch + 1, 99, rg)
    after_c = c.train_epoch(x, y, order(12), 0.05, cc.bad_batch + 1, 99, rc)
    assert after_g.n_batches == after_c.n_batches
    close(g.get_params(), c.get_params(), plan.dtype)


def test_checkpoints_move_between_backends():
    """A cuda state_dict resumes on the CPU (and back) exactly where an uninterrupted run is."""
    plan = make_plan([dense(4, "relu"), BatchNorm(), dense(2)], LOSS["mse"](),
                     optimizer=OPT["adam"](lr=0.05, amsgrad=True))
    x, y = data(plan, 8)
    g, c = pair(plan)
    g.train_epoch(x, y, order(8, 0), 0.05, 0, 99, dropout_rng(0))
    c.train_epoch(x, y, order(8, 0), 0.05, 0, 99, dropout_rng(0))
    resumed_on_cpu, resumed_on_gpu = cpu.compile(plan), gpu.compile(plan)
    resumed_on_cpu.load_state_dict(g.state_dict())
    resumed_on_gpu.load_state_dict(c.state_dict())
    assert resumed_on_cpu.step == resumed_on_gpu.step == 2
    for exe in (c, resumed_on_cpu, resumed_on_gpu):
        exe.train_epoch(x, y, order(8, 1), 0.05, 0, 99, dropout_rng(0))
    close(resumed_on_cpu.get_params(), c.get_params(), "float64")
    close(resumed_on_gpu.get_params(), c.get_params(), "float64")
    close(resumed_on_gpu.get_buffers(), c.get_buffers(), "float64")
    with pytest.raises(ValueError, match="opt_state"):
        resumed_on_gpu.load_state_dict({**c.state_dict(), "opt_state": np.zeros((1, 3))})


def test_new_arrays_are_not_served_from_the_upload_cache():
    plan = make_plan([dense(3, "tanh"), dense(1)], LOSS["mse"]())
    g, c = pair(plan)
    x, y = data(plan, 6)
    for scale in (1.0, 2.0, 3.0):  # new objects each time, some at a recycled address
        xs = x * scale
        close(g.predict(xs), c.predict(xs), "float64")
        close(g.evaluate(xs, y), c.evaluate(xs, y), "float64")


SPEC = """model tiny {{
    input 2
    dense 6 {act}
    dropout 0.2
    dense 3 softmax
}}
train {{
    loss categorical_crossentropy
    optimizer {opt}
    schedule step(every=2, gamma=0.5)
    epochs 4
    batch 8
    dtype {dtype}
    seed 7
}}
"""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_loop_end_to_end_matches_cpu(dtype):
    """The real training loop (shuffling, schedule, chunks, metrics) on both backends."""
    from nnspec.lower import lower
    from nnspec.pipeline import diagnose
    from nnspec.train.loop import train

    spec, diags = diagnose(SPEC.format(act="tanh", opt="adam(lr=0.05)", dtype=dtype))
    assert spec is not None, diags
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 2))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    dataset = SimpleNamespace(train=SimpleNamespace(x=x, y=y), val=None, test=None)
    plan = lower(spec)
    results = [train(plan, dataset, backend.compile(plan)) for backend in (gpu, cpu)]
    for r in results:
        assert r.status == "completed" and len(r.history) == 4
    g_loss = [row["loss"] for row in results[0].history]
    c_loss = [row["loss"] for row in results[1].history]
    close(g_loss, c_loss, dtype, "epoch losses")


def test_gpu_benchmark_runs_its_nnspec_side_on_a_toy_case():
    """benchmarks/bench_gpu.py can only be measured on a GPU; its nnspec side is the training
    loop on this backend, exercised here on a toy case so the script cannot rot unnoticed."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    # the CPU benchmark it imports pins thread counts in os.environ; keep them out of this
    # process (Numba refuses a changed NUMBA_NUM_THREADS once its threads run)
    saved_env, saved_path = dict(os.environ), list(sys.path)
    try:
        spec.loader.exec_module(bench)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
    assert set(bench.CASES) == {"tiny", "small", "large", "wide"}
    assert bench.CASES["wide"].sizes == (784, 2048, 2048, 10)
    toy = bench.Case("toy", (2, 3, 3), "relu", "categorical_crossentropy", "adam(lr=0.01)",
                     4, 1, 0.0)
    rng = np.random.default_rng(0)
    sps, path_used = bench.bench_nnspec(toy, rng.standard_normal((8, 2)).astype(np.float32),
                                        rng.integers(0, 3, 8), 2)
    assert sps > 0 and "matmul" in path_used


def test_small_eval_chunks_and_mask_uploads_change_nothing(monkeypatch):
    """predict/evaluate in chunks of 3 rows and dropout masks uploaded one batch at a time
    (as large models and data sets run) give what the CPU backend gives."""
    from nnspec.backends.cuda import executable

    monkeypatch.setattr(executable, "EVAL_ROWS", 3)
    monkeypatch.setattr(executable, "MASK_BYTES", 1)
    plan = make_plan(DROPNET, LOSS["categorical_crossentropy"](), seed=9)
    x, y = data(plan, 10)
    g, c = pair(plan)
    rg, rc = dropout_rng(9), dropout_rng(9)
    for e in range(2):
        cg = g.train_epoch(x, y, order(10, e), 0.05, 0, 99, rg)
        cc = c.train_epoch(x, y, order(10, e), 0.05, 0, 99, rc)
        close(cg.terms, cc.terms, "float64")
    close(g.get_params(), c.get_params(), "float64")
    close(g.predict(x), c.predict(x), "float64")
    close(g.evaluate(x, y), c.evaluate(x, y), "float64")
    assert rg.random() == rc.random()
