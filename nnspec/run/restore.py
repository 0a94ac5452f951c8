"""run.restore: a run directory -> a ready Executable with the run's final weights.

What `nnspec predict` and `nnspec eval` start from: the resolved `spec.nn` is checked and
lowered again, compiled for the CPU (the reference backend for layers the cpu engine
has no kernels for yet), and `weights.npz` is loaded into it (keys
`layers.<i>.<name>`, checked by nnspec.weights: a missing or misshapen tensor is E410).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspec import ir
from nnspec.diagnostics import DiagnosticError, error
from nnspec.run.rundir import RunDir


def weights_of(exe: Any) -> dict[str, np.ndarray]:
    """{layers.<i>.<name>: array} of the executable's current tensors (nnspec.weights)."""
    from nnspec.weights import named_tensors

    return named_tensors(exe.plan, exe.get_params(), exe.get_buffers())


@dataclass
class Restored:
    rd: RunDir
    spec: ir.Spec
    exe: Any
    schema: dict[str, Any]


def restore(run_dir: str | Path, sources: dict[str, str]) -> Restored:
    from nnspec.backends import compile as compile_plan
    from nnspec.lower import lower
    from nnspec.run.session import load

    rd = RunDir.open(run_dir)
    spec = load(rd.path / "spec.nn", sources, memory=False).spec  # eval / predict: no training
    from nnspec.backends import runs_on

    plan = lower(spec)
    # the cpu engine where it has every kernel, else the reference backend (image layers)
    backend = "cpu" if "cpu" in runs_on(plan) else "reference"
    exe = compile_plan(plan, backend, initial_weights=False)  # weights.npz is loaded next
    path = rd.path / "weights.npz"
    if not path.is_file():
        raise DiagnosticError(error(
            "E504", f"`{rd.path}` has no weights.npz", path=str(rd.path),
            hints=["the run failed before its end, or `output { artifacts ... }` left out "
                   "`weights`"]))
    from nnspec.weights import load_into

    load_into(exe, path)
    return Restored(rd, spec, exe, rd.read_json("data.json"))
