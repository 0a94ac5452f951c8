"""backends.cpu.approx: float32 x -> tanh(x), sigmoid(x), exp(x), fast approximations
(float32 only), and a row's maximum (float32 or float64).

On small networks the transcendental functions dominate the step time (this Numba build has
no vector math library, so np.tanh is a scalar libm call per element). A branch-free
rational approximation vectorises instead. float64 plans always use the exact functions.

tanh(x) ~ x*P(x^2)/Q(x^2) on x clamped to [-c, c], P of degree 6 and Q of degree 3 in x^2
(the minimax fit Eigen uses for float tanh); max abs error ~3.4e-7 over the real line
(tests/cpu/test_cpu_ops.py measures it). sigmoid(x) = (1 + tanh(x/2))/2, so its
error is half that.

exp(x) = 2^n exp(r), n = round(x log2 e), r = x - n ln 2 (ln 2 in two parts, so r is exact),
exp(r) by Cephes' degree-7 polynomial for expf, 2^n built from its bits; within 1 ulp of the
correctly rounded exp over the range softmax uses, [-87.3, 0] (tests/cpu/test_cpu_ops.py
measures it; NumPy's float32 exp is within 2 ulp of the same reference, and PyTorch's
vectorised softmax uses a polynomial of the same kind). exp(0) is exactly 1, which
the fused softmax-crossentropy loss relies on (losses.py); below -87.3 the result is 0, as
expf's would be once denormals are flushed (fpu.py); NaN gives NaN. Branch-free, so a
softmax row's exps vectorise: the words model's 64 x 5,000 softmax took 1.0 ms a batch with
a libm call per element, 0.16 ms with this and row_max.

row_max(v, base, n) is max(v[base:base + n]) taken over integer keys, the float's bits with
the magnitude bits flipped for negative numbers, which order as the floats do: LLVM
vectorises an integer maximum, but not a float one unless told there is no NaN, which
non-finite detection needs (jit.py). 0.025 ms for 64 rows of 5,000 against 0.17 ms for a
running float maximum.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from nnspec.backends.cpu.jit import kernel

_CLAMP = np.float32(7.90531110763549805)
_A1 = np.float32(4.89352455891786e-03)
_A3 = np.float32(6.37261928875436e-04)
_A5 = np.float32(1.48572235717979e-05)
_A7 = np.float32(5.12229709037114e-08)
_A9 = np.float32(-8.60467152213735e-11)
_A11 = np.float32(2.00018790482477e-13)
_A13 = np.float32(-2.76076847742355e-16)
_B0 = np.float32(4.89352518554385e-03)
_B2 = np.float32(2.26843463243900e-03)
_B4 = np.float32(1.18534705686654e-04)
_B6 = np.float32(1.19825839466702e-06)
_HALF = np.float32(0.5)


@kernel
def tanh32(x):  # type: ignore[no-untyped-def]
    """tanh(x) for a float32 scalar, ~3.4e-7 absolute error."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = _A13
    p = p * x2 + _A11
    p = p * x2 + _A9
    p = p * x2 + _A7
    p = p * x2 + _A5
    p = p * x2 + _A3
    p = p * x2 + _A1
    q = _B6
    q = q * x2 + _B4
    q = q * x2 + _B2
    q = q * x2 + _B0
    return x * p / q


@kernel
def sigmoid32(x):  # type: ignore[no-untyped-def]
    """1/(1+exp(-x)) for a float32 scalar via tanh32, ~1.7e-7 absolute error."""
    return _HALF + _HALF * tanh32(_HALF * x)


_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)  # ln 2 = _LN2_HI + _LN2_LO, _LN2_HI with 9 bits
_LN2_LO = np.float32(-2.12194440e-4)
_E0 = np.float32(1.9875691500e-4)
_E1 = np.float32(1.3981999507e-3)
_E2 = np.float32(8.3334519073e-3)
_E3 = np.float32(4.1665795894e-2)
_E4 = np.float32(1.6666665459e-1)
_E5 = np.float32(5.0000001201e-1)
_EXP_LO = np.float32(-87.33654)  # exp(_EXP_LO) ~ 1.18e-38, float32's smallest normal
_EXP_HI = np.float32(88.37626)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)


@intrinsic
def _bits(typingctx, x):  # type: ignore[no-untyped-def]
    """A float's bits as the signed integer of its width."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(x.bitwidth))
    return (types.int32 if x.bitwidth == 32 else types.int64)(x), codegen


@intrinsic
def _from_bits(typingctx, k, like):  # type: ignore[no-untyped-def]
    """The float of like's type whose bits are the low bits of the integer k."""
    if not isinstance(like, types.Float) or not isinstance(k, types.Integer):
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        v, width = args[0], like.bitwidth
        if v.type.width > width:
            v = builder.trunc(v, ir.IntType(width))
        elif v.type.width < width:
            v = builder.sext(v, ir.IntType(width))
        return builder.bitcast(v, ir.FloatType() if width == 32 else ir.DoubleType())
    return like(k, like), codegen


@kernel(fastmath={"nsz", "arcp", "afn"})  # no reassociation: (c - n hi) - n lo as written
def exp32(x):  # type: ignore[no-untyped-def]
    """exp(x) for a float32 scalar, within 1 ulp on [-87.3, 0]; 0 below -87.3."""
    c = min(max(x, _EXP_LO), _EXP_HI)
    fn = np.floor(c * _LOG2E + _HALF)
    r = c - fn * _LN2_HI
    r = r - fn * _LN2_LO
    p = _E0
    p = p * r + _E1
    p = p * r + _E2
    p = p * r + _E3
    p = p * r + _E4
    p = p * r + _E5
    p = p * r * r + r + _ONE
    e = p * _from_bits((np.int32(fn) + 127) << 23, _ONE)  # 2^n from its exponent bits
    if x < _EXP_LO:
        e = _ZERO
    if x != x:
        e = x
    return e


@kernel
def row_max(v, base, n):  # type: ignore[no-untyped-def]
    """max(v[base:base + n]) for n >= 1, float32 or float64. With a NaN among them the
    result may or may not be NaN: the callers' results are NaN either way (softmax:
    exp(NaN - m))."""
    shift = 31 if v.itemsize == 4 else 63
    low = (1 << shift) - 1
    b0 = np.uint64(base)  # unsigned indices: no negative-index wraparound to block LLVM
    first = _bits(v[b0])
    best = first ^ ((first >> shift) & low)
    for j in range(np.uint64(1), np.uint64(n)):
        b = _bits(v[b0 + j])
        key = b ^ ((b >> shift) & low)  # ordered as the floats are (-0 below +0)
        best = key if key > best else best
    return _from_bits(best ^ ((best >> shift) & low), v[b0])
