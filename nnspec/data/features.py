"""data.features: an input file + the training data's schema -> scaled features (predict).

`nnspec predict RUN_DIR INPUT.csv` reads new samples the way the training data was read:
`schema` is `Dataset.schema()` as saved in the run directory (feature and target names, class
names, scaler, CSV layout). Columns are found
- by name when the file has a header (unless `header=` says so, a first row is a header when
  it holds a training column name or no number at all): every training feature name must be
  there; the target column, when present, is read too (for evaluation); other columns are
  ignored;
- by position otherwise: as many columns as the training CSV (same layout), or exactly the
  features, or the features followed by the target column(s).
An `.npz` input holds `x` (and optionally `y`), under the training source's array names when
the training data was an npz; for a model with `input C H W`, `x` may be images in any layout
the training source accepts (data.images.image_rows).
A folder input (image models) holds images, resized to the model's H x W and read as grayscale
(C = 1) or RGB (C = 3): either directly (predict) or in class subfolders named as the
training classes (the subfolder is then the target, for evaluation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.data.csvfile import MISSING, CsvFile, CsvLocator, Head
from nnspec.data.dataset import FileInfo, Table
from nnspec.data.errors import Where, did_you_mean, listing
from nnspec.data.load import scaled, targets_as
from nnspec.data.readers import npz_array, open_npz, read_file, table_from_arrays
from nnspec.data.scaling import Scaler
from nnspec.data.targets import encode


@dataclass(frozen=True, eq=False)
class Features:
    """x: scaled (N, F) in the requested dtype; raw: the unscaled float64 values; y: the
    encoded targets (as in training) when the input has them, else None."""

    x: np.ndarray
    raw: np.ndarray
    y: np.ndarray | None
    file: FileInfo
    table: Table | None = None

    def locate(self, i: int) -> str:
        """Where sample i is in the input: `file:line` for a CSV, else its 0-based index."""
        if self.table is not None and self.table.locator is not None:
            return self.table.locate_feature(i, 0).rsplit(":", 1)[0]
        return f"{self.file.resolved}: sample {i} (0-based)"


def load_features(path: str | Path, schema: Mapping[str, Any], *, dtype: Any = np.float32,
                  header: bool | None = None, delimiter: str | None = None) -> Features:
    """Read new samples for prediction/evaluation; errors are DiagnosticError on the file."""
    shown = Path(path).as_posix()
    where = Where(shown)
    layout = schema.get("layout") or {}
    input_shape = (tuple(schema["input_shape"]) if schema.get("input_shape")
                   else (int(schema["n_features"]),))
    if len(input_shape) == 3 and Path(path).is_dir():
        table = _read_folder(shown, input_shape, where)
        assert table.file is not None
        info = table.file
        has_y = table.y.dtype.kind == "U"
    elif shown.endswith(".npz"):
        from nnspec.data.images import image_rows

        blob, info = read_file(shown, ".", where, "input")
        arrays = open_npz(blob, shown, where)
        xkey = layout.get("x", "x") if layout.get("format") == "npz" else "x"
        ykey = layout.get("y", "y") if layout.get("format") == "npz" else "y"
        x = npz_array(arrays, xkey, shown, where, "feature")
        x, _ = image_rows(x, input_shape, layout.get("image_layout", "auto"), shown, where)
        table = table_from_arrays(x, arrays.get(ykey), shown, where, info)
        has_y = ykey in arrays
    else:
        delim = delimiter or layout.get("delimiter") or ","
        csv_file = CsvFile.open(shown, ".", where, "input", delim)
        table, has_y = _read_csv(csv_file, schema, layout, header, where)
        info = csv_file.info
    n_features = int(schema["n_features"])
    if table.x.shape[1] != n_features:
        f = table.x.shape[1]
        where.fail("E405", f"`{shown}` has {f} feature{'s' if f != 1 else ''} but the model "
                   f"takes {n_features}", label="feature count",
                   notes=[f"features: {listing(schema['feature_names'])}"])
    dtype = np.dtype(dtype)
    rows = np.arange(len(table), dtype=np.int64)
    y = None
    if has_y:
        [y], _ = encode([(table, where)], schema["task"], int(schema["n_outputs"]),
                        schema.get("classes"))
        if schema["task"] != "multiclass":
            y = targets_as(y, table, rows, dtype, where)
    scaler = Scaler.from_dict(schema["scaler"])
    if not scaler.finite:
        where.fail("E416", "the run's scaling statistics (data.json) are not finite: the model "
                   "was trained on broken inputs", label="broken run",
                   notes=[f"scaler: {json.dumps(schema['scaler'])}"],
                   hints=["train the run again with this version of nnspec (its scaler is "
                          "finite for any finite data)"])
    return Features(scaled(scaler, table, rows, dtype, where),
                    np.asarray(table.x, np.float64), y, info, table)


def _read_folder(shown: str, input_shape: tuple[int, ...], where: Where) -> Table:
    """The images of a folder for a model with `input C H W` (C 1 or 3)."""
    from nnspec.data.images import read_image_folder

    c, h, w = input_shape
    if c not in (1, 3):
        where.fail("E421", f"`{shown}` is a folder of images, but the model's input has {c} "
                   "channels: images are read as grayscale (1) or RGB (3)",
                   label="image shape", hints=["give the images as an .npz array instead"])
    return read_image_folder(shown, ".", where, "input", size=(h, w), grayscale=c == 1,
                             labeled=None)


def _read_csv(f: CsvFile, schema: Mapping[str, Any], layout: Mapping[str, Any],
              header: bool | None, where: Where) -> tuple[Table, bool]:
    shown = f.shown
    if header is None:
        first = f.first_row()
        header = first is not None and _has_header(first, schema, layout)
    head = f.head(header)
    feats: list[str] = list(schema["feature_names"])
    targets: list[str] = list(schema["target_names"])
    if head.header is not None:
        missing = [c for c in feats if c not in head.header]
        if missing:
            where.fail("E402", f"feature column `{missing[0]}` not found in `{shown}`",
                       label="no such column", notes=[f"columns: {listing(head.header)}",
                                                      f"the model reads: {listing(feats)}"],
                       hints=did_you_mean(missing[0], head.header))
        cols = [head.header.index(c) for c in feats]
        tcols = [head.header.index(t) for t in targets] if all(
            t in head.header for t in targets) else []
    else:
        cols, tcols = _positions(head, schema, layout, where)
    x, y = f.read(cols, tcols)
    names = head.names()
    table = Table(x, y if y is not None else np.zeros((len(x), 0)),
                  [names[c] for c in cols], [names[c] for c in tcols], f.info,
                  CsvLocator(f, cols, tcols))
    return table, bool(tcols)


def _positions(rows: Head, schema: Mapping[str, Any], layout: Mapping[str, Any],
               where: Where) -> tuple[list[int], list[int]]:
    f, k = int(schema["n_features"]), len(schema["target_names"])
    if layout.get("format") == "csv" and rows.ncols == layout.get("ncols"):
        return list(layout["features"]), [int(layout["target"])]
    if rows.ncols == f:
        return list(range(f)), []
    if rows.ncols == f + k:
        return list(range(f)), list(range(f, f + k))
    where.fail("E405", f"`{rows.shown}` has {rows.ncols} columns but the model takes {f} "
               f"features (optionally followed by {k} target column{'s' if k != 1 else ''})",
               label="feature count",
               hints=["give the file a header row with the training column names"])


def _has_header(first: list[str], schema: Mapping[str, Any], layout: Mapping[str, Any]
                ) -> bool:
    """A first row is a header when it names a training column, or has no number at all.
    (A row of numbers with a string class label at the end is data.)"""
    cells = [c.strip() for c in first]
    named = not (layout.get("format") == "csv" and not layout.get("header"))
    names = set(schema["feature_names"]) | set(schema["target_names"])
    if named and names.intersection(cells):
        return True
    return not any(_numeric(c) for c in cells)


def _numeric(cell: str) -> bool:
    c = cell.strip()
    if c.lower() in MISSING:
        return True  # a missing value is not evidence of a header
    try:
        float(c)
    except ValueError:
        return False
    return True
