"""backends.cpu.views: a flat buffer -> 2-D and 1-D views of it, without Numba's reshape.

The engine keeps every matrix in flat buffers and hands BLAS 2-D views of them. In compiled
code `buf[off:off + r * c].reshape((r, c))` calls Numba's C helper
`numba_attempt_nocopy_reshape`, ~13 ns a call (measured on an AMD EPYC): on the tiny
benchmark network that is ~35 calls, ~0.45 us, of a ~4.5 us training step. `matrix` and
`flat` build the same views directly (data pointer, shape, strides; the buffer's memory
owner shared, as a slice does), with no call into a C helper.

Both check that the view lies inside the buffer and raise IndexError otherwise (a slice
would have shrunk silently, and reshape then raised).
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from nnspec.backends.cpu.jit import kernel


def _view_codegen(ndim):  # type: ignore[no-untyped-def]
    """codegen of a C-contiguous ndim-D view at element `off` of a C-contiguous array: the
    arguments after (array, off) are the ndim extents."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        src = make_array(signature.args[0])(context, builder, args[0])
        out = make_array(signature.return_type)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(signature.args[0].dtype)))
        shape = list(args[2:2 + ndim])
        strides = [itemsize]
        for extent in reversed(shape[1:]):
            strides.insert(0, builder.mul(strides[0], extent))
        populate_array(out, data=builder.gep(src.data, [args[1]]),
                       shape=cgutils.pack_array(builder, shape),
                       strides=cgutils.pack_array(builder, strides), itemsize=itemsize,
                       meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, signature.return_type, out._getvalue())
    return codegen


def _contiguous(arr) -> bool:  # type: ignore[no-untyped-def]
    return isinstance(arr, types.Array) and arr.layout == "C"


@intrinsic
def _matrix(typingctx, buf, off, rows, cols):  # type: ignore[no-untyped-def]
    if not _contiguous(buf):
        return None
    sig = types.Array(buf.dtype, 2, "C")(buf, types.intp, types.intp, types.intp)
    return sig, _view_codegen(2)


@intrinsic
def _vector(typingctx, buf, off, n):  # type: ignore[no-untyped-def]
    if not _contiguous(buf):
        return None
    return types.Array(buf.dtype, 1, "C")(buf, types.intp, types.intp), _view_codegen(1)


@kernel
def matrix(buf, off, rows, cols):  # type: ignore[no-untyped-def]
    """buf[off:off + rows * cols] as a (rows, cols) C-contiguous view; buf C-contiguous (any
    dimensions: its elements in order)."""
    if off < 0 or rows < 0 or cols < 0 or off + rows * cols > buf.size:
        raise IndexError("matrix view outside its buffer")
    return _matrix(buf, off, rows, cols)


@kernel
def flat(arr):  # type: ignore[no-untyped-def]
    """A C-contiguous array's elements as a 1-D view."""
    return _vector(arr, 0, arr.size)
