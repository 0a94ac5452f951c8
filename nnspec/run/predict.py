"""run.predict: a run directory + new samples -> predictions (table) and evaluations.

Columns of a prediction table:
- classification with one sigmoid unit: `class` (the predicted class name, p >= 0.5 is the
  second class), `p_<class0>`, `p_<class1>` (1 - p and p);
- several sigmoid units (multi-label binary_crossentropy): `p_<target>` and `<target>` (0/1)
  for each target column;
- categorical: `class` (argmax) and `p_<class>` for every class (exp of the outputs after
  log_softmax);
- regression: one column per target, named as in the training data.
Class names are those saved in data.json (labels of a CSV), or 0..K-1; an output unit
beyond the data's classes (`dense 4 softmax` for 3 labels) is named `unit<j>`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.backends.base import as_targets
from nnspec.diagnostics import DiagnosticError, error
from nnspec.lower.plan import A_LOG_SOFTMAX
from nnspec.run.restore import Restored
from nnspec.train.evaluation import split_metrics


def _class_names(schema: dict[str, Any], k: int) -> list[str]:
    """k names, one per output unit: the data's class names, then (an output layer with more
    units than the data has classes) `unit<j>` for each unit no class was trained on, so a
    row never has more fields than the header."""
    names = [str(c) for c in schema.get("classes") or []][:k] or [str(i) for i in range(k)]
    taken = set(names)
    for j in range(len(names), k):
        name = f"unit{j}"
        while name in taken:
            name = "_" + name
        names.append(name)
        taken.add(name)
    return names


def prediction_table(restored: Restored, outputs: np.ndarray
                     ) -> tuple[list[str], list[list[Any]]]:
    plan, schema = restored.exe.plan, restored.schema
    out = np.asarray(outputs, dtype=np.float64)
    if plan.task == "regression":
        header = list(schema.get("target_names") or [f"y{j}" for j in range(out.shape[1])])
        return header, out.tolist()
    if plan.task == "binary" and out.shape[1] == 1:
        names = _class_names(schema, 2)
        p = out[:, 0]
        header = ["class", f"p_{names[0]}", f"p_{names[1]}"]
        return header, [[names[int(v >= 0.5)], 1.0 - v, v] for v in p.tolist()]
    if plan.task == "binary":
        targets = list(schema.get("target_names") or [f"y{j}" for j in range(out.shape[1])])
        header = [f"p_{t}" for t in targets] + targets
        return header, [[*row, *(int(v >= 0.5) for v in row)] for row in out.tolist()]
    with np.errstate(under="ignore"):  # exp of a very negative log-probability is 0
        probs = np.exp(out) if plan.layers[-1].act == A_LOG_SOFTMAX else out
    names = _class_names(schema, probs.shape[1])
    header = ["class"] + [f"p_{c}" for c in names]
    return header, [[names[int(np.argmax(row))], *row] for row in probs.tolist()]


def write_csv(header: list[str], rows: list[list[Any]], stream: Any) -> None:
    import csv

    w = csv.writer(stream, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([repr(v) if isinstance(v, float) else v for v in row])


def predict(restored: Restored, features: Any, shown: str) -> np.ndarray:
    """The model's outputs for read features; a row whose output is not finite is E416."""
    with np.errstate(all="ignore"):  # checked just below
        out = np.asarray(restored.exe.predict(features.x), dtype=np.float64)
    _finite_outputs(restored, out, shown, features.locate)
    return out


def evaluate(restored: Restored, x: np.ndarray, y: np.ndarray, shown: str = "",
             locate: Callable[[int], str] | None = None) -> dict[str, float]:
    """Loss (eval mode, the whole set as one batch) and the spec's metrics; an output, the
    loss or a metric that is not finite is E416 (`shown`: the data, for the message)."""
    exe = restored.exe
    with np.errstate(all="ignore"):  # every value is checked below
        outputs = np.asarray(exe.predict(x), dtype=np.float64)
        _finite_outputs(restored, outputs, shown, locate)
        values = {"loss": float(exe.evaluate(x, as_targets(exe.plan, y)))}
        values.update(split_metrics(restored.spec.train.metrics, exe.plan.task, y, outputs))
    bad = [k for k, v in values.items() if not np.isfinite(v)]
    if bad:
        raise DiagnosticError(error(
            "E416", f"{shown}: the {bad[0]} is {values[bad[0]]} though every output is finite",
            path=shown or None, notes=[f"{k}: {v}" for k, v in values.items()],
            hints=["the outputs or targets are too large for the loss's arithmetic: check "
                   "the targets' units"]))
    return values


def _finite_outputs(restored: Restored, out: np.ndarray, shown: str,
                    locate: Callable[[int], str] | None) -> None:
    rows = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
    if not rows.any():
        return
    i = int(np.flatnonzero(rows)[0])
    n = int(rows.sum())
    path = str(restored.rd.path / "weights.npz")
    with np.errstate(all="ignore"):
        params = np.asarray(restored.exe.get_params())
    if not np.isfinite(params).all():
        raise DiagnosticError(error(
            "E416", f"the run's weights are not finite ({int((~np.isfinite(params)).sum())} of "
            f"{params.size} parameters): training diverged, and every prediction is NaN",
            path=path, hints=["train again with a smaller learning rate or `clip norm=1.0`; "
                              "the run's history.csv shows the epoch the loss turned NaN"]))
    where = locate(i) if locate is not None else f"{shown}: sample {i} (0-based)"
    value = out.reshape(len(out), -1)[i]
    raise DiagnosticError(error(
        "E416", f"{where}: the model's output for this sample is not finite "
        f"({', '.join(repr(float(v)) for v in value[:4])}{', ...' if len(value) > 4 else ''})"
        + (f"; {n - 1} more samples too" if n > 1 else ""),
        path=shown or None,
        notes=["the run's weights are finite: the sample's features are far outside the "
               "training data, so an activation overflowed"],
        hints=["check that row's values and units against the training data"]))


def evaluate_splits(restored: Restored) -> dict[str, dict[str, float]]:
    """Every split of the spec's own data, read again from spec.nn (same seed, same split)."""
    from nnspec.data import load_spec_data

    data = load_spec_data(restored.spec)
    _check_same_scaler(restored, data)
    shown = str(restored.rd.path / "spec.nn")
    return {name: evaluate(restored, part.x, part.y, f"{shown} ({name} split)")
            for name, part in (("train", data.train), ("val", data.val), ("test", data.test))
            if part is not None and len(part)}


def _check_same_scaler(restored: Restored, data: Any) -> None:
    if data.schema()["scaler"] != restored.schema["scaler"]:
        raise DiagnosticError(error(
            "E504", "the data read again from spec.nn is not the data the run was trained on "
            "(its scaling statistics differ)", path=str(restored.rd.path / "spec.nn"),
            hints=["pass the data file to evaluate explicitly: nnspec eval RUN_DIR DATA.csv"]))


def read_input(restored: Restored, path: str | Path) -> Any:
    from nnspec.data import load_features

    return load_features(path, restored.schema, dtype=np.dtype(restored.exe.plan.dtype))
