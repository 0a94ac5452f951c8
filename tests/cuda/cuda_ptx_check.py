"""Compile every kernel of the CUDA backend to PTX, without a GPU and without the simulator:
type inference, lowering and NVVM run exactly as on a GPU, so a kernel that only the
simulator accepts fails here. Run as a script (tests/cuda/test_cuda_probe.py does, in a
child process whose NUMBA_ENABLE_CUDASIM is unset); prints one line per kernel and exits 1
on a failure, 3 when NVVM is not installed.

    python tests/cuda/cuda_ptx_check.py float32 float64
"""

from __future__ import annotations

import sys
from types import SimpleNamespace


def kernels(ns, seen):
    from nnspec.backends.cuda.jit import Kernel

    for value in vars(ns).values():
        items = value.values() if isinstance(value, dict) else [value]
        for item in items:
            if isinstance(item, SimpleNamespace):
                yield from kernels(item, seen)
            elif isinstance(item, Kernel) and id(item) not in seen:
                seen.add(id(item))
                yield item


def main(dtypes: list[str]) -> int:
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda
    from numba.cuda.cudadrv import nvrtc
    from numba.cuda.cudadrv.nvvm import NVVM

    try:  # the toolkit libraries compile_ptx needs (pip: nvidia-nvvm, nvidia-cuda-nvrtc)
        NVVM().get_version()
        nvrtc._get_nvrtc_version()
    except Exception as exc:  # noqa: BLE001
        print(f"NVVM/NVRTC unavailable: {type(exc).__name__}: {str(exc)[:300]}")
        return 3

    # Device functions are compiled for the current device's compute capability; there is
    # no device here, so name one (A100's; PTX for it is valid on every later GPU).
    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=(8, 0))
    from nnspec.backends.cuda import engine

    failed = 0
    for dtype in dtypes:
        for k in kernels(engine.build(dtype), set()):
            try:
                cuda.compile_ptx(k.fn, k.sig, cc=(8, 0))
                print(f"{dtype} {k.fn.__name__}: ok", flush=True)
            except Exception as exc:  # noqa: BLE001
                text = f"{type(exc).__name__}: {exc}"
                print(f"{dtype} {k.fn.__name__}: FAILED {text[:2000]}", flush=True)
                failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["float32", "float64"]))
