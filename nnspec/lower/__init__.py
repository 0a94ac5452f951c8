"""lower: ir.Spec -> Plan (flat parameter layout, int op codes, resolved defaults)."""

from nnspec.lower.init import init_buffers, init_params
from nnspec.lower.lower import lower
from nnspec.lower.plan import InitPlan, LayerPlan, OptimizerPlan, Plan, TensorSlot

__all__ = ["InitPlan", "LayerPlan", "OptimizerPlan", "Plan", "TensorSlot", "init_buffers",
           "init_params", "lower"]
