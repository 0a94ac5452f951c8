"""benchmarks.bench_conv_layout: NCHW or NHWC for the cpu engine's conv2d, by its gemms.

The cpu engine keeps images NCHW (backends/cpu/conv2d.py): one gemm per sample,
z_s (F, P) = w (F, K) @ cols_s (K, P), whose output is already the sample's NCHW block.
NHWC would make one gemm per batch, z (B*P, F) = cols (B*P, K) @ w.T, but then flatten
(PyTorch's order is NCHW) and the PyTorch weight layout need a reordering. This times both
gemms alone, single-threaded, by CPU time (so a busy machine does not skew the
comparison), on the benchmark networks' conv shapes (bench_conv.py):

    python benchmarks/bench_conv_layout.py
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

SHAPES = (("lenet conv1", 6, 25, 784, 32), ("lenet conv2", 16, 150, 100, 32),
          ("convnet conv2", 64, 288, 196, 128), ("convnet conv3", 64, 576, 49, 128))


def _best(fn, n: int = 30) -> float:  # type: ignore[no-untyped-def]
    fn()
    best = 1e9
    for _ in range(n):
        t = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t)
    return best


def main() -> None:
    r = np.random.default_rng(0)
    for name, f, k, p, b in SHAPES:
        w = r.standard_normal((f, k), dtype=np.float32)
        cols = r.standard_normal((b, k, p), dtype=np.float32)
        z = np.empty((b, f, p), np.float32)
        cols_t = r.standard_normal((b * p, k), dtype=np.float32)
        z_t = np.empty((b * p, f), np.float32)

        def nchw(w=w, cols=cols, z=z, b=b) -> None:  # type: ignore[no-untyped-def]
            for s in range(b):
                np.matmul(w, cols[s], out=z[s])

        def nhwc(w=w, cols_t=cols_t, z_t=z_t) -> None:  # type: ignore[no-untyped-def]
            np.matmul(cols_t, w.T, out=z_t)

        a, c = _best(nchw), _best(nhwc)
        flops = 2 * f * k * p * b
        print(f"{name:14s} F={f} K={k} P={p} B={b}: NCHW per-sample gemms {a * 1e3:.2f} ms "
              f"({flops / a / 1e9:.1f} GFLOP/s), NHWC one gemm {c * 1e3:.2f} ms "
              f"({flops / c / 1e9:.1f} GFLOP/s)")


if __name__ == "__main__":
    main()
