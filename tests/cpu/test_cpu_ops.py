"""CPU kernels one op at a time against backends/reference (the oracle), including extreme
inputs, the float32 approximations and NaN propagation."""

from __future__ import annotations

import numpy as np
import pytest
from plan_nets import OPTIMIZER_CASES

from nnspec.backends.cpu import activations, approx, dense, dropout, losses, optimizers
from nnspec.backends.cpu.layout import transposed_forward
from nnspec.backends.reference import activations as ref_act
from nnspec.backends.reference import dropout as ref_dropout
from nnspec.backends.reference import losses as ref_loss
from nnspec.backends.reference import optimizers as ref_opt
from nnspec.lower.lower import optimizer_plan as _optimizer
from nnspec.lower.plan import (
    ACT_CODES,
    FUSED_LOG_SOFTMAX_CCE,
    FUSED_NONE,
    FUSED_SIGMOID_BCE,
    FUSED_SOFTMAX_CCE,
    LOSS_CODES,
)
from nnspec.ops.activations import ACTIVATIONS
from nnspec.ops.losses import LOSSES

B, F = 6, 5
ACT_CASES = [ACTIVATIONS[k]() for k in ACTIVATIONS] + [
    ACTIVATIONS["leaky_relu"](alpha=0.2), ACTIVATIONS["elu"](alpha=0.5),
    ACTIVATIONS["gelu"](approximate="tanh"), ACTIVATIONS["softplus"](beta=3.0, threshold=4.0)]


def _params(op):
    if op.kind in ("leaky_relu", "elu"):
        return op.alpha, 0.0
    if op.kind == "gelu":
        return (1.0 if op.approximate == "tanh" else 0.0), 0.0
    if op.kind == "softplus":
        return op.beta, op.threshold
    return 0.0, 0.0


def _z(dtype):
    r = np.random.default_rng(1)
    z = r.normal(scale=3.0, size=(B, F))
    z[0] = [-60.0, -20.0, 0.0, 20.0, 60.0]  # saturation and overflow territory
    return z.astype(dtype)


def _cpu_act(op, z, g, fast):
    code = ACT_CODES[op.kind]
    p0, p1 = _params(op)
    zf = z.ravel().copy()
    a = np.empty_like(zf)
    activations.forward(code, p0, p1, zf, a, F, fast)
    gf = g.ravel().astype(z.dtype)
    activations.backward(code, p0, p1, zf, a, gf, F)
    return a.reshape(B, F), gf.reshape(B, F)


@pytest.mark.parametrize("op", ACT_CASES, ids=lambda op: repr(op))
def test_activation_float64_matches_reference(op):
    z = _z(np.float64)
    g = np.random.default_rng(2).normal(size=(B, F))
    a, gz = _cpu_act(op, z, g, False)
    ra = ref_act.forward(op, z)
    np.testing.assert_allclose(a, ra, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gz, ref_act.backward(op, z, ra, g), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("op", ACT_CASES, ids=lambda op: repr(op))
def test_activation_float32_within_tolerance(op):
    """float32 (with the fast tanh/sigmoid): within 1e-6 relative or 1e-6 absolute."""
    z = _z(np.float32)
    g = np.random.default_rng(2).normal(size=(B, F))
    a, gz = _cpu_act(op, z, g, True)
    ra = ref_act.forward(op, z.astype(np.float64))
    np.testing.assert_allclose(a, ra, rtol=2e-6, atol=1e-6)
    rg = ref_act.backward(op, z.astype(np.float64), ra, g)
    np.testing.assert_allclose(gz, rg, rtol=2e-5, atol=2e-6 * np.abs(g).max())


def test_fast_tanh_and_sigmoid_error_bound():
    x = np.linspace(-12, 12, 200_001).astype(np.float32)
    t = np.array([approx.tanh32(v) for v in x[::50]], dtype=np.float64)
    s = np.array([approx.sigmoid32(v) for v in x[::50]], dtype=np.float64)
    xs = x[::50].astype(np.float64)
    assert np.abs(t - np.tanh(xs)).max() < 4e-7
    assert np.abs(s - ref_act.sigmoid(xs)).max() < 2.5e-7
    assert np.abs(t).max() <= 1.0


def test_fast_exp_within_one_ulp():
    """approx.exp32 against exp rounded once to float32, over softmax's range (z - max z
    <= 0) and its edges."""
    x = np.concatenate([np.linspace(-87.3, 0.0, 40_001), -np.geomspace(1e-8, 87.3, 2_001),
                        [0.0, -1e-30, -0.5, -1.0, -10.0]]).astype(np.float32)
    got = np.array([approx.exp32(v) for v in x], dtype=np.float32)
    want = np.exp(x.astype(np.float64)).astype(np.float32)
    ulps = np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32))
    assert ulps.max() <= 1
    assert approx.exp32(np.float32(0.0)) == 1.0  # the fused softmax loss relies on it
    assert approx.exp32(np.float32(-88.0)) == 0.0 and approx.exp32(np.float32(-np.inf)) == 0.0
    assert np.isnan(approx.exp32(np.float32(np.nan)))


@pytest.mark.parametrize("n", [1, 2, 7, 8, 15, 16, 17, 31, 64, 77, 5000])
def test_row_max(n):
    v = np.random.default_rng(n).normal(size=3 * n + 5).astype(np.float32)
    for base in (0, 3, 2 * n + 5):
        assert approx.row_max(v, base, n) == v[base:base + n].max()
    v[4 + n - 1] = 1e9  # the largest is the row's last value
    assert approx.row_max(v, 4, n) == 1e9


@pytest.mark.parametrize("fast", [True, False])
def test_wide_softmax_row_with_a_nan_is_all_nan(fast):
    """A NaN anywhere in a 37-wide row (row_max's vectorised loop and its tail) makes
    the whole row NaN."""
    n = 37
    for where in range(n):
        z = np.random.default_rng(where).normal(size=2 * n).astype(np.float32)
        z[n + where] = np.nan
        a = np.empty_like(z)
        activations.forward(ACT_CODES["softmax"], 0.0, 0.0, z, a, n, fast)
        assert np.isfinite(a[:n]).all() and np.isnan(a[n:]).all()


def test_one_hot_class():
    k = 37
    rows = np.zeros((6, k), dtype=np.float32)
    rows[0, 5] = 1.0  # class 5
    rows[1, 36] = 1.0  # the last
    rows[2, [3, 9]] = 0.5  # a soft target
    rows[3, 4] = 2.0  # not a probability
    # rows[4]: all zero
    rows[5, [0, 7]] = 1.0  # two ones
    flat = rows.ravel()
    assert [losses.one_hot_class(flat, r * k, k) for r in range(6)] == [5, 36, -1, -1, -1, -1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_softmax_crossentropy_on_wide_mixed_rows(dtype):
    """The fused loss on 203-wide rows against the reference (logsumexp in float64): the
    one-hot shortcut (-log a_c), and the general form from the row maxima of z and a for a
    soft target and an a_c too small for its log; tied maxima and a maximum in the tail of
    row_max's vectorised loop."""
    rows, k = 9, 203
    r = np.random.default_rng(4)
    z = r.normal(scale=4.0, size=(rows, k))
    z[1, [5, 150]] = z[1].max() + 1.0  # two tied maxima
    z[2, -1] = 90.0  # the maximum in the row's last value
    y = np.eye(k)[r.integers(0, k, size=rows)]
    z[3, 0], z[3, 1:], y[3] = -200.0, 5.0, np.eye(k)[0]  # class 0's a_c underflows
    y[5] = r.dirichlet(np.ones(k))  # a soft target
    z, y = z.astype(dtype), y.astype(dtype)
    a = np.empty(rows * k, dtype)
    activations.forward(ACT_CODES["softmax"], 0.0, 0.0, z.ravel(), a, k, dtype == np.float32)
    code = LOSS_CODES["categorical_crossentropy"]
    s = losses.loss_sum(code, 0.0, FUSED_SOFTMAX_CCE, z.ravel(), a, y.ravel(), rows, k)
    value = losses.finish(code, s, rows, k)
    want, _ = ref_loss.fused_value_grad(LOSSES["categorical_crossentropy"](), "softmax", z,
                                        y.astype(np.float64))
    assert np.isfinite(value)
    assert value == pytest.approx(want, rel=1e-12 if dtype == np.float64 else 2e-6)


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_crossentropy_is_the_one_hot_loss_bit_for_bit(dtype, parts):
    """losses.sparse_cce (class ids) against loss_sum and loss_grad on the same rows' one-hot
    targets: S and dL/dz equal to the last bit, on 1 to 3 threads, for ordinary rows, tied
    maxima, a class whose a_c underflows (the general form), and rows with a NaN or an inf
    (the loss NaN, as there)."""
    rows, k = 11, 203
    r = np.random.default_rng(5)
    z = r.normal(scale=4.0, size=(rows, k))
    ids = r.integers(0, k, size=rows)
    z[1, [5, 150]] = z[1].max() + 1.0
    z[3, 0], z[3, 1:], ids[3] = -200.0, 5.0, 0  # a_c underflows
    ids[4] = k - 1
    z, y = z.astype(dtype), np.eye(k, dtype=dtype)[ids]
    a = np.empty(rows * k, dtype)
    activations.forward(ACT_CODES["softmax"], 0.0, 0.0, z.ravel(), a, k, dtype == np.float32)
    code = LOSS_CODES["categorical_crossentropy"]
    g_want, g = np.empty(rows * k, dtype), np.empty(rows * k, dtype)
    for bad in (None, np.nan, np.inf):
        zz, aa = z.ravel().copy(), a.copy()
        if bad is not None:  # after the softmax: z and a as a non-finite z leaves them
            zz[7 * k + 3], aa[7 * k:8 * k] = bad, np.nan
        s_want = losses.loss_sum(code, 0.0, FUSED_SOFTMAX_CCE, zz, aa, y.ravel(), rows, k)
        losses.loss_grad(code, 0.0, FUSED_SOFTMAX_CCE, aa, y.ravel(), g_want, rows, k, 1.0)
        s = losses.sparse_cce(parts, zz, aa, ids.astype(dtype), g, rows, k, True)
        if bad is None:
            assert np.isfinite(s) and s == s_want
        else:
            assert np.isnan(s) and np.isnan(s_want)
        np.testing.assert_array_equal(g, g_want)
        assert losses.sparse_cce(parts, zz, aa, ids.astype(dtype), g[:0], rows, k,
                                 False) == s or bad is not None


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "softmax", "gelu", "elu"])
@pytest.mark.parametrize("fast", [True, False])
def test_nan_and_inf_propagate(name, fast):
    """fastmath must not hide NaN: non-finite detection depends on it."""
    op = ACTIVATIONS[name]()
    z = np.full((1, F), 0.5, dtype=np.float32)
    z[0, 1] = np.nan
    code = ACT_CODES[name]
    a = np.empty(F, dtype=np.float32)
    activations.forward(code, *_params(op), z.ravel(), a, F, fast)
    assert np.isnan(a[1])


LOSS_CASES = [
    ("mse", {}, FUSED_NONE), ("rmse", {}, FUSED_NONE), ("mae", {}, FUSED_NONE),
    ("huber", {"delta": 0.7}, FUSED_NONE),
    ("binary_crossentropy", {}, FUSED_NONE),
    ("binary_crossentropy", {"label_smoothing": 0.2}, FUSED_NONE),
    ("binary_crossentropy", {}, FUSED_SIGMOID_BCE),
    ("binary_crossentropy", {"label_smoothing": 0.1}, FUSED_SIGMOID_BCE),
    ("categorical_crossentropy", {}, FUSED_NONE),
    ("categorical_crossentropy", {"label_smoothing": 0.1}, FUSED_SOFTMAX_CCE),
    ("categorical_crossentropy", {}, FUSED_SOFTMAX_CCE),
    ("categorical_crossentropy", {"label_smoothing": 0.3}, FUSED_LOG_SOFTMAX_CCE),
]


def _loss_inputs(kind, fused, extreme):
    r = np.random.default_rng(3)
    z = r.normal(scale=2.0, size=(B, F))
    if extreme:
        z[0] = [-80.0, -30.0, 0.0, 30.0, 80.0]
    if kind == "categorical_crossentropy":
        y = np.eye(F)[r.integers(0, F, size=B)]
        a = ref_act.log_softmax(z) if fused == FUSED_LOG_SOFTMAX_CCE else ref_act.softmax(z)
    elif kind == "binary_crossentropy":
        y = (r.random((B, F)) < 0.5).astype(float)
        a = ref_act.sigmoid(z)
    else:
        y = r.normal(size=(B, F))
        a = z
    return z, a, y


@pytest.mark.parametrize("kind, opts, fused", LOSS_CASES,
                         ids=[f"{k}-{o}-{f}" for k, o, f in LOSS_CASES])
@pytest.mark.parametrize("extreme", [False, True])
def test_loss_matches_reference(kind, opts, fused, extreme):
    op = LOSSES[kind](**opts)
    code = LOSS_CODES[kind]
    param = float(opts.get("delta", opts.get("label_smoothing", 0.0)))
    z, a, y = _loss_inputs(kind, fused, extreme)
    s = losses.loss_sum(code, param, fused, z.ravel(), a.ravel(), y.ravel(), B, F)
    value = losses.finish(code, s, B, F)
    g = np.empty(B * F)
    losses.loss_grad(code, param, fused, a.ravel(), y.ravel(), g, B, F, value)
    if fused == FUSED_NONE:
        log_probs = False
        rv, rg = ref_loss.value(op, a, y, log_probs), ref_loss.grad(op, a, y, log_probs)
    else:
        act = {FUSED_SIGMOID_BCE: "sigmoid", FUSED_SOFTMAX_CCE: "softmax",
               FUSED_LOG_SOFTMAX_CCE: "log_softmax"}[fused]
        rv, rg = ref_loss.fused_value_grad(op, act, z, y)
    assert np.isfinite(value)
    assert value == pytest.approx(rv, rel=1e-12)
    np.testing.assert_allclose(g.reshape(B, F), rg, rtol=1e-10, atol=1e-15)


def test_rmse_gradient_is_zero_at_zero_loss():
    y = np.ones(4)
    g = np.full(4, 9.0)
    code = LOSS_CODES["rmse"]
    value = losses.finish(code, losses.loss_sum(code, 0.0, 0, y, y, y, 4, 1), 4, 1)
    losses.loss_grad(code, 0.0, 0, y, y, g, 4, 1, value)
    assert value == 0.0 and not g.any()


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.9])
def test_dropout_mask_is_the_reference_mask(rate):
    x = np.random.default_rng(0).normal(size=(7, 9))
    mask, y = np.empty(63), np.empty(63)
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    dropout.forward(x.ravel(), rate, r1.random(63), mask, y)  # the draws executable makes
    keep = ref_dropout.make_mask(r2, (7, 9), rate)
    np.testing.assert_allclose(y.reshape(7, 9), ref_dropout.forward(x, keep, rate), rtol=1e-15)
    assert r1.random() == r2.random()  # both generators advanced by the same draws


@pytest.mark.parametrize("opt_name", ["sgd", "rmsprop", "adam", "adagrad"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_optimizer_step_matches_reference(opt_name, dtype):
    for key, op in OPTIMIZER_CASES.items():
        if not key.startswith(opt_name):
            continue
        plan_opt = _optimizer(op)
        r = np.random.default_rng(0)
        w = r.normal(size=50)
        w_ref = w.copy()
        state = optimizers.init_state(plan_opt, 50, dtype)
        state_ref = ref_opt.init_state(plan_opt, 50)
        wc = w.astype(dtype)
        for t in range(1, 5):
            g = r.normal(size=50)
            optimizers.step(plan_opt.code, wc, g.astype(dtype), state,
                            optimizers.hyper_array(plan_opt), 0.05, t)
            ref_opt.step(plan_opt, w_ref, g, state_ref, 0.05, t)
        tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(wc, w_ref, **tol, err_msg=key)
        np.testing.assert_allclose(state, state_ref, **tol, err_msg=key)


@pytest.mark.parametrize("value, norm", [(0.0, 1.0), (0.3, 0.0), (0.3, 0.5), (0.0, 100.0)])
def test_clip_matches_reference(value, norm):
    g = np.random.default_rng(0).normal(size=40)
    mine, ref = g.copy(), g.copy()
    optimizers.clip(mine, value, norm, optimizers.sum_squares(mine))
    ref_opt.clip_gradients(ref, norm or None, value or None)
    np.testing.assert_allclose(mine, ref, rtol=1e-14)
    assert optimizers.sum_squares(g) == pytest.approx(float(g @ g), rel=1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("squares", [False, True])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 77, 999])
def test_check_is_finite_iff_every_gradient_is(dtype, squares, bad, where):
    g = (np.random.default_rng(where).normal(size=1000) * 1e30).astype(dtype)  # big, finite
    if bad is not None:
        g[where] = bad
    value = optimizers.check(g, squares)
    assert np.isfinite(value) == (bad is None)
    if bad is None:
        expected = float(np.sum(g.astype(np.float64) ** 2)) if squares else 0.0
        assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("rows, n_in, n_out", [(32, 2, 16), (5, 16, 16), (7, 64, 128),
                                               (3, 16, 1), (4, 64, 10)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_forward_and_backward_against_numpy(rows, n_in, n_out, dtype):
    """Both forward paths (x @ w.T, and x @ wt through a transposed copy) and the backward's
    returned check, against numpy in float64."""
    r = np.random.default_rng(n_in)
    x, w = r.normal(size=(rows, n_in)), r.normal(size=(n_out, n_in))
    bias, gz = r.normal(size=n_out), r.normal(size=(rows, n_out))
    expected = x @ w.T + bias
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-5, atol=1e-5)
    xd, wd, bd, gzd = (a.astype(dtype) for a in (x, w, bias, gz))
    for wt in (np.empty((0, n_out), dtype), np.zeros((n_in, n_out), dtype)):
        z = np.empty((rows, n_out), dtype)
        dense.forward(xd, wd, bd, True, z, wt)
        np.testing.assert_allclose(z, expected, **tol)
        if wt.size:
            np.testing.assert_array_equal(wt, wd.T)
    assert transposed_forward(n_in, n_out) == (n_out >= 16 and n_in * n_out <= 16384)
    gw, gb, gx = np.empty_like(wd), np.empty_like(bd), np.empty_like(xd)
    for squares in (False, True):
        got = dense.backward(xd, wd, gzd, gw, gb, True, gx, True, squares)
        np.testing.assert_allclose(gw, gz.T @ x, **tol)
        np.testing.assert_allclose(gb, gz.sum(0), **tol)
        np.testing.assert_allclose(gx, gz @ w, **tol)
        want = float(np.sum(gw.astype(np.float64) ** 2) + np.sum(gb.astype(np.float64) ** 2))
        assert got == pytest.approx(want if squares else 0.0, rel=1e-12)
    gzd[rows - 1, n_out - 1] = np.nan
    assert np.isnan(dense.backward(xd, wd, gzd, gw, gb, True, gx, False, False))
