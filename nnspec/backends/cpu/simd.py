"""Explicit vector moves for the image kernels' short rows (conv2d's im2col and col2im).

A row of an im2col is 7 to 28 values. Numba compiles `dst[d + j] = src[s + j]` to a scalar
loop, and LLVM's own vectorised form of it, guarded by runtime checks that the two ranges do
not overlap plus a remainder loop, ran slower still on rows that short (conv2d.py). These
intrinsics load 8 (or 4) values as one vector and store them as one, so a row takes a few
vector moves: the caller guarantees that the ranges do not overlap (im2col reads the input or
its padded copy and writes the columns, different regions of the workspace).

Measured on one core (im2col of one sample, float32; LeNet-5's two layers, and 3x3 layers of
32 and 64 channels over 14x14 and 7x7): 2.7 -> 1.2 us, 3.5 -> 1.9 us, 14.3 -> 5.2 us,
12.0 -> 8.0 us; float64 2-3x.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


def _vector_op(lanes: int, add: bool):  # type: ignore[no-untyped-def]
    """An intrinsic (dst, d, src, s): dst[d:d+lanes] = src[s:s+lanes] (or += when add), for
    1-D contiguous arrays of one dtype and unsigned indices, as one vector load and store."""

    def typer(typingctx, dst, d, src, s):  # type: ignore[no-untyped-def]
        if not (isinstance(dst, types.Array) and isinstance(src, types.Array)
                and dst.dtype == src.dtype and isinstance(dst.dtype, types.Float)):
            return None
        sig = types.void(dst, d, src, s)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            dst_arr = context.make_array(signature.args[0])(context, builder, args[0])
            src_arr = context.make_array(signature.args[2])(context, builder, args[2])
            vec = ir.VectorType(context.get_data_type(signature.args[0].dtype), lanes)
            align = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
            src_ptr = builder.bitcast(builder.gep(src_arr.data, [args[3]]), vec.as_pointer())
            dst_ptr = builder.bitcast(builder.gep(dst_arr.data, [args[1]]), vec.as_pointer())
            value = builder.load(src_ptr, align=align)
            if add:
                value = builder.fadd(builder.load(dst_ptr, align=align), value)
            builder.store(value, dst_ptr, align=align)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = f"{'add' if add else 'copy'}{lanes}"
    return intrinsic(typer)


copy8 = _vector_op(8, False)
copy4 = _vector_op(4, False)
add8 = _vector_op(8, True)
add4 = _vector_op(4, True)
