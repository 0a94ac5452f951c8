"""exporter: a run directory -> an ONNX file (`nnspec export RUN_DIR -o model.onnx`).

The run is read as `nnspec predict` reads it (run/restore.py: only a run that ended, its
resolved spec.nn checked and lowered again, weights.npz loaded into the Plan's slots, every
file through the folder's descriptor), but nothing is compiled: the graph is built from the
Plan and the named tensors (export/graph.py says what each layer becomes), checked with
`onnx.checker.check_model(full_check=True)`, and only then written, atomically. A layer with
no ONNX form is E512 naming it at its statement; onnx not installed is E513 (with the pip
command); a graph the checker refuses is E515 (a bug of the exporter; nothing is written).
A run trained in float64 is exported in float32 with warning W112.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspec.diagnostics import Diagnostic, DiagnosticError, error, warning
from nnspec.exporter.graph import INPUT_NAME, OPSET, output_name

__all__ = ["OPSET", "Exported", "export", "require_onnx"]

INSTALL = "pip install 'nnspec[onnx]'  (or: pip install onnx onnxruntime)"


@dataclass
class Exported:
    """What `export` wrote: the file, the opset, the input and output names and shapes
    (None for the batch dimension), and the warnings (W112)."""

    path: Path
    opset: int
    input: tuple[str, tuple[int | None, ...]]
    output: tuple[str, tuple[int | None, ...]]
    warnings: list[Diagnostic] = field(default_factory=list)


def require_onnx(what: str = "`nnspec export`") -> Any:
    """The onnx module, or E513 saying how to install it."""
    try:
        import onnx
    except ImportError as exc:
        raise DiagnosticError(error(
            "E513", f"{what} needs the `onnx` package, which is not installed",
            path="nnspec", hints=[f"install it with: {INSTALL}"])) from exc
    return onnx


@dataclass
class _Model:
    plan: Any
    tensors: dict[str, Any]
    schema: dict[str, Any]
    spec_path: str


def _read(run_dir: str | os.PathLike[str], sources: dict[str, str]) -> _Model:
    """The run's Plan, tensors and data.json, as restore() reads them, without compiling."""
    from nnspec import weights
    from nnspec.run.restore import open_weights, read_run
    from nnspec.run.rundir import RunDir

    rd = RunDir.open(run_dir)
    try:
        _, schema, plan = read_run(rd, sources)
        shown = str(rd.path / "spec.nn")
        with open_weights(rd) as opened:
            params, buffers = weights.load(rd.path / "weights.npz", plan, opened=opened)
        return _Model(plan, weights.named_tensors(plan, params, buffers), schema, shown)
    finally:
        rd.close()


def export(run_dir: str | os.PathLike[str], path: str | os.PathLike[str], *,
           sources: dict[str, str] | None = None) -> Exported:
    """Export the run in `run_dir` to the ONNX file `path` (see the module docstring);
    raises DiagnosticError (`sources` collects the texts its diagnostics point into)."""
    sources = {} if sources is None else sources
    onnx = require_onnx()
    from nnspec import __version__
    from nnspec.data.scaling import Scaler
    from nnspec.exporter.graph import build, unsupported
    from nnspec.run.atomic import write_bytes

    model = _read(run_dir, sources)
    plan = model.plan
    problems = unsupported(plan)
    if problems:
        raise DiagnosticError(problems)
    try:
        scaler = Scaler.from_dict(model.schema["scaler"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DiagnosticError(error(
            "E511", f"the scaler in `{Path(run_dir) / 'data.json'}` is not readable: {exc}",
            path=str(run_dir), hints=["train the run again with this nnspec"])) from None
    found: list[Diagnostic] = []
    if plan.dtype != "float32":
        found.append(warning(
            "W112", f"the run trained in {plan.dtype}; the ONNX model computes in float32 "
            "(its weights rounded to float32), so its outputs differ from `nnspec predict`'s "
            "in the last digits", path=model.spec_path,
            hints=["compare a few predictions if the model is sensitive to rounding"]))
    proto = build(plan, model.tensors, scaler, model.schema,
                  {"nnspec.version": __version__, "nnspec.model": plan.model_name})
    proto.producer_version = __version__
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # noqa: BLE001  (any refusal: never write a broken file)
        first = (str(exc).strip().splitlines() or [""])[0]
        raise DiagnosticError(error(
            "E515", f"the ONNX graph built for `{plan.model_name}` fails onnx.checker",
            path=model.spec_path, notes=[f"onnx.checker: {type(exc).__name__}: {first}",
                                         "nothing was written"],
            hints=["this is a bug of nnspec's exporter: please report it with the spec"]),
        ) from exc
    target = Path(path)
    if target.is_dir():
        raise DiagnosticError(error(
            "E514", f"`{target}` is a folder: give the ONNX file's name", path=str(target),
            hints=[f"e.g. -o {target / (plan.model_name + '.onnx')}"]))
    if not target.parent.is_dir():
        why = "is not a folder" if target.parent.exists() else "does not exist"
        raise DiagnosticError(error(
            "E514", f"cannot write `{target}`: the folder `{target.parent}` {why}",
            path=str(target), hints=["create it first, or write somewhere else"]))
    try:
        write_bytes(target, proto.SerializeToString())
    except DiagnosticError as exc:  # E503 from the atomic writer: restate it as export's
        first = exc.diagnostics[0]
        raise DiagnosticError(error(
            "E514", f"cannot write the ONNX file: {first.message}", path=str(target),
            hints=["check that the folder is writable and the disk is not full"])) from None
    return Exported(target, OPSET, (INPUT_NAME, (None, *plan.input_shape)),
                    (output_name(plan), (None, plan.n_outputs)), found)
