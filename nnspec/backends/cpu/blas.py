"""backends.cpu.blas: row-major gemm on flat buffers, whole or split across threads.

    c[m, n] = op(a)[m, k] @ op(b)[k, n]          op(x) = x ('n') or x.T ('t')

a, b, c are flat C-contiguous buffers with an element offset and a leading dimension (the
row stride), so any row or column block of a matrix is a gemm operand without a copy. The
call goes to the BLAS that Numba's own np.dot uses (scipy's OpenBLAS, through Numba's
`numba_xxgemm` helper), as the column-major product c.T = op(b).T @ op(a).T.

Why split ourselves: on the large benchmark's shapes (batch 128, 512-784 wide) OpenBLAS with
2 threads reaches ~210-240 GFLOP/s, and two single-threaded OpenBLAS calls on two blocks of
the output, run from a 2-thread Numba parallel region, reach 250-300 (blocks chosen per
product); more importantly, Numba parallel regions can then also run the optimizer update
on every core (optimizers.step_parts) without OpenBLAS's spinning threads fighting Numba's:
mixing the two made the large benchmark's step 3.3 ms instead of 2.5 (measured). The
caller limits BLAS to one thread while split kernels run (executable.one_blas_thread).

Every output element is computed by one gemm call over the whole k, so a split gives the
same values whichever thread runs which block. The parallel regions that call gemm_block
are in dense.py (and optimizers.step_parts); each runs its blocks under the caller's MXCSR:
the engine flushes denormals (fpu.py), and Numba's worker threads would otherwise not.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType

import llvmlite.binding
import numpy as np
from numba import cfunc, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

from nnspec.backends.cpu.jit import kernel

CYTHON_BLAS = "scipy.linalg.cython_blas"


def _cython_blas() -> ModuleType:
    """scipy.linalg.cython_blas, through which Numba's BLAS calls reach OpenBLAS, loaded
    without running the `scipy.linalg` package's __init__: that imports ~80 modules (pydoc
    among them) and costs ~0.12 s of every short run on this VM, for nothing the engine
    uses. The extension module itself imports nothing from scipy.linalg. Numba looks it up
    by name (numba.np.linalg.ensure_blas, and _helperlib's import_cython_function in C, both
    through sys.modules), so registering it under its own name is all they need; a later
    `import scipy.linalg` (scikit-learn, a user's own code in the same process) runs the
    package as usual and finds this module already loaded. Any surprise: the plain import."""
    if CYTHON_BLAS in sys.modules or "scipy.linalg" in sys.modules:
        return importlib.import_module(CYTHON_BLAS)
    try:
        import scipy

        folder = os.path.join(os.path.dirname(scipy.__file__), "linalg")
        finder = importlib.machinery.FileFinder(folder, (
            importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES))
        spec = finder.find_spec(CYTHON_BLAS)
        if spec is None or spec.loader is None:
            raise ImportError(CYTHON_BLAS)
        module = importlib.util.module_from_spec(spec)
        sys.modules[CYTHON_BLAS] = module
        spec.loader.exec_module(module)
        if not hasattr(module, "__pyx_capi__"):
            raise ImportError(CYTHON_BLAS)
        return module
    except Exception:  # noqa: BLE001 - an unusual scipy layout: import it the usual way
        sys.modules.pop(CYTHON_BLAS, None)
        return importlib.import_module(CYTHON_BLAS)


try:
    _BLAS_MODULE: ModuleType | None = _cython_blas()
except ImportError:
    _BLAS_MODULE = None  # ensure_blas says so below
ensure_blas()  # a clear ImportError now rather than a failure inside compiled code

_XXGEMM = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char, types.intp, types.intp, types.intp, types.voidptr,
    types.voidptr, types.intp, types.voidptr, types.intp, types.voidptr, types.voidptr,
    types.intp))

NO, TRANS = np.int8(ord("n")), np.int8(ord("t"))
# numba_xxgemm's type codes: constants here, as ord() in a kernel compiles Numba's string
# helpers into the engine
SINGLE, DOUBLE = np.int8(ord("s")), np.int8(ord("d"))


@intrinsic
def _address(typingctx, arr, offset):  # type: ignore[no-untyped-def]
    """&arr[offset] of a 1-D contiguous array, as a void pointer."""
    sig = types.voidptr(arr, types.intp)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.bitcast(builder.gep(ary.data, [args[1]]), cgutils.voidptr_t)

    return sig, codegen


@kernel
def gemm(ta, tb, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc, coef):  # type: ignore[no-untyped-def]
    """c = coef[0] op(a) @ op(b) + coef[1] c, one BLAS call (coef: a 2-array of c's dtype)."""
    if m == 0 or n == 0:
        return
    kind = SINGLE if c.itemsize == 4 else DOUBLE
    _XXGEMM(kind, tb, ta, n, m, k, _address(coef, 0), _address(b, b_off), ldb,
            _address(a, a_off), lda, _address(coef, 1), _address(c, c_off), ldc)


# Out-of-place transpose, b (cols, rows) = a (rows, cols).T: OpenBLAS's cblas_?omatcopy
# extension, from the library Numba's np.dot calls (scipy's, reached through
# scipy.linalg.cython_blas, which links it). It transposes a 64x128 float32 matrix in ~1 us
# where a plain Numba loop takes ~3 us (strided reads; AMD EPYC, measured), which is what a
# small dense layer's transposed weight copy costs per batch (dense.forward). The compiled
# kernels call it by a symbol name of ours, registered with LLVM before any kernel is
# compiled or loaded from Numba's cache (the cached code links by name, not by address).
# Without OpenBLAS (another BLAS under scipy), the same symbol is a Numba cfunc loop.
_OMAT_ARGS = (types.intc, types.intc, types.intc, types.intc)


def _omat_sig(dtype, pointer=None):  # type: ignore[no-untyped-def]
    ptr = types.CPointer(dtype) if pointer is None else pointer
    return types.void(*_OMAT_ARGS, dtype, ptr, types.intc, ptr, types.intc)


def _fallback_omatcopy(dtype):  # type: ignore[no-untyped-def]
    """A cfunc with cblas_?omatcopy's signature, for row-major (101) transposes (112) only:
    the one case `transpose` asks for."""
    @cfunc(_omat_sig(dtype))
    def omatcopy(order, trans, rows, cols, alpha, a, lda, b, ldb):  # type: ignore[no-untyped-def]
        for i in range(cols):
            for r in range(rows):
                b[i * ldb + r] = alpha * a[r * lda + i]
    return omatcopy


def _register_omatcopy() -> str:
    """Register nnspec_somatcopy / nnspec_domatcopy with LLVM; says which implementation."""
    try:
        lib = ctypes.CDLL(_BLAS_MODULE.__file__) if _BLAS_MODULE is not None else None
    except OSError:
        lib = None
    found = "openblas"
    for ours, names, dtype in (("nnspec_somatcopy", ("scipy_cblas_somatcopy", "cblas_somatcopy"),
                                types.float32),
                               ("nnspec_domatcopy", ("scipy_cblas_domatcopy", "cblas_domatcopy"),
                                types.float64)):
        address = None
        for name in names:
            fn = getattr(lib, name, None)  # (None when lib is None)
            if fn is not None:
                address = ctypes.cast(fn, ctypes.c_void_p).value
                break
        if address is None:
            impl = _fallback_omatcopy(dtype)
            _KEEP.append(impl)
            address = impl.address
            found = "loop"
        llvmlite.binding.add_symbol(ours, address)
    return found


_KEEP: list[object] = []  # fallback cfuncs stay alive while their addresses are registered
OMATCOPY = _register_omatcopy()
_SOMATCOPY = types.ExternalFunction("nnspec_somatcopy", _omat_sig(types.float32, types.voidptr))
_DOMATCOPY = types.ExternalFunction("nnspec_domatcopy", _omat_sig(types.float64, types.voidptr))
_ROW_MAJOR, _TRANS = np.int32(101), np.int32(112)


@kernel
def transpose(a, a_off, rows, cols, b, b_off):  # type: ignore[no-untyped-def]
    """b[b_off:] as (cols, rows) = a[a_off:] as (rows, cols), transposed; C-contiguous
    arrays of one dtype (of any dimensions: their elements in order)."""
    if rows == 0 or cols == 0:
        return
    r, c = np.int32(rows), np.int32(cols)
    if b.itemsize == 4:
        _SOMATCOPY(_ROW_MAJOR, _TRANS, r, c, np.float32(1.0), _address(a, a_off), c,
                   _address(b, b_off), r)
    else:
        _DOMATCOPY(_ROW_MAJOR, _TRANS, r, c, np.float64(1.0), _address(a, a_off), c,
                   _address(b, b_off), r)


SPLIT_ALIGN = 16  # block boundaries are multiples of 16 values (64-byte float32 rows)


@kernel
def bound(n, parts, p):  # type: ignore[no-untyped-def]
    """Where block p of a length-n range cut into `parts` blocks starts (p = parts: n).
    Interior boundaries are rounded up to SPLIT_ALIGN; a block may be empty."""
    if p >= parts:
        return n
    return min(n, (n * p // parts + SPLIT_ALIGN - 1) // SPLIT_ALIGN * SPLIT_ALIGN)


@kernel
def gemm_block(parts, p, by_rows, ta, tb, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc,
               coef):  # type: ignore[no-untyped-def]
    """The gemm of block p of c cut into `parts` blocks of rows (by_rows) or of columns."""
    if by_rows:
        m0 = bound(m, parts, p)
        m1 = bound(m, parts, p + 1)
        ao = a_off + (m0 * lda if ta == NO else m0)
        gemm(ta, tb, m1 - m0, n, k, a, ao, lda, b, b_off, ldb, c, c_off + m0 * ldc, ldc, coef)
    else:
        n0 = bound(n, parts, p)
        n1 = bound(n, parts, p + 1)
        bo = b_off + (n0 if tb == NO else n0 * ldb)
        gemm(ta, tb, m, n1 - n0, k, a, a_off, lda, b, bo, ldb, c, c_off + n0, ldc, coef)
