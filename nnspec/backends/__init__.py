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
# Backends whose engines run any graph of nodes (branches, merges, heads); a backend not
# listed runs chains of layers only, and says so (E506) instead of computing something else.
# Every backend here runs graphs now; the check stays for a backend that starts with chains.
GRAPHS = ("reference", "cpu", "cuda")


def compile(plan: Plan, backend: str = "cpu", *,  # noqa: A001 - the stage verb
            initial_weights: bool = True) -> Executable:
    """Build the Executable of `plan` on the named backend, starting from the plan's initial
    weights: its initializers, or the saved weights of `init from` (every key and shape
    checked: E410 at the model). `initial_weights=False` skips reading the `init from` file,
    for a caller that loads weights of its own next (`predict`, `eval`)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend not in GRAPHS and not plan.is_chain:
        from nnspec.diagnostics import DiagnosticError, error

        where = plan.graph_span()
        raise DiagnosticError(error(
            "E506", f"the {backend} backend runs chains of layers only, and this model "
            "branches (concat, add, residual or head)", where, path=plan.spec_path,
            label="not a chain" if where else None,
            hints=["run it on a backend that runs graphs: " + ", ".join(GRAPHS)]))
    module = importlib.import_module(f"nnspec.backends.{backend}")
    exe = module.compile(plan)
    if initial_weights and plan.init_from is not None:
        from nnspec.weights import load_into

        load_into(exe, plan.init_from, plan.init_span)
    return exe


__all__ = ["BACKENDS", "EpochChunk", "Executable", "compile"]
