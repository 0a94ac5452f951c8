"""backends.cuda.probe: this machine -> whether the CUDA backend can run, and on what.

Cheap and side-effect free where it can be: without numba-cuda, or without the NVIDIA driver
library, nothing CUDA is imported at all (`device auto` asks on every run). The CUDA
simulator (NUMBA_ENABLE_CUDASIM=1) is not a GPU: `cuda_available()` says no under it, so
`device auto` never trains on the simulator, while `compile()` still accepts it (that is
how the tests run the kernels without a GPU).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
import os
import sys

from nnspec.diagnostics import DiagnosticError, error

INSTALL_HINT = "install the GPU extra: pip install 'nnspec[cuda]'"


def simulator_requested() -> bool:
    """True when numba.cuda is (or will be) the simulator."""
    mod = sys.modules.get("numba.core.config")
    if mod is not None and getattr(mod, "ENABLE_CUDASIM", False):
        return True
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def _has_numba_cuda() -> bool:
    return importlib.util.find_spec("numba_cuda") is not None


def _has_driver() -> bool:
    """Whether the NVIDIA driver library loads (no CUDA import, no context)."""
    names = ["libcuda.so.1", "libcuda.so"] if sys.platform.startswith("linux") else []
    found = ctypes.util.find_library("cuda") or ctypes.util.find_library("nvcuda")
    if found:
        names.append(found)
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


@functools.cache
def _probe() -> tuple[bool, str]:
    if not _has_numba_cuda():
        return False, f"numba-cuda is not installed ({INSTALL_HINT})"
    if simulator_requested():
        return False, "NUMBA_ENABLE_CUDASIM=1 is set: the CUDA simulator is not a GPU"
    if not _has_driver():
        return False, "no NVIDIA driver (libcuda) on this machine"
    try:
        from numba import cuda

        if cuda.is_available():
            return True, "a CUDA GPU is available"
        return False, "the NVIDIA driver found no usable CUDA device"
    except Exception as exc:  # noqa: BLE001 - any driver/toolkit problem means: no GPU
        return False, f"CUDA initialisation failed: {type(exc).__name__}: {exc}"


def cuda_available() -> tuple[bool, str]:
    """(True, why) when a real GPU can run the backend, else (False, the reason)."""
    return _probe()


def is_available() -> bool:
    """Whether `device auto` should pick the GPU (run/session.py asks this)."""
    return cuda_available()[0]


def device_info() -> dict[str, object]:
    """{name, memory (bytes, total), compute_capability, simulator} of the device the backend
    runs on; name None (and a `reason`) when there is none. For the run manifest."""
    if simulator_requested() and _has_numba_cuda():
        return {"name": "CUDA simulator", "memory": None, "compute_capability": None,
                "simulator": True}
    ok, why = cuda_available()
    if not ok:
        return {"name": None, "memory": None, "compute_capability": None, "simulator": False,
                "reason": why}
    from numba import cuda

    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    _free, total = cuda.current_context().get_memory_info()
    return {"name": name, "memory": int(total), "compute_capability": list(dev.compute_capability),
            "simulator": False}


def device_error(reason: str, path: str | None = "--device") -> DiagnosticError:
    """The E501 diagnostic for `device cuda` on a machine that cannot run it."""
    return DiagnosticError(error(
        "E501", "device cuda requested but no usable GPU was found", path=path, notes=[reason],
        hints=["use `--device cpu` (or `device auto` in the spec) to train on the CPU"]))


def require_device() -> None:
    """Raise E501 unless a GPU (or the simulator, for tests) can run the kernels."""
    if simulator_requested() and _has_numba_cuda():
        return
    ok, why = cuda_available()
    if not ok:
        raise device_error(why)
