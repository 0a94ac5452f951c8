"""pictures.runs: DIR... -> the run directories under them, each with its spec, training data
and trajectory (what `nnspec paths` and `nnspec landscape` draw from).

A DIR is a run directory (its manifest.json carries nnspec's run `format`) or any folder
holding run directories at any depth (a sweep's folder): they are found by that marker, in
sorted order, without descending into a run directory. The spec is the run's resolved
spec.nn; the training data is made again by the run's own data pipeline (files read, split
and scaled as the run did), so a picture's loss is the loss the run trained on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspec import ir
from nnspec.diagnostics import DiagnosticError, error

MARKER = "manifest.json"


def is_run(path: Path) -> bool:
    from nnspec.run.claim import manifest_kind

    try:
        manifest = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest_kind(manifest) in ("run", "old")


def find_runs(dirs: list[str]) -> list[Path]:
    """Every run directory named or found under `dirs` (E437 when there is none; E505 for a
    DIR that does not exist)."""
    found: list[Path] = []
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            raise DiagnosticError(error("E505", f"`{d}` is not a folder", path=d,
                                        hints=["give run directories or folders of them"]))
        if is_run(root):
            found.append(root)
            continue
        for here, subdirs, _ in os.walk(root):
            subdirs.sort()
            base = Path(here)
            if base != root and is_run(base):
                found.append(base)
                subdirs[:] = []
    if not found:
        raise DiagnosticError(error(
            "E437", f"no run directory under {', '.join(f'`{d}`' for d in dirs)}",
            path=dirs[0], hints=["give folders written by `nnspec run` (or a sweep's folder)"]))
    return list(dict.fromkeys(found))


@dataclass
class Run:
    path: Path
    spec: ir.Spec
    trajectory: dict[str, np.ndarray] | None
    manifest: dict[str, Any] | None = None


def load_run(path: Path, sources: dict[str, str]) -> Run:
    """The run's checked spec.nn and its trajectory (None when it recorded none)."""
    from nnspec.pictures.trajectory import read
    from nnspec.run.rundir import RunDir
    from nnspec.run.session import load_text

    rd = RunDir.open(path)
    try:
        text = rd.read_spec()
        if text is None:
            raise DiagnosticError(error("E504", f"`{path}` has no spec.nn", path=str(path)))
        spec = load_text(text, str(path / "spec.nn"), sources, memory=False).spec
        try:
            traj = read(rd.folder)
        except (OSError, ValueError) as exc:
            raise DiagnosticError(error(
                "E437", f"cannot read the trajectory of `{path}`: {exc}", path=str(path),
                hints=["run the spec again with `output { trajectory }`"])) from exc
        manifest = dict(rd.manifest)
    finally:
        rd.close()
    return Run(path, spec, traj, manifest)


def need_trajectory(run: Run) -> dict[str, np.ndarray]:
    if run.trajectory is None or len(run.trajectory["step"]) == 0:
        raise DiagnosticError(error(
            "E437", f"`{run.path}` recorded no trajectory", path=str(run.path),
            hints=["add `output { trajectory }` to the spec (or `--set "
                   "output.trajectory_every=1`) and run it again"]))
    return run.trajectory


def training_arrays(spec: ir.Spec, plan: Any) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the training split as the run's pipeline made them, in the engine's form."""
    from nnspec.backends.base import as_inputs, as_targets
    from nnspec.pipeline import dataset_of

    data = dataset_of(spec)
    return as_inputs(plan, data.train.x), as_targets(plan, data.train.y)


def differences(specs: list[ir.Spec]) -> list[dict[str, str]]:
    """For each spec, `{field: value}` of the fields in which the specs differ (the `output`
    block left out; an op such as the optimizer is one field, shown as `adam(lr=0.01, ...)`),
    to label each run by what sets it apart."""
    from nnspec.run.specdiff import _shown, comparable

    flat = [_flatten(comparable(s)) for s in specs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    varying = [k for k in keys if len({_key(f.get(k)) for f in flat}) > 1]
    return [{k: _short(spec, k, f.get(k), _shown) for k in varying}
            for spec, f in zip(specs, flat, strict=True)]


def _short(spec: ir.Spec, key: str, value: Any, shown: Any) -> str:
    """An op by its kind and the options it sets to other than their defaults
    (`sgd(lr=0.1, momentum=0.9)`), anything else as specdiff shows it."""
    obj: Any = spec
    for part in key.split("."):
        obj = getattr(obj, part, None)
    fields = getattr(type(obj), "model_fields", None)
    if obj is None or fields is None or not hasattr(obj, "kind"):
        return str(shown(value))
    opts = [f"{name}={shown(value.get(name))}" for name, f in fields.items()
            if name not in ("span", "kind") and isinstance(value, dict)
            and _key(value.get(name)) != _key(f.default)]
    return f"{obj.kind}({', '.join(opts)})" if opts else str(obj.kind)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if prefix == "output":
        return {}
    if isinstance(data, dict) and "kind" not in data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


def label_of(diff: dict[str, str]) -> str:
    """`optimizer=adam(lr=0.01)`, `batch=32`: each field by its last name unless two share it."""
    last = [k.rsplit(".", 1)[-1] for k in diff]
    return ", ".join(f"{name if last.count(name) == 1 else key}={value}"
                     for (key, value), name in zip(diff.items(), last, strict=True))


def pyplot(what: str) -> Any:
    """matplotlib.pyplot on the Agg backend, or E437 saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise DiagnosticError(error(
            "E437", f"drawing {what} needs matplotlib, which is not installed", path="nnspec",
            hints=["pip install 'nnspec[pictures]' (or: pip install matplotlib)"])) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
