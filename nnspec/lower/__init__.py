"""lower: ir.Spec -> Plan (flat parameter layout, int op codes, resolved defaults).

`lower()` and the Plan types need no NumPy, so `nnspec check` (which lowers a spec to estimate
its memory, nnspec/memory/) stays light; `init_params` / `init_buffers` (NumPy) load on first
use.
"""

from typing import Any

from nnspec.lower.lower import lower
from nnspec.lower.plan import InitPlan, LayerPlan, OptimizerPlan, Plan, TensorSlot

__all__ = ["InitPlan", "LayerPlan", "OptimizerPlan", "Plan", "TensorSlot", "init_buffers",
           "init_params", "lower"]


def __getattr__(name: str) -> Any:
    if name in ("init_params", "init_buffers"):
        from nnspec.lower import init

        return getattr(init, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
