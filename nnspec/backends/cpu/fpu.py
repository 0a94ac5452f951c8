"""backends.cpu.fpu: MXCSR -> MXCSR with denormals flushed while a chunk trains (x86), Numba.

Denormal numbers (below ~1.2e-38 in float32) are 10-100x slower to compute with on x86.
They appear in real training: the Adam moment of a weight whose gradient stays zero (a dead
ReLU unit) decays by beta1 each step and passes through the denormal range; measured, that
made the Adam update 6-10x slower. The engine therefore sets flush-to-zero and
denormals-are-zero (MXCSR bits 15 and 6) for the duration of a chunk and restores the
caller's MXCSR afterwards, so NumPy and Python around it keep IEEE semantics. The only
numerical effect is that values below the smallest normal number become 0.

On other architectures both functions compile to nothing (the check runs when Numba
generates the code).
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
FTZ_DAZ = 0x8040


@intrinsic
def get_mxcsr(typingctx):  # type: ignore[no-untyped-def]
    """The current MXCSR (0 where there is none)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        i32 = ir.IntType(32)
        if not X86:
            return ir.Constant(i32, 0)
        slot = cgutils.alloca_once(builder, i32)
        fnty = ir.FunctionType(ir.VoidType(), [slot.type])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.stmxcsr")
        builder.call(fn, [slot])
        return builder.load(slot)
    return types.uint32(), codegen


@intrinsic
def set_mxcsr(typingctx, value):  # type: ignore[no-untyped-def]
    """Load `value` into MXCSR (no-op where there is none)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        if X86:
            i32 = ir.IntType(32)
            v = args[0]
            if v.type.width > 32:
                v = builder.trunc(v, i32)
            elif v.type.width < 32:
                v = builder.zext(v, i32)
            slot = cgutils.alloca_once(builder, i32)
            builder.store(v, slot)
            fnty = ir.FunctionType(ir.VoidType(), [slot.type])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.ldmxcsr")
            builder.call(fn, [slot])
        return context.get_dummy_value()
    return types.void(value), codegen
