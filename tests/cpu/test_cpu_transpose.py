"""blas.transpose, the BLAS out-of-place transpose behind dense.forward's transposed weight
copy: OpenBLAS's cblas_?omatcopy where scipy's BLAS is OpenBLAS, else a Numba cfunc loop
registered under the same symbol (both checked here, against numpy)."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
import threadpoolctl
from numba import types

from nnspec.backends.cpu import blas
from nnspec.backends.cpu import dense as cpu_dense


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows, cols", [(1, 1), (2, 16), (16, 16), (64, 128), (128, 64),
                                        (37, 5), (0, 4), (3, 0)])
def test_transpose_against_numpy(rows, cols, dtype):
    """b[b_off:] = a[a_off:] as (rows, cols), transposed; the values around it untouched."""
    r = np.random.default_rng(rows * 1000 + cols)
    a = r.normal(size=3 + rows * cols + 2).astype(dtype)
    b = np.full(5 + rows * cols + 4, 7.0, dtype)
    blas.transpose(a, 3, rows, cols, b, 5)
    expect = a[3:3 + rows * cols].reshape(rows, cols).T.ravel()
    assert (b[5:5 + rows * cols] == expect).all()  # a copy: bit for bit
    assert (b[:5] == 7.0).all() and (b[5 + rows * cols:] == 7.0).all()


def test_transpose_keeps_non_finite_values():
    a = np.array([np.nan, np.inf, -np.inf, 1.0, -0.0, 2.0], np.float32)
    b = np.zeros(6, np.float32)
    blas.transpose(a, 0, 2, 3, b, 0)
    np.testing.assert_array_equal(b, a.reshape(2, 3).T.ravel())


@pytest.mark.parametrize("dtype, ctype, numba_type",
                         [("float32", ctypes.c_float, types.float32),
                          ("float64", ctypes.c_double, types.float64)])
def test_fallback_loop_against_numpy(dtype, ctype, numba_type):
    """The cfunc registered when scipy's BLAS has no omatcopy, called as BLAS would be."""
    fn = blas._fallback_omatcopy(numba_type)
    rows, cols = 7, 5
    a = np.arange(rows * cols, dtype=dtype) * 0.5 - 3
    b = np.zeros(rows * cols, dtype)
    ptr = ctypes.POINTER(ctype)
    fn.ctypes(101, 112, rows, cols, ctype(1.0), a.ctypes.data_as(ptr), cols,
              b.ctypes.data_as(ptr), rows)
    assert (b == a.reshape(rows, cols).T.ravel()).all()


def test_openblas_is_used_when_scipy_ships_it():
    libs = [lib for lib in threadpoolctl.threadpool_info()
            if lib["internal_api"] == "openblas" and "scipy_openblas-" in lib["filepath"]]
    if not libs:
        pytest.skip("scipy's BLAS is not its bundled OpenBLAS here")
    assert blas.OMATCOPY == "openblas"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_forward_through_the_copy(dtype):
    """z = x @ w.T + bias, computed through wt = w.T (the copy refreshed from w each call)."""
    r = np.random.default_rng(3)
    x = r.normal(size=(32, 64)).astype(dtype)
    bias = r.normal(size=128).astype(dtype)
    wt = np.empty((64, 128), dtype)
    z = np.empty((32, 128), dtype)
    for step in range(2):  # a changed w must be seen: the copy is per call
        w = r.normal(size=(128, 64)).astype(dtype)
        cpu_dense.forward(x, w, bias, True, z, wt)
        assert (wt == w.T).all(), step
        tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(z, x.astype(np.float64) @ w.T.astype(np.float64) + bias,
                                   **tol)
