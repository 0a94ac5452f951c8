"""benchmarks.profile_cpu: a bench_cpu case -> time per batch of each engine kernel.

Calls the cpu backend's jitted kernels one by one on the shapes of one training step of a
case (best of several repeats) and compares their sum with the engine's measured time per
batch, so a missed target can be pinned on a kernel.

    .venv/bin/python benchmarks/profile_cpu.py large
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_cpu import CASES, make_data  # noqa: E402

from nnspec.backends import cpu  # noqa: E402
from nnspec.backends.base import as_inputs, as_targets, dropout_rng  # noqa: E402
from nnspec.backends.cpu import activations, dense, engine, losses, optimizers  # noqa: E402
from nnspec.lower import lower  # noqa: E402
from nnspec.lower.plan import A_RELU, DENSE  # noqa: E402
from nnspec.pipeline import diagnose  # noqa: E402


def best(fn, repeats: int = 20) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(name: str) -> None:
    case = CASES[name]
    spec, _ = diagnose(case.spec_text(1))
    plan = lower(spec)
    x, y = make_data(name)
    xs, ys = as_inputs(plan, x), as_targets(plan, y)
    b = plan.batch_size(len(xs))
    exe = cpu.compile(plan)
    order = np.arange(len(xs))
    nb = min(plan.n_batches(len(xs)), 100)
    exe.train_epoch(xs, ys, order, 1e-3, 0, 2, dropout_rng(0))
    per_batch = min(best(lambda: exe.train_epoch(xs, ys, order, 1e-3, 0, nb, dropout_rng(0)),
                         3) / nb for _ in range(1))
    dt = xs.dtype
    rng = np.random.default_rng(0)
    rows: list[tuple[str, float]] = []
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
        rows.append((f"dense.forward {shape}", best(
            lambda xin=xin, w=w, bias=bias, z=z: dense.forward(xin, w, bias, True, z))))
        rows.append((f"dense.backward {shape}{' (no dx)' if first else ''}", best(
            lambda xin=xin, w=w, gz=gz, gw=gw, bias=bias, gx=gx, first=first:
            dense.backward(xin, w, gz, gw, bias, True, gx, not first))))
        rows.append((f"  numpy gemms of that layer (x@w.T, gz.T@x{'' if first else ', gz@w'})",
                     best(lambda xin=xin, w=w, gz=gz, first=first: (
                         xin @ w.T, gz.T @ xin, None if first else gz @ w))))
        if layer.act == A_RELU:
            zf, af, gf = z.ravel(), np.empty(z.size, dt), gz.ravel().copy()
            rows.append((f"activations relu fwd+bwd {shape}", best(
                lambda zf=zf, af=af, gf=gf, n=layer.n_out: (
                    activations.forward(A_RELU, 0.0, 0.0, zf, af, n, True),
                    activations.backward(A_RELU, 0.0, 0.0, zf, af, gf, n)))))
    n = plan.n_params
    w = rng.standard_normal(n).astype(dt)
    g = rng.standard_normal(n).astype(dt) * dt.type(1e-3)
    state = optimizers.init_state(plan.optimizer, n, plan.dtype)
    hyper = optimizers.hyper_array(plan.optimizer)
    rows.append((f"optimizers.step {plan.optimizer.name} ({n:,} params)", best(
        lambda: optimizers.step(plan.optimizer.code, w, g, state, hyper, 1e-3, 5))))
    rows.append(("optimizers.sum_squares (finite check)", best(
        lambda: optimizers.sum_squares(g))))
    k = plan.n_outputs
    zz = rng.standard_normal(b * k).astype(dt)
    yy = ys[:b].ravel().copy()
    gg = np.empty_like(zz)
    rows.append(("losses.loss_sum + loss_grad", best(lambda: (
        losses.loss_sum(plan.loss, plan.loss_param, plan.fused, zz, zz, yy, b, k),
        losses.loss_grad(plan.loss, plan.loss_param, plan.fused, zz, yy, gg, b, k, 1.0)))))
    ws = np.empty(b * (xs.shape[1] + ys.shape[1]), dt)
    rows.append(("engine._gather (batch rows)", best(
        lambda: engine._gather(xs, ys, order, 0, b, ws, b * xs.shape[1]))))
    work = exe._get_work(b)
    lay, rng_d = work.layout, dropout_rng(0)
    engine_rows = [
        ("engine.forward (whole network, in the workspace)", best(lambda: engine.forward(
            b, True, lay.itab, lay.ftab, exe.params, exe.buffers, work.ws, rng_d, exe.fast))),
        ("engine.backward (whole network)", best(lambda: engine.backward(
            b, plan.fused, lay.itab, lay.ftab, exe.params, exe.grad, work.ws, work.g1,
            work.g2))),
        ("optimizers.step on the executable's buffers", best(lambda: optimizers.step(
            plan.optimizer.code, exe.params, exe.grad, exe.state, exe.hyper, 1e-3, 5))),
    ]
    print(f"{name}: batch {b}, {THREADS} threads; engine {per_batch * 1e3:.3f} ms per batch "
          f"(best of 3 runs of {nb} batches)")
    total = sum(t for label, t in rows if not label.startswith("  "))
    for label, t in rows:
        print(f"  {label:58} {t * 1e3:8.3f} ms  {100 * t / per_batch:5.1f}%")
    print(f"  {'sum of the kernels above':58} {total * 1e3:8.3f} ms  "
          f"{100 * total / per_batch:5.1f}%")
    print("in the engine's own buffers:")
    for label, t in engine_rows:
        print(f"  {label:58} {t * 1e3:8.3f} ms  {100 * t / per_batch:5.1f}%")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "large")
