"""benchmarks.profile_cpu: a bench_cpu case -> time per batch of each cpu engine kernel.

Runs every kernel of one training step of a case on that case's shapes, each repeated
inside compiled code (a jitted loop, so the microsecond kernels of the tiny case are not
drowned by Python's call overhead), best of several runs, and compares them with the
engine's own time per batch (engine.train_chunk over a whole epoch), so a missed target
can be pinned on a kernel. The `numpy` rows time the same gemms through numpy, for scale.

    .venv/bin/python benchmarks/profile_cpu.py large     # or tiny, small
"""

from __future__ import annotations

import os
import sys

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_cpu import CASES, make_data  # noqa: E402

from nnspec.backends import cpu  # noqa: E402
from nnspec.backends.base import as_inputs, as_targets, dropout_rng  # noqa: E402
from nnspec.backends.cpu import activations, dense, engine, fpu, losses, optimizers  # noqa: E402
from nnspec.backends.cpu.executable import dropout_draws, one_blas_thread  # noqa: E402
from nnspec.backends.cpu.jit import drop_stale_cache  # noqa: E402
from nnspec.backends.cpu.layout import SPLIT, T_IN, T_OUT, transposed_forward  # noqa: E402
from nnspec.lower import lower  # noqa: E402
from nnspec.lower.plan import A_LINEAR, DENSE  # noqa: E402
from nnspec.pipeline import diagnose  # noqa: E402

# The repetition loops below inline engine kernels and are cached on disk; Numba checks only
# this file's timestamp, so compiled code made from older kernels would be timed. Empty the
# cache when the engine's sources changed (as the engine's own cache is: jit.py).
if os.environ.get("NUMBA_CACHE_DIR") is None:
    drop_stale_cache(Path(__file__).resolve().parent / "__pycache__")

# Repetition loops: compiled, so one Python call runs a kernel `r` times.


@njit
def _flush_denormals() -> None:
    """FTZ/DAZ on this thread from now on, as the engine runs (backends/cpu/fpu.py): the
    repetitions below feed kernels their own outputs, which drift into denormals."""
    fpu.set_mxcsr(fpu.get_mxcsr() | fpu.FTZ_DAZ)


@njit(cache=True)
def _dense_fwd(r, x, w, bias, z, wt):  # type: ignore[no-untyped-def]
    for _ in range(r):
        dense.forward(x, w, bias, True, z, wt)


@njit(cache=True)
def _dense_bwd(r, x, w, gz, gw, gb, gx, need_gx):  # type: ignore[no-untyped-def]
    for _ in range(r):
        dense.backward(x, w, gz, gw, gb, True, gx, need_gx, False)


@njit(cache=True)
def _dense_fwd_t(r, x, w, bias, z, t_in, t_out, parts):  # type: ignore[no-untyped-def]
    rows, n_in, n_out = z.size // w.shape[0], w.shape[1], w.shape[0]
    for _ in range(r):
        dense.forward_t(x.ravel(), w.ravel(), bias, True, z.ravel(), z.ravel(), rows, n_in,
                        n_out, t_in, t_out, parts, A_LINEAR, 0.0, 0.0, False)


@njit(cache=True)
def _dense_bwd_t(r, x, w, gz, gw, gb, gx, need_gx, t_in, t_out, parts):  # type: ignore[no-untyped-def]
    rows, n_in, n_out = gz.size // w.shape[0], w.shape[1], w.shape[0]
    for _ in range(r):
        dense.backward_t(x.ravel(), w.ravel(), gz.ravel(), gw.ravel(), gb, True, gx.ravel(),
                         need_gx, False, rows, n_in, n_out, t_in, t_out, parts, A_LINEAR, 0.0,
                         0.0, x.ravel())


@njit(cache=True)
def _act(r, code, z, a, g0, g, n, fast):  # type: ignore[no-untyped-def]
    for _ in range(r):
        activations.forward(code, 0.0, 0.0, z, a, n, fast)
        g[:] = g0  # else g shrinks to denormals over the repetitions, which are slow
        activations.backward(code, 0.0, 0.0, z, a, g, n)


@njit(cache=True)
def _step(r, code, w, g, state, hyper, parts):  # type: ignore[no-untyped-def]
    for _ in range(r):
        if parts > 1:
            s0, s1, s2 = optimizers.rows(state)
            optimizers.step_parts(parts, code, w, g, s0, s1, s2, hyper, 1e-9, 5)
        else:
            optimizers.step(code, w, g, state, hyper, 1e-9, 5)


@njit(cache=True)
def _finite(r, g, value, norm):  # type: ignore[no-untyped-def]
    s = 0.0
    for _ in range(r):
        s += optimizers.sum_squares(g)
        optimizers.clip(g, value, norm, s)
    return s


@njit(cache=True)
def _loss(r, code, param, fused, z, y, g, rows, k):  # type: ignore[no-untyped-def]
    for _ in range(r):
        s = losses.loss_sum(code, param, fused, z, z, y, rows, k)
        losses.loss_grad(code, param, fused, z, y, g, rows, k,
                         losses.finish(code, s, rows, k))


@njit(cache=True)
def _gather(r, x, y, order, rows, ws, y_off):  # type: ignore[no-untyped-def]
    for _ in range(r):
        engine._gather(x, y, order, 0, rows, ws, y_off)


@njit(cache=True)
def _forward(r, rows, itab, ftab, params, buffers, ws, draws, fast, graph, img):  # type: ignore[no-untyped-def]
    for _ in range(r):
        engine.forward(rows, True, itab, ftab, params, buffers, ws, draws, 0, fast, graph[0],
                       graph[1], img)


@njit(cache=True)
def _backward(r, rows, fused, itab, ftab, params, grad, ws, g1, g2, img):  # type: ignore[no-untyped-def]
    for _ in range(r):
        engine.backward(rows, fused, itab, ftab, params, grad, ws, g1, g2, False, img)


def per_call(fn, *args, target_s: float = 0.05, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Seconds per repetition of fn(r, *args), best of `runs`, r sized to ~target_s."""
    fn(1, *args)
    r = 1
    while True:
        t0 = time.perf_counter()
        fn(r, *args)
        dt = time.perf_counter() - t0
        if dt > target_s / 4 or r > 1 << 22:
            break
        r *= 4
    best = dt / r
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(r, *args)
        best = min(best, (time.perf_counter() - t0) / r)
    return best


def numpy_rep(thunk):  # type: ignore[no-untyped-def]
    def fn(r):  # type: ignore[no-untyped-def]
        for _ in range(r):
            thunk()
    return fn


def main(name: str) -> None:
    _flush_denormals()
    case = CASES[name]
    spec, _ = diagnose(case.spec_text(1))
    plan = lower(spec)
    x, y = make_data(name)
    xs, ys = as_inputs(plan, x), as_targets(plan, y)
    n = len(xs)
    b = plan.batch_size(n)
    nb = plan.n_batches(n)
    exe = cpu.compile(plan)
    order = np.arange(n)
    rng_d = dropout_rng(0)
    exe.train_epoch(xs, ys, order, 1e-9, 0, 2, rng_d)
    epoch = min(_time(lambda: exe.train_epoch(xs, ys, order, 1e-9, 0, nb, rng_d))
                for _ in range(5))
    # The short last batch makes an epoch slightly cheaper than nb full batches.
    batch_t = epoch / (n / b)
    dt = xs.dtype
    rng = np.random.default_rng(0)
    rows: list[tuple[str, float]] = []
    itab = exe._get_work(b).layout.itab
    for layer in plan.layers:
        if layer.kind != DENSE:
            continue
        xin = rng.standard_normal((b, layer.n_in)).astype(dt)
        w = rng.standard_normal((layer.n_out, layer.n_in)).astype(dt)
        bias = np.zeros(layer.n_out, dt)
        z = np.empty((b, layer.n_out), dt)
        gz = rng.standard_normal((b, layer.n_out)).astype(dt)
        gw, gx = np.empty_like(w), np.empty_like(xin)
        first = layer.index == 0
        shape = f"{layer.n_in}->{layer.n_out}"
        # the transposed copy of w where the engine uses one (layout.transposed_forward)
        wt = np.empty((layer.n_in, layer.n_out) if transposed_forward(layer.n_in, layer.n_out)
                      else (0, layer.n_out), dt)
        # the engine's path for this layer: split across threads and / or transposed
        # activations (dense.forward_t, layout.py), or the plain kernels
        t_in, t_out = bool(itab[layer.index, T_IN]), bool(itab[layer.index, T_OUT])
        parts = int(itab[layer.index, SPLIT])
        no_dx = " (no dx)" if first else ""
        if parts > 0 or t_in or t_out:
            how = f" ({parts} thr{', x.T' if t_in else ''}{', z.T' if t_out else ''})"
            with one_blas_thread(parts > 0):
                rows.append((f"dense.forward_t {shape}{how}",
                             per_call(_dense_fwd_t, xin, w, bias, z, t_in, t_out, parts)))
                rows.append((f"dense.backward_t {shape}{no_dx}{how}", per_call(
                    _dense_bwd_t, xin, w, gz, gw, bias, gx, not first, t_in, t_out, parts)))
        else:
            how = " (via w.T copy)" if wt.size else ""
            rows.append((f"dense.forward {shape}{how}",
                         per_call(_dense_fwd, xin, w, bias, z, wt)))
            rows.append((f"dense.backward {shape}{no_dx}{how}",
                         per_call(_dense_bwd, xin, w, gz, gw, bias, gx, not first)))
        rows.append((f"  (numpy, same gemms: {'2' if first else '3'} calls)", per_call(
            numpy_rep(lambda xin=xin, w=w, gz=gz, first=first: (
                xin @ w.T, gz.T @ xin, None if first else gz @ w)))))
        if layer.act != A_LINEAR and layer.index != plan.layers[-1].index:
            zf, af, gf = gz.ravel().copy(), np.empty(z.size, dt), np.empty(z.size, dt)
            rows.append((f"activations {layer.act_name} fwd+bwd {shape}",
                         per_call(_act, layer.act, zf, af, zf, gf, layer.n_out, exe.fast)))
    k = plan.n_outputs
    zz = rng.standard_normal(b * k).astype(dt)
    rows.append(("losses (output activation + loss + gradient)", per_call(
        _loss, plan.loss, plan.loss_param, plan.fused, zz, ys[:b].ravel().copy(),
        np.empty_like(zz), b, k)))
    g = (rng.standard_normal(plan.n_params) * 1e-3).astype(dt)
    w = rng.standard_normal(plan.n_params).astype(dt)
    state = optimizers.init_state(plan.optimizer, plan.n_params, plan.dtype)
    with one_blas_thread(exe.step_parts > 0):
        rows.append((f"optimizers.step {plan.optimizer.name} ({plan.n_params:,} params"
                     f"{f', {exe.step_parts} threads' if exe.step_parts else ''})",
                     per_call(_step, plan.optimizer.code, w, g, state, exe.hyper,
                              exe.step_parts)))
    # the finite check is now part of dense.backward's time (summed while gw is in cache)
    rows.append(("  (sum_squares over all gradients, as a separate pass)",
                 per_call(_finite, g, 0.0, 0.0)))
    ws = np.empty(b * (xs.shape[1] + ys.shape[1]), dt)
    rows.append(("engine._gather (the batch's rows)",
                 per_call(_gather, xs, ys, order, b, ws, b * xs.shape[1])))
    work = exe._get_work(b)
    lay = work.layout
    with one_blas_thread(lay.split):
        whole = [
            ("engine.forward, whole network", per_call(
                _forward, b, lay.itab, lay.ftab, exe.params, exe.buffers, work.ws,
                rng_d.random(dropout_draws(plan, b)),
                exe.fast, work.graph(), work.img)),
            ("engine.backward, whole network", per_call(
                _backward, b, plan.fused, lay.itab, lay.ftab, exe.params, exe.grad, work.ws,
                work.g1, work.g2, work.img)),
        ]
    call = min(_time(lambda: exe.train_epoch(xs, ys, order, 1e-9, 0, 1, rng_d))
               for _ in range(20))
    print(f"{name}: batch {b}, {nb} batches per epoch, {THREADS} threads")
    print(f"engine: {batch_t * 1e6:.2f} us per batch ({epoch * 1e3:.3f} ms per epoch, one "
          f"train_epoch call; a call of one batch from Python: {call * 1e6:.1f} us)")
    total = sum(t for label, t in rows if not label.startswith("  "))
    for label, t in rows:
        print(f"  {label:52} {t * 1e6:9.2f} us {100 * t / batch_t:6.1f}%")
    print(f"  {'sum of the kernels (without the numpy rows)':52} {total * 1e6:9.2f} us "
          f"{100 * total / batch_t:6.1f}%")
    for label, t in whole:
        print(f"  {label:52} {t * 1e6:9.2f} us {100 * t / batch_t:6.1f}%")


def _time(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "large")
