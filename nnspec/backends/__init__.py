"""backends: Plan -> Executable. One package per backend, each with `compile(plan)`.

`reference` (NumPy float64, the oracle), `cpu` (Numba njit), `cuda` (numba.cuda, imported
only when asked for, so a machine without a GPU never fails at import time). The contract
they share is in backends/base.py.
"""

from __future__ import annotations

import importlib

from nnspec.backends.base import EpochChunk, Executable
from nnspec.lower.plan import Plan

BACKENDS = ("reference", "cpu", "cuda")


def compile(plan: Plan, backend: str = "cpu") -> Executable:  # noqa: A001 - the stage verb
    """Build the Executable of `plan` on the named backend."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    module = importlib.import_module(f"nnspec.backends.{backend}")
    return module.compile(plan)


__all__ = ["BACKENDS", "EpochChunk", "Executable", "compile"]
