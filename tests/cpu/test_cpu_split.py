"""The multi-threaded path of the CPU engine (backends/cpu/blas.py, dense.forward_t and
backward_t, optimizers.step_parts): every gemm against numpy, the split optimizer step against
the one-pass step, and whole training runs with every layer split against the same runs
without (the engine only splits large layers; the tests force it on small ones)."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl
from plan_nets import LOSS, OPT, OPTIMIZER_CASES, data, dense, make_plan, order

from nnspec.backends import cpu
from nnspec.backends.base import dropout_rng
from nnspec.backends.cpu import blas, layout, optimizers
from nnspec.backends.cpu import dense as cpu_dense
from nnspec.backends.cpu.executable import one_blas_thread
from nnspec.lower.lower import optimizer_plan as lower_optimizer
from nnspec.lower.plan import A_LINEAR
from nnspec.ops.layers import Branch, Concat, Head, Residual

N, BATCH = 50, 16


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ta, tb", [("n", "n"), ("n", "t"), ("t", "n"), ("t", "t")])
@pytest.mark.parametrize("parts", [0, 2, 3])
@pytest.mark.parametrize("by_rows", [False, True])
def test_gemm_on_submatrices_against_numpy(ta, tb, parts, by_rows, dtype):
    """c[2:2+m, 1:1+n] = op(a) @ op(b), operands taken from inside larger matrices (offsets
    and leading dimensions), the rest of c untouched."""
    r = np.random.default_rng(len(ta + tb) + parts)
    m, n, k = 37, 45, 29
    op_a = r.normal(size=(m, k))
    op_b = r.normal(size=(k, n))
    stored_a = op_a if ta == "n" else op_a.T
    stored_b = op_b if tb == "n" else op_b.T
    big_a = r.normal(size=(stored_a.shape[0] + 3, stored_a.shape[1] + 5))
    big_a[3:, 5:] = stored_a
    big_b = r.normal(size=(stored_b.shape[0] + 1, stored_b.shape[1] + 2))
    big_b[1:, 2:] = stored_b
    c = np.full((m + 4, n + 3), 7.0, dtype)
    a32, b32 = big_a.astype(dtype).ravel(), big_b.astype(dtype).ravel()
    flag = {"n": blas.NO, "t": blas.TRANS}
    lda, ldb, ldc = big_a.shape[1], big_b.shape[1], c.shape[1]
    args = (flag[ta], flag[tb], m, n, k, a32, 3 * lda + 5, lda, b32, ldb + 2, ldb, c.ravel(),
            2 * ldc + 1, ldc, np.array([1.0, 0.0], dtype))
    for p in range(max(parts, 1)):  # the blocks one after the other (0: the whole product)
        blas.gemm_block(max(parts, 1), p, by_rows, *args)
    np.testing.assert_allclose(c[2:2 + m, 1:1 + n], op_a @ op_b, **_tol(dtype))
    inner = np.zeros(c.shape, bool)
    inner[2:2 + m, 1:1 + n] = True
    assert (c[~inner] == 7.0).all()


@pytest.mark.parametrize("n, parts", [(0, 2), (5, 2), (16, 2), (33, 2), (100, 3), (7, 8)])
def test_blocks_cover_the_range_once(n, parts):
    cuts = [blas.bound(n, parts, p) for p in range(parts + 1)]
    assert cuts[0] == 0 and cuts[-1] == n
    assert all(a <= b for a, b in zip(cuts, cuts[1:], strict=False))
    assert all(c % blas.SPLIT_ALIGN == 0 for c in cuts[1:-1] if c < n)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("parts", [2, 3])
def test_dense_parts_against_numpy_and_the_check(parts, dtype):
    """forward_t / backward_t with plain layouts, split: values and the gradient check."""
    r = np.random.default_rng(parts)
    rows, n_in, n_out = 9, 40, 50
    x, w = r.normal(size=(rows, n_in)), r.normal(size=(n_out, n_in))
    bias, gz = r.normal(size=n_out), r.normal(size=(rows, n_out))
    xd, wd, bd, gzd = (a.astype(dtype).ravel() for a in (x, w, bias, gz))
    z = np.empty(rows * n_out, dtype)
    cpu_dense.forward_t(xd, wd, bd, True, z, z, rows, n_in, n_out, False, False, parts,
                        A_LINEAR, 0.0, 0.0, False)
    np.testing.assert_allclose(z.reshape(rows, n_out), x @ w.T + bias, **_tol(dtype))
    gw, gb, gx = np.empty_like(wd), np.empty_like(bd), np.empty_like(xd)

    def backward(need_gx, squares):
        return cpu_dense.backward_t(xd, wd, gzd, gw, gb, True, gx, need_gx, squares, rows,
                                    n_in, n_out, False, False, parts, A_LINEAR, 0.0, 0.0, xd)

    for squares in (False, True):
        got = backward(True, squares)
        np.testing.assert_allclose(gw.reshape(n_out, n_in), gz.T @ x, **_tol(dtype))
        np.testing.assert_allclose(gb, gz.sum(0), **_tol(dtype))
        np.testing.assert_allclose(gx.reshape(rows, n_in), gz @ w, **_tol(dtype))
        want = float(np.sum(gw.astype(np.float64) ** 2) + np.sum(gb.astype(np.float64) ** 2))
        assert got == pytest.approx(want if squares else 0.0, rel=1e-6)
    # a non-finite gradient in the last block of gw is seen by the split check
    xd[rows * n_in - 1] = np.inf
    assert np.isnan(backward(False, False))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("parts", [0, 2, 3])
@pytest.mark.parametrize("t_in, t_out", [(False, True), (True, True), (True, False),
                                          (False, False)])
def test_transposed_dense_against_numpy(t_in, t_out, parts, dtype):
    """forward_t / backward_t with the input and/or the output stored (features, rows)."""
    r = np.random.default_rng(parts + 2 * t_in + 4 * t_out)
    rows, n_in, n_out = 11, 36, 50
    x, w = r.normal(size=(rows, n_in)), r.normal(size=(n_out, n_in))
    bias, gz = r.normal(size=n_out), r.normal(size=(rows, n_out))
    cast = lambda a: np.ascontiguousarray(a.astype(dtype)).ravel()  # noqa: E731
    xs = cast(x.T if t_in else x)
    z = np.empty(rows * n_out, dtype)
    cpu_dense.forward_t(xs, cast(w), cast(bias), True, z, z, rows, n_in, n_out, t_in, t_out,
                        parts, A_LINEAR, 0.0, 0.0, False)
    want = x @ w.T + bias
    np.testing.assert_allclose(z.reshape((n_out, rows) if t_out else (rows, n_out)),
                               want.T if t_out else want, **_tol(dtype))
    gw, gb, gx = np.empty(n_out * n_in, dtype), np.empty(n_out, dtype), np.empty(rows * n_in, dtype)
    got = cpu_dense.backward_t(xs, cast(w), cast(gz.T if t_out else gz), gw, gb, True, gx,
                               True, True, rows, n_in, n_out, t_in, t_out, parts, A_LINEAR,
                               0.0, 0.0, xs)
    np.testing.assert_allclose(gw.reshape(n_out, n_in), gz.T @ x, **_tol(dtype))
    np.testing.assert_allclose(gb, gz.sum(0), **_tol(dtype))
    np.testing.assert_allclose(gx.reshape((n_in, rows) if t_in else (rows, n_in)),
                               (gz @ w).T if t_in else gz @ w, **_tol(dtype))
    want_sq = float(np.sum(gw.astype(np.float64) ** 2) + np.sum(gb.astype(np.float64) ** 2))
    assert got == pytest.approx(want_sq, rel=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("key", sorted(OPTIMIZER_CASES))
def test_step_parts_is_step(key, parts, dtype):
    """The same update, block by block. Not asserted to the bit: step and step_parts are two
    compiled copies of step_rows, and under the JIT's fastmath (reassoc) LLVM may round a
    copy differently (seen once in float32, after a recompilation). Within one compiled
    engine a run is bit-identical (test_split_training_matches_serial_training)."""
    opt = lower_optimizer(OPTIMIZER_CASES[key])
    n = 1001  # blocks of uneven length, not multiples of 16
    r = np.random.default_rng(parts)
    w1 = r.normal(size=n).astype(dtype)
    w2 = w1.copy()
    s1 = optimizers.init_state(opt, n, dtype)
    s2 = s1.copy()
    hyper = optimizers.hyper_array(opt)
    for t in range(1, 4):
        g = r.normal(size=n).astype(dtype)
        optimizers.step(opt.code, w1, g, s1, hyper, 0.05, t)
        optimizers.step_parts(parts, opt.code, w2, g, *optimizers.rows(s2), hyper, 0.05, t)
    tol = dict(rtol=1e-14, atol=1e-15) if dtype == "float64" else dict(rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(w2, w1, **tol)
    np.testing.assert_allclose(s2, s1, **tol)


@pytest.fixture
def force_split(monkeypatch):
    """Every dense layer and every optimizer step split into 3 blocks, however small."""
    monkeypatch.setattr(layout, "SPLIT_MIN_WORK", 0)
    monkeypatch.setattr(layout, "STEP_SPLIT_MIN", 0)
    monkeypatch.setattr(layout, "_THREADS", 3)


def _train(plan, x, y, epochs=3):
    exe = cpu.compile(plan)
    rng = dropout_rng(plan.seed)
    losses = [exe.train_epoch(x, y, order(N, e), 0.01, 0, 99, rng).add_to(0.0)
              for e in range(epochs)]
    return exe, losses


NET = [dense(48, "relu"), dense(40, "tanh"), dense(3, "softmax")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_split_training_matches_serial_training(dtype, monkeypatch, force_split):
    plan = make_plan(NET, LOSS["categorical_crossentropy"](), n_in=20, batch=BATCH,
                     dtype=dtype, seed=1, optimizer=OPT["adam"](lr=0.01))
    x, y = data(plan, N)
    split_exe, split_losses = _train(plan, x, y)
    itab = split_exe._get_work(BATCH).layout.itab
    assert (itab[:, layout.SPLIT] == 3).all() and split_exe.step_parts == 3
    # hidden activations kept transposed between the split layers, not the softmax output
    assert itab[:, layout.T_OUT].tolist() == [1, 1, 0]
    assert itab[:, layout.T_IN].tolist() == [0, 1, 1]
    again, again_losses = _train(plan, x, y)
    np.testing.assert_array_equal(split_exe.get_params(), again.get_params())
    assert split_losses == again_losses  # bit-identical runs, split too

    monkeypatch.setattr(layout, "_THREADS", 1)
    serial_exe, serial_losses = _train(plan, x, y)
    assert not serial_exe._get_work(BATCH).layout.split and serial_exe.step_parts == 0
    tol = _tol(dtype)
    np.testing.assert_allclose(split_exe.get_params(), serial_exe.get_params(), **tol)
    np.testing.assert_allclose(split_losses, serial_losses, **tol)
    np.testing.assert_allclose(split_exe.predict(x), serial_exe.predict(x), **tol)
    assert split_exe.evaluate(x, y) == pytest.approx(serial_exe.evaluate(x, y), rel=1e-5)


# every dense layer split: a residual body and a concat branch of two dense layers each (their
# inner activations may stay transposed), fan-out into a residual and into a head
GRAPH = [dense(24, "relu"), Residual(body=(dense(24, "tanh"), dense(24))),
         Concat(branches=(Branch(layers=(dense(16, "relu"), dense(8, "tanh"))), Branch())),
         Head(name="aux", weight=0.3, body=(dense(3, "softmax"),)), dense(3, "softmax")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_split_graph_matches_reference(dtype, force_split):
    """Large-layer paths inside a graph: only a dense node read by exactly one dense node (and
    by nothing else, no output) keeps its output transposed; training matches the reference."""
    from nnspec.backends import reference

    plan = make_plan(GRAPH, LOSS["categorical_crossentropy"](), n_in=20, batch=BATCH,
                     dtype=dtype, seed=1, optimizer=OPT["adam"](lr=0.01))
    x, y = data(plan, N)
    exe = cpu.compile(plan)
    ref = reference.compile(plan)
    ref.set_params(exe.get_params().astype(np.float64))
    rc, rr = dropout_rng(0), dropout_rng(0)
    for e in range(2):
        a = exe.train_epoch(x, y, order(N, e), 0.01, 0, 99, rc)
        b = ref.train_epoch(x, y, order(N, e), 0.01, 0, 99, rr)
        assert a.ok and a.loss_sum == pytest.approx(b.loss_sum, rel=1e-4 if dtype == "float32"
                                                    else 1e-10)
        np.testing.assert_allclose(a.head_terms, b.head_terms,
                                   rtol=1e-4 if dtype == "float32" else 1e-10)
    itab = exe._get_work(BATCH).layout.itab
    dense_nodes = [i for i, la in enumerate(plan.layers) if la.kind_name == "dense"]
    assert (itab[dense_nodes, layout.SPLIT] == 3).all()
    t_out = {plan.layers[i].name for i in range(len(plan.layers)) if itab[i, layout.T_OUT]}
    t_in = {plan.layers[i].name for i in range(len(plan.layers)) if itab[i, layout.T_IN]}
    assert t_out == {"layers.1.body.0", "layers.2.branches.0.0"}
    assert t_in == {"layers.1.body.1", "layers.2.branches.0.1"}
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == "float64" else dict(rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(exe.get_params(), ref.get_params(), **tol)
    np.testing.assert_allclose(exe.predict(x), ref.predict(x), **tol)


def test_layer_and_step_parts_follow_the_thresholds(monkeypatch):
    monkeypatch.setattr(layout, "_THREADS", 2)
    assert layout.layer_parts(128, 784, 512) == 2  # the large benchmark's layers
    assert layout.layer_parts(128, 512, 10) == 0
    assert layout.layer_parts(32, 64, 128) == 0  # the small one's
    assert layout.step_parts(669_706) == 2 and layout.step_parts(17_000) == 0
    monkeypatch.setattr(layout, "_THREADS", 1)
    assert layout.layer_parts(128, 784, 512) == 0 and layout.step_parts(669_706) == 0


def test_threads_reports_a_usable_count():
    assert layout.threads() >= 1


def test_one_blas_thread_limits_then_restores():
    libs = threadpoolctl.ThreadpoolController().select(user_api="blas")
    before = [lib["num_threads"] for lib in libs.info()]
    with one_blas_thread(True):
        assert all(lib["num_threads"] == 1 for lib in libs.info())
    assert [lib["num_threads"] for lib in libs.info()] == before
    with one_blas_thread(False):
        assert [lib["num_threads"] for lib in libs.info()] == before
