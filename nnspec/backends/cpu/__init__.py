"""backends.cpu: Plan -> CpuExecutable (Numba njit, one compiled engine per dtype).

Kernels mirror backends/reference/ file by file: activations, dense, dropout, batchnorm,
losses, optimizers; engine.py runs whole chunks of batches; nonfinite.py explains NaN/inf.
"""

from nnspec.backends.cpu.executable import CpuExecutable, compile

__all__ = ["CpuExecutable", "compile"]
