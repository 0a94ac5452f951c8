"""data.targets: raw targets of every source + the task -> encoded targets and class names.

regression: float (N, K), K = the output layer's units; a 1-D target is one column.
binary (binary_crossentropy): float (N, K) of 0.0 / 1.0. Numeric labels must already be 0 or
  1; string labels (at most two) map to 0, 1 in sorted order.
multiclass (categorical_crossentropy): int64 class indices (N,). Numeric labels are used as
  the class index itself, so they must be integers 0..K-1 (K = output units: digits stay
  digits); string labels map to 0..C-1 in sorted order (C <= K); a one-hot (N, K) array is
  turned into indices.
String labels are mapped over the union of all sources (train, validation, test), so every
split uses the same mapping; `classes` lists them in index order (None for numeric labels).
"""

from __future__ import annotations

import numpy as np

from nnspec.data.dataset import Table
from nnspec.data.errors import Where, listing


def encode(tables: list[tuple[Table, Where]], task: str, n_outputs: int,
           classes: list[str] | None = None) -> tuple[list[np.ndarray], list[str] | None]:
    """Encoded targets, one array per table, and the class names (string labels only).
    `classes` fixes the mapping (predict: the one saved at training time)."""
    if task == "regression":
        return [_regression(t, w, n_outputs) for t, w in tables], None
    if any(t.y.dtype.kind == "U" for t, _ in tables):
        return _string_labels(tables, task, n_outputs, classes)
    if task == "binary":
        return [_binary(t, w, n_outputs) for t, w in tables], None
    return [_multiclass(t, w, n_outputs) for t, w in tables], None


def _width_error(t: Table, w: Where, k: int, n_outputs: int, what: str) -> None:
    w.fail("E305", f"the data has {k} target column{'s' if k != 1 else ''} but the output "
           f"layer has {n_outputs} unit{'s' if n_outputs != 1 else ''}",
           label="shape mismatch",
           notes=[f"{what} needs one target column per output unit"])


def _regression(t: Table, w: Where, n_outputs: int) -> np.ndarray:
    if t.y.dtype.kind == "U":
        i = next(i for i, v in enumerate(t.y) if not _is_number(v))
        w.fail("E403", f"{t.locate(i)}: target `{t.y[i]}` is not a number",
               label="non-numeric data",
               hints=["a regression loss needs numeric targets; for class labels use "
                      "binary_crossentropy or categorical_crossentropy"])
    y = t.y if t.y.ndim == 2 else t.y[:, None]
    if y.shape[1] != n_outputs:
        _width_error(t, w, y.shape[1], n_outputs, "a regression loss")
    return y.astype(np.float64)


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _binary(t: Table, w: Where, n_outputs: int) -> np.ndarray:
    y = t.y if t.y.ndim == 2 else t.y[:, None]
    if y.shape[1] != n_outputs:
        _width_error(t, w, y.shape[1], n_outputs, "binary_crossentropy")
    bad = np.argwhere((y != 0) & (y != 1))
    if len(bad):
        i, j = map(int, bad[0])
        found = sorted({_num(v) for v in np.unique(y)})
        w.fail("E406", f"{t.locate(i)}: binary target {_num(y[i, j])} is neither 0 nor 1",
               label="labels do not fit the output",
               notes=[f"labels found: {listing(found)}"],
               hints=["binary_crossentropy needs 0/1 labels; for more classes use a softmax "
                      "output with categorical_crossentropy"])
    return y.astype(np.float64)


def _multiclass(t: Table, w: Where, n_outputs: int) -> np.ndarray:
    y = t.y
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.shape[1] != n_outputs:
            _width_error(t, w, y.shape[1], n_outputs, "categorical_crossentropy (one-hot)")
        onehot = np.all((y == 0) | (y == 1), axis=1) & (y.sum(axis=1) == 1)
        if not onehot.all():
            i = int(np.argmin(onehot))
            w.fail("E406", f"{t.locate(i)}: target row is not one-hot",
                   label="labels do not fit the output",
                   hints=["give class indices (N,) or one-hot rows (N, K)"])
        return np.argmax(y, axis=1).astype(np.int64)
    bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= n_outputs))
    if len(bad):
        i = int(bad[0])
        found = sorted({_num(v) for v in np.unique(y)})
        what = "is not an integer" if y[i] != np.round(y[i]) else "is out of range"
        w.fail("E406", f"{t.locate(i)}: class label {_num(y[i])} {what}: the output layer has "
               f"{n_outputs} units, for classes 0..{n_outputs - 1}",
               label="more classes than outputs",
               notes=[f"labels found: {listing(found)}"],
               hints=["numeric labels are class indices 0..K-1; renumber them, write them as "
                      "names (mapped in sorted order), or widen the output layer"])
    return y.astype(np.int64)


def _string_labels(tables: list[tuple[Table, Where]], task: str, n_outputs: int,
                   classes: list[str] | None) -> tuple[list[np.ndarray], list[str]]:
    for t, w in tables:
        if t.y.ndim != 1:
            w.fail("E413", "string targets must be one column", label="bad data file")
    known = classes
    if known is None:
        known = sorted(set().union(*(set(t.y.tolist()) for t, _ in tables)))
    limit = 2 if task == "binary" else n_outputs
    if task == "binary" and n_outputs != 1:
        t, w = tables[0]
        _width_error(t, w, 1, n_outputs, "binary_crossentropy")
    if len(known) > limit:
        t, w = tables[0]
        hint = ("use a softmax output with categorical_crossentropy" if task == "binary"
                else f"make the output layer `dense {len(known)} softmax`")
        what = ("binary_crossentropy tells two apart" if task == "binary"
                else f"the output layer has {n_outputs} units")
        w.fail("E406", f"the target has {len(known)} classes but {what}",
               label="more classes than outputs",
               notes=[f"classes: {listing(known)}"], hints=[hint])
    index = {c: i for i, c in enumerate(known)}
    out = []
    for t, w in tables:
        unknown = [i for i, v in enumerate(t.y) if v not in index]
        if unknown:
            i = unknown[0]
            w.fail("E406", f"{t.locate(i)}: class `{t.y[i]}` was not seen in training",
                   label="unknown class", notes=[f"classes: {listing(known)}"])
        idx = np.array([index[v] for v in t.y], dtype=np.int64)
        out.append(idx if task == "multiclass" else idx.astype(np.float64)[:, None])
    return out, list(known)


def _num(v: float) -> str:
    v = float(v)
    return str(int(v)) if v == int(v) else repr(v)
