"""backends.cpu.approx: float32 x -> tanh(x), sigmoid(x), fast approximations (float32 only).

On small networks the transcendental functions dominate the step time (this Numba build has
no vector math library, so np.tanh is a scalar libm call per element). A branch-free
rational approximation vectorises instead. float64 plans always use the exact functions.

tanh(x) ~ x*P(x^2)/Q(x^2) on x clamped to [-c, c], P of degree 6 and Q of degree 3 in x^2
(the minimax fit Eigen uses for float tanh); max abs error ~3.4e-7 over the real line
(tests/cpu/test_activations.py measures it). sigmoid(x) = (1 + tanh(x/2))/2, so its
error is half that.
"""

from __future__ import annotations

import numpy as np

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
