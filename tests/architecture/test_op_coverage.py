"""Every registered op is implemented and verified everywhere (DESIGN.md section 7).

A new layer, activation, loss or optimizer class in nnspec/ops/ fails here until it has:
- a reference kernel checked by finite differences (tests/reference/ref_nets.py, run by
  test_ref_network's gradient check),
- a cpu kernel checked against the reference (tests/cpu/cpu_nets.py),
- a cuda kernel checked against the cpu engine (tests/cuda/test_cuda_parity.py),
- a PyTorch mapping checked by whole training runs (tests/oracle/oracle_cases.py).
Coverage is read from the plans the tables build (what lower() made of them), so a table
entry that names an op without exercising it does not count.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from nnspec.lower import lower
from nnspec.ops.activations import ACTIVATIONS
from nnspec.ops.layers import LAYERS
from nnspec.ops.losses import LOSSES
from nnspec.ops.optimizers import OPTIMIZERS
from nnspec.pipeline import diagnose

TESTS = Path(__file__).resolve().parents[1]


def _module(relative: str):  # type: ignore[no-untyped-def]
    path = TESTS / relative
    spec = importlib.util.spec_from_file_location(f"coverage_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


def _facts(plans) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    return {"layer": {n.kind_name for p in plans for n in p.layers}
            | ({"head"} if any(p.heads for p in plans) else set()),
            "activation": {n.act_name for p in plans for n in p.layers},
            "loss": {p.loss_name for p in plans},
            "optimizer": {p.optimizer.name for p in plans}}


def _table_plans(nets) -> list:  # type: ignore[no-untyped-def]
    from plan_nets import OPTIMIZER_CASES, make_plan

    plans = [make_plan(layers, loss, n_in=n_in) for layers, loss, n_in in nets.values()]
    layers, loss, n_in = next(iter(nets.values()))
    plans += [make_plan(layers, loss, n_in=n_in, optimizer=op)
              for op in OPTIMIZER_CASES.values()]
    return plans


def reference_plans() -> list:  # type: ignore[no-untyped-def]
    return _table_plans(_module("reference/ref_nets.py").NETS)


def cpu_plans() -> list:  # type: ignore[no-untyped-def]
    nets = _module("cpu/cpu_nets.py")
    return _table_plans({**nets.NETS, **nets.GRAPH_NETS, **nets.IMAGE_GRAPH_NETS})


def cuda_plans() -> list:  # type: ignore[no-untyped-def]
    from plan_nets import OPTIMIZER_CASES, make_plan

    parity = _module("cuda/test_cuda_parity.py")
    plans = [make_plan(layers, LOSSES["mse"](), n_in=parity.LAYER_INPUTS.get(name, 3))
             for name, layers in parity.LAYER_CASES.items()]
    plans += [make_plan([parity.dense(2, act)], LOSSES["mse"]())
              for act in parity.ACTIVATION_CASES.values()]
    plans += [make_plan([parity.dense(2)], LOSSES["mse"](), optimizer=op)
              for op in OPTIMIZER_CASES.values()]
    plans += [make_plan(layers, loss) for layers, loss in parity.LOSS_CASES.values()]
    plans += [make_plan(layers, loss, n_in=n_in)
              for layers, loss, n_in in parity.GRAPH_CASES.values()]
    return plans


def oracle_plans() -> list:  # type: ignore[no-untyped-def]
    plans = []
    for case in _module("oracle/oracle_cases.py").CASES:
        spec, diagnostics = diagnose(case.text("float64"))
        assert spec is not None, (case.id, diagnostics)
        plans.append(lower(spec))
    return plans


REGISTRIES = {"layer": LAYERS, "activation": ACTIVATIONS, "loss": LOSSES,
              "optimizer": OPTIMIZERS}
TABLES = {"reference (finite differences)": reference_plans, "cpu": cpu_plans,
          "cuda": cuda_plans, "pytorch oracle": oracle_plans}


# Known gaps, each an xfail that must fail: a gap closed without removing it here is an error
# (strict). The image layers have no cuda kernels yet (backends.KERNELS; E506 on cuda).
IMAGE_LAYERS = "conv2d, maxpool, avgpool, global_avgpool (and batchnorm over images)"
AWAITING = {("layer", "cuda"): f"no cuda kernels yet for {IMAGE_LAYERS}: E506"}
# What each awaited gap is made of, exactly: a gap that grows or shrinks fails too.
AWAITED_MISSING = {("layer", "cuda"): {"conv2d", "maxpool", "avgpool", "global_avgpool"}}
CASES = [pytest.param(family, table, marks=pytest.mark.xfail(strict=True,
                                                            reason=AWAITING[family, table]))
         if (family, table) in AWAITING else (family, table)
         for table in TABLES for family in REGISTRIES]


@pytest.mark.parametrize(("family", "table"), CASES)
def test_every_registered_op_is_covered(family: str, table: str) -> None:
    covered = _facts(TABLES[table]())[family]
    missing = sorted(set(REGISTRIES[family]) - covered)
    assert not missing, f"{family} ops without a {table} test case: {missing}"


@pytest.mark.parametrize(("family", "table"), sorted(AWAITING))
def test_awaited_gaps_are_exactly_what_is_recorded(family: str, table: str) -> None:
    """A strict xfail only says that something is missing; this says what. A gap that closes
    in part (one kernel lands) or grows (a new op without its kernel) fails here, so the
    entry above is edited with it."""
    covered = _facts(TABLES[table]())[family]
    assert set(REGISTRIES[family]) - covered == AWAITED_MISSING[family, table]


def test_engines_refuse_exactly_the_awaited_layers() -> None:
    """backends.KERNELS (what compile() lets through) agrees with the recorded gaps: the
    engines refuse the image layers, and only those, that their tables do not cover."""
    from nnspec.backends import KERNELS

    for backend in ("cpu", "cuda"):
        kernels = KERNELS[backend]
        assert kernels is not None
        refused = set(LAYERS) - kernels - {"residual", "head"}  # lowered to add / no node
        assert refused == AWAITED_MISSING.get(("layer", backend), set()), backend
        # batchnorm over images is its own kernel: the engine that runs conv2d runs it
        assert ("batchnorm2d" in kernels) == ("conv2d" in kernels), backend
