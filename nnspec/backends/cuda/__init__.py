"""backends.cuda: Plan -> CudaExecutable (numba.cuda kernels, cuBLAS through CuPy).

Importing this package imports no CUDA code: `compile()` loads the kernels on first use,
and the probes (`cuda_available`, `is_available`, `device_info`) look for numba-cuda and
the NVIDIA driver before touching numba.cuda, so a machine without a GPU never fails here.
`compile()` raises the E501 diagnostic when no GPU can run the plan; under the CUDA
simulator (NUMBA_ENABLE_CUDASIM=1, the tests) it runs the same kernels on the CPU.

Kernels mirror backends/cpu/ file by file: activations, dense (+ cublas), dropout,
batchnorm, losses, optimizers; engine.py launches whole chunks of batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnspec.backends.cuda.probe import (
    cuda_available,
    device_error,
    device_info,
    is_available,
    require_device,
)

if TYPE_CHECKING:
    from nnspec.backends.cuda.executable import CudaExecutable
    from nnspec.lower.plan import Plan


def compile(plan: Plan) -> CudaExecutable:  # noqa: A001 - the stage verb
    """Build the CUDA executable of `plan` (E501 DiagnosticError without a usable GPU)."""
    require_device()
    from nnspec.backends.cuda.executable import compile as build

    return build(plan)


__all__ = ["compile", "cuda_available", "device_error", "device_info", "is_available"]
