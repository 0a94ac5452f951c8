"""run.restore: a run directory -> a ready Executable with the run's final weights.

What `nnspec predict` and `nnspec eval` start from: the resolved `spec.nn` is checked and
lowered again, compiled for the CPU, and `weights.npz` is loaded into it (keys
`layers.<i>.<name>`, shapes from the plan; a missing or misshapen tensor is E410).
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
    """{layers.<i>.<name>: array} from the executable's flat buffers (lower/plan.py)."""
    plan, flat = exe.plan, {"params": exe.get_params(), "buffers": exe.get_buffers()}
    return {t.key: flat[t.buffer][t.offset:t.offset + t.size].reshape(t.shape).copy()
            for t in plan.tensors}


def load_weights_into(exe: Any, arrays: dict[str, np.ndarray], shown: str, *,
                      span: Any = None, path: str | None = None,
                      need_buffers: bool = True) -> None:
    """The inverse of `weights_of`; every tensor of the plan must be there with its shape
    (batchnorm running statistics may be absent when `need_buffers` is false: they keep
    their initial values). Problems are one E410 at `path`/`span` (default: the file)."""
    plan = exe.plan
    flat = {"params": exe.get_params(), "buffers": exe.get_buffers()}
    problems = []
    for t in plan.tensors:
        a = arrays.get(t.key)
        if a is None and t.buffer == "buffers" and not need_buffers:
            continue
        if a is None:
            problems.append(f"`{t.key}` is missing")
        elif tuple(a.shape) != tuple(t.shape):
            problems.append(f"`{t.key}` has shape {tuple(a.shape)}, the model needs {t.shape}")
        else:
            flat[t.buffer][t.offset:t.offset + t.size] = a.reshape(-1)
    extra = sorted(set(arrays) - {t.key for t in plan.tensors})
    if extra:
        problems.append(f"unexpected {', '.join(f'`{k}`' for k in extra)}")
    if problems:
        raise DiagnosticError(error("E410", f"`{shown}` does not fit the model", span,
                                    path=path or shown, notes=problems))
    exe.set_params(flat["params"])
    exe.set_buffers(flat["buffers"])


def init_from(exe: Any, spec: ir.Spec) -> None:
    """`init from "w.npz"`: start from saved weights instead of the initializers."""
    path = exe.plan.init_from
    if path is None:
        return
    model = spec.model
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DiagnosticError(error("E401", f"weights file `{model.init_from}` not found",
                                    model.span, path=spec.path, notes=[f"looked for {path}"],
                                    label="init from")) from None
    except (OSError, ValueError) as exc:
        raise DiagnosticError(error("E410", f"cannot read `{model.init_from}`: {exc}",
                                    model.span, path=spec.path)) from exc
    load_weights_into(exe, arrays, str(model.init_from), span=model.span, path=spec.path,
                      need_buffers=False)


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
    spec = load(rd.path / "spec.nn", sources).spec
    exe = compile_plan(lower(spec), "cpu")
    path = rd.path / "weights.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DiagnosticError(error(
            "E504", f"`{rd.path}` has no weights.npz", path=str(rd.path),
            hints=["the run failed before its end, or `output { artifacts ... }` left out "
                   "`weights`"])) from None
    except (OSError, ValueError) as exc:
        raise DiagnosticError(error("E410", f"cannot read `{path}`: {exc}",
                                    path=str(path))) from exc
    load_weights_into(exe, arrays, str(path))
    return Restored(rd, spec, exe, rd.read_json("data.json"))
