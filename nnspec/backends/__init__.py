"""backends: Plan -> Executable. One package per backend, each with `compile(plan)`.

`reference` (NumPy float64, the oracle), `cpu` (Numba njit), `cuda` (numba.cuda, imported
only when asked for, so a machine without a GPU never fails at import time). The contract
they share is in backends/base.py.
"""

from __future__ import annotations

import importlib

from nnspec.backends.base import EpochChunk, Executable
from nnspec.lower.plan import LAYER_NAMES, LayerPlan, Plan

BACKENDS = ("reference", "cpu", "cuda")
# Backends whose engines run any graph of nodes (branches, merges, heads); a backend not
# listed runs chains of layers only, and says so (E506) instead of computing something else.
# Every backend here runs graphs now; the check stays for a backend that starts with chains.
GRAPHS = ("reference", "cpu", "cuda")
# The node kinds (lower.plan.LAYER_NAMES: a residual is an `add` node, a head makes none)
# each compiled engine has kernels for: the branches of backends/cpu/engine.py and
# backends/cuda/engine.py. A Plan with another kind is refused (E506) rather than run wrong.
# `batchnorm2d` is a batchnorm over a (C, H, W) input (statistics per channel over the
# positions); the engines' batchnorm kernels take flat rows only. The reference backend runs
# every registered layer. Stated here, not read from the engines, so that the check needs no
# engine imported (cuda's imports numba.cuda); tests/architecture/test_op_coverage.py keeps
# it honest. A kernel added to an engine adds its kind here.
ENGINE_KINDS = frozenset({"dense", "dropout", "batchnorm", "activation", "flatten", "concat",
                          "add", "embedding"})
# the engines' image kernels (backends/cpu/conv2d.py, pool.py, batchnorm.py's *_2d; the
# same names in backends/cuda/)
IMAGE_KINDS = frozenset({"conv2d", "maxpool", "avgpool", "global_avgpool", "batchnorm2d"})
KERNELS: dict[str, frozenset[str] | None] = {"reference": None,
                                             "cpu": ENGINE_KINDS | IMAGE_KINDS,
                                             "cuda": ENGINE_KINDS | IMAGE_KINDS}


def node_kernel(node: LayerPlan) -> str:
    """The kernel a node needs, as KERNELS names it."""
    kind = LAYER_NAMES[node.kind]
    return "batchnorm2d" if kind == "batchnorm" and len(node.in_shape) > 1 else kind


def missing_kernels(plan: Plan, backend: str) -> list[LayerPlan]:
    """The nodes of `plan` the named backend has no kernel for (first of each kind)."""
    known = KERNELS.get(backend)
    if known is None:
        return []
    out: dict[str, LayerPlan] = {}
    for node in plan.layers:
        kernel = node_kernel(node)
        if kernel not in known:
            out.setdefault(kernel, node)
    return list(out.values())


def runs_on(plan: Plan) -> list[str]:
    """The backends that can run `plan` (every kernel there, graphs where it branches)."""
    return [b for b in BACKENDS if not missing_kernels(plan, b)
            and (plan.is_chain or b in GRAPHS)]


def _refuse_missing(plan: Plan, backend: str) -> None:
    """E506 at the first node whose kind the backend has no kernel for."""
    missing = missing_kernels(plan, backend)
    if not missing:
        return
    from nnspec.diagnostics import DiagnosticError, error

    first = missing[0]
    kinds = ", ".join("`batchnorm` over (C, H, W) images" if node_kernel(n) == "batchnorm2d"
                      else f"`{node_kernel(n)}`" for n in missing)
    where = first.span
    hint = ("the reference backend runs every layer (slowly, in NumPy float64): "
            "`nnspec run SPEC --backend reference`" if "reference" in runs_on(plan) else "")
    raise DiagnosticError(error(
        "E506", f"the {backend} backend has no kernels yet for {kinds}, which this model "
        "uses", where, path=plan.spec_path,
        label=f"no {backend} kernel" if where else None,
        notes=[f"the {backend} backend runs: " + ", ".join(sorted(KERNELS[backend] or ()))],
        hints=[hint] if hint else []))


def compile(plan: Plan, backend: str = "cpu", *,  # noqa: A001 - the stage verb
            initial_weights: bool = True) -> Executable:
    """Build the Executable of `plan` on the named backend, starting from the plan's initial
    weights: its initializers, or the saved weights of `init from` (every key and shape
    checked: E410 at the model). `initial_weights=False` skips reading the `init from` file,
    for a caller that loads weights of its own next (`predict`, `eval`)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    _refuse_missing(plan, backend)
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


__all__ = ["BACKENDS", "KERNELS", "EpochChunk", "Executable", "compile", "missing_kernels",
           "runs_on"]
