"""backends.cuda.cublas: strided matrix views of device buffers -> C = A B, cuBLAS or tiled.

Both products take the engine's description of a matrix, a flat device buffer plus (offset,
row stride, column stride), and write a row-major C. `CublasGemm` wraps the same memory as
CuPy arrays (`cupy.asarray` reads numba's __cuda_array_interface__: no copy) and calls
cupy.matmul, which hands C- and F-ordered views (x, w.T, gz.T) to cuBLAS gemm with
transpose flags; it is used when CuPy imports and sees a GPU, and it must agree with the
tiled kernel on a self-check first (`make_gemm`). TF32 is off (CuPy's default without
CUPY_TF32=1), so float32 products are true float32. Both libraries launch on the legacy
default stream, so the products are ordered with the numba kernels without syncs.
`TiledGemm` launches dense.matmul: always under the simulator, and without CuPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnspec.backends.cuda import dense
from nnspec.backends.cuda.jit import SIMULATOR, cuda


class TiledGemm:
    name = "numba.cuda tiled matmul"

    def __init__(self, dtype: str):
        self.kernels = dense.build(dtype)

    def __call__(self, a, a_off, a_rs, a_cs, b, b_off, b_rs, b_cs, c, c_off, c_rs, m, n, k):  # type: ignore[no-untyped-def]
        dense.launch_matmul(self.kernels, a, a_off, a_rs, a_cs, b, b_off, b_rs, b_cs, c, c_off,
                            c_rs, m, n, k)


class CublasGemm:
    name = "cuBLAS (CuPy)"

    def __init__(self, dtype: str):
        import cupy

        self.cp = cupy
        self.dtype = np.dtype(dtype)
        self._flat: dict[int, tuple[Any, Any]] = {}  # id(numba array) -> (array, cupy view)
        self._views: dict[tuple, tuple[Any, Any, Any]] = {}

    def _view(self, buf: Any, off: int, rs: int, cs: int, rows: int, cols: int) -> Any:
        entry = self._flat.get(id(buf))
        if entry is None or entry[0] is not buf:
            entry = self._flat[id(buf)] = (buf, self.cp.asarray(buf))
        flat = entry[1]
        item = self.dtype.itemsize
        return self.cp.ndarray((rows, cols), dtype=self.dtype, memptr=flat.data + off * item,
                               strides=(rs * item, cs * item))

    def __call__(self, a, a_off, a_rs, a_cs, b, b_off, b_rs, b_cs, c, c_off, c_rs, m, n, k):  # type: ignore[no-untyped-def]
        key = (id(a), a_off, a_rs, a_cs, id(b), b_off, b_rs, b_cs, id(c), c_off, c_rs, m, n, k)
        views = self._views.get(key)
        if views is None:
            views = self._views[key] = (self._view(a, a_off, a_rs, a_cs, m, k),
                                        self._view(b, b_off, b_rs, b_cs, k, n),
                                        self._view(c, c_off, c_rs, 1, m, n))
        self.cp.matmul(views[0], views[1], out=views[2])


def cupy_status() -> tuple[bool, str]:
    """(usable, why) for the cuBLAS path."""
    if SIMULATOR:
        return False, "the CUDA simulator has no cuBLAS"
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return False, "CuPy sees no GPU"
    except Exception as exc:  # noqa: BLE001 - not installed, or a broken CUDA install
        return False, f"CuPy unavailable ({type(exc).__name__}: {exc})"
    return True, "CuPy found a GPU"


def self_check(gemm: Any, fallback: TiledGemm, dtype: str) -> str | None:
    """None when `gemm` matches the tiled kernel on the three stride patterns the engine
    uses, at odd sizes; else what went wrong."""
    rng = np.random.default_rng(0)
    m, n, k = 7, 5, 9
    src = cuda.to_device(rng.standard_normal(m * k + k * n).astype(dtype))
    cases = [  # (a_rs, a_cs, b_rs, b_cs): x @ w.T, gz.T @ x, gz @ w
        (k, 1, 1, k), (1, m, n, 1), (k, 1, n, 1)]
    tol = 1e-4 if dtype == "float32" else 1e-10
    for a_rs, a_cs, b_rs, b_cs in cases:
        got = cuda.to_device(np.zeros(m * n, dtype=dtype))
        want = cuda.to_device(np.zeros(m * n, dtype=dtype))
        try:
            gemm(src, 0, a_rs, a_cs, src, m * k, b_rs, b_cs, got, 0, n, m, n, k)
            cuda.synchronize()
        except Exception as exc:  # noqa: BLE001
            return f"{type(exc).__name__}: {exc}"
        fallback(src, 0, a_rs, a_cs, src, m * k, b_rs, b_cs, want, 0, n, m, n, k)
        if not np.allclose(got.copy_to_host(), want.copy_to_host(), rtol=tol, atol=tol):
            return f"cuBLAS and the tiled kernel disagree on strides {(a_rs, a_cs, b_rs, b_cs)}"
    return None


def make_gemm(dtype: str) -> tuple[Any, str]:
    """(the product to use, a line saying which and why)."""
    tiled = TiledGemm(dtype)
    ok, why = cupy_status()
    if not ok:
        return tiled, f"{tiled.name}: {why}"
    try:
        gemm = CublasGemm(dtype)
    except Exception as exc:  # noqa: BLE001
        return tiled, f"{tiled.name}: CuPy failed ({exc})"
    problem = self_check(gemm, tiled, dtype)
    if problem:
        return tiled, f"{tiled.name}: cuBLAS self-check failed ({problem})"
    return gemm, gemm.name
