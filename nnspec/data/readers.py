"""data.readers: a file source (csv, npz) -> Table.

Only regular files are read (data.files): a folder, FIFO, socket or device is E413, by name.

CSV rules: UTF-8 text (a BOM is ignored), as the stdlib csv module splits it (data.csvfile
reads it faster, to the same result). Lines that are empty are skipped; every other row must
have as many fields as the header (or the first row); a column name given twice in the header
is E414. Columns are picked by name (with a header) or 0-based index. Feature cells must be
finite numbers; an empty cell or a missing-value marker (nan, NA, ?, ...) is E404, other text
(and inf) E403, reported as `file:line:column` with the 1-based line number of the file
(header included). The target column is read as numbers when every cell is one, else as
string labels.

NPZ rules: `x` is (N, F) (a 1-D x is one feature, (N, 1)), or images for a model with
`input C H W` (data.images.image_rows: (N, H, W), (N, C, H, W) or (N, H, W, C)); `y` is (N,)
or (N, K), numeric, or strings for class labels; no pickled objects.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np

from nnspec.data.csvfile import CsvFile, CsvLocator, Head, open_data, read_all
from nnspec.data.dataset import FileInfo, Table
from nnspec.data.errors import Where, did_you_mean, listing
from nnspec.ops.sources import Csv, Npz


def read_file(path: str, base: Path | str, where: Where, role: str) -> tuple[bytes, FileInfo]:
    """The bytes of a (regular) data file and its FileInfo; `resolved` (the path shown in
    messages) is base/path as the user would type it from the working folder."""
    fd, full = open_data(path, base, where, role)
    try:
        blob = read_all(fd)
    except OSError as e:
        where.fail("E413", f"cannot read `{path}`: {e.strerror or e}", label="unreadable file")
    finally:
        os.close(fd)
    info = FileInfo(role, path, full.as_posix(), hashlib.sha256(blob).hexdigest(), len(blob))
    return blob, info


# ----------------------------------------------------------------------------- CSV


def column(ref: str | int, head: Head, where: Where, what: str) -> int:
    """The 0-based index of a column given by name or index."""
    n = head.ncols
    if isinstance(ref, int) and not isinstance(ref, bool):
        if 0 <= ref < n:
            return ref
        where.fail("E402", f"{what} column index {ref} is out of range: `{head.shown}` has "
                   f"{n} column{'s' if n != 1 else ''} (0..{n - 1})", label="no such column",
                   hints=["column indices are 0-based"])
    name = str(ref)
    if head.header is None:
        where.fail("E402", f"{what} column `{name}` cannot be found by name: `{head.shown}` "
                   "is read without a header (header=false)", label="no such column",
                   hints=["refer to columns by 0-based index, or set header=true"])
    if name in head.header:
        return head.header.index(name)
    hints = did_you_mean(name, head.header)
    if len(head.header) == 1 and any(d in head.header[0] for d in ",;\t|"):
        guess = next(d for d in ",;\t|" if d in head.header[0])
        hints.append(f"the header has one column; is the delimiter `{guess!r}`? "
                     f"(delimiter=\"{guess}\")".replace("'", ""))
    where.fail("E402", f"{what} column `{name}` not found in `{head.shown}`",
               label="no such column", notes=[f"columns: {listing(head.header)}"], hints=hints)


def read_csv(src: Csv, base: Path | str, where: Where, role: str = "source") -> Table:
    f = CsvFile.open(src.path, base, where, role, src.delimiter)
    head, t, cols, warns = csv_columns(f, src, where)
    x, y = f.read(cols, [t])
    assert y is not None
    names = head.names()
    layout = {"format": "csv", "header": src.header, "delimiter": src.delimiter,
              "ncols": head.ncols, "features": cols, "target": t}
    return Table(x, y, [names[c] for c in cols], [names[t]], f.info, CsvLocator(f, cols, [t]),
                 layout, warns)


def csv_columns(f: CsvFile, src: Csv, where: Where) -> tuple[Head, int, list[int], list]:
    """(the columns, the target's index, the features' indices, warnings) of an open CSV,
    as the source picks them (E402, E412, E414; data.facts reads them the same way)."""
    head = f.head(src.header)
    t = column(src.target, head, where, "target")
    if src.features is None:
        cols = [c for c in range(head.ncols) if c != t]
    else:
        cols = [column(c, head, where, "feature") for c in src.features]
    warns = []
    names = head.names()
    if t in cols:
        warns.append(where.warn("W105", f"the target column `{names[t]}` is also a "
                                "feature: the model can read the answer",
                                label="target used as a feature"))
    if not cols:
        where.fail("E412", f"`{f.shown}` has no feature columns besides the target",
                   label="empty data set")
    return head, t, cols, warns


# ----------------------------------------------------------------------------- NPZ


def read_npz(src: Npz, base: Path | str, where: Where, role: str = "source",
             input_shape: tuple[int, ...] | None = None) -> Table:
    from nnspec.data.images import image_rows

    blob, info = read_file(src.path, base, where, role)
    arrays = open_npz(blob, info.resolved, where)
    x = npz_array(arrays, src.x, info.resolved, where, "feature")
    y = npz_array(arrays, src.y, info.resolved, where, "target")
    layout = {"format": "npz", "x": src.x, "y": src.y}
    if x.ndim > 2:
        layout["image_layout"] = src.layout  # how predict reads an npz of images
    x, warns = image_rows(x, input_shape, src.layout, info.resolved, where)
    table = table_from_arrays(x, y, info.resolved, where, info, layout=layout)
    table.warnings.extend(warns)
    return table


def open_npz(blob: bytes, shown: str, where: Where) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
        reason = "it holds pickled objects" if "pickle" in str(e) else "not a valid .npz archive"
        where.fail("E413", f"cannot read `{shown}`: {reason}", label="unreadable file",
                   hints=["write it with numpy.savez(path, x=features, y=targets)"])


def npz_array(arrays: dict[str, np.ndarray], key: str, shown: str, where: Where,
              what: str) -> np.ndarray:
    if key in arrays:
        return arrays[key]
    where.fail("E402", f"{what} array `{key}` not found in `{shown}`", label="no such array",
               notes=[f"arrays: {listing(sorted(arrays)) or '(none)'}"],
               hints=did_you_mean(key, sorted(arrays)))


def table_from_arrays(x: np.ndarray, y: np.ndarray | None, shown: str, where: Where,
                      info: FileInfo | None, layout: dict | None = None) -> Table:
    """Validate feature / target arrays (shape, dtype, finiteness) into a Table."""
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        where.fail("E413", f"`{shown}`: features must be a 2-D array (N, F); found shape "
                   f"{tuple(x.shape)}", label="bad data file")
    if x.dtype.kind not in "biuf":
        where.fail("E403", f"`{shown}`: features have dtype {x.dtype}, not numbers",
                   label="non-numeric data")
    if x.shape[0] == 0 or x.shape[1] == 0:
        where.fail("E412", f"`{shown}`: features have shape {tuple(x.shape)}: no samples",
                   label="empty data set")
    # float32 features stay float32 (every float32 is a float64 exactly, and what needs
    # float64 arithmetic converts: the scaler's statistics, dominant_rows; min, max and
    # comparisons give the same answers): a large set is not copied at twice its size.
    x = x if x.dtype == np.float32 else x.astype(np.float64)
    if not np.isfinite(x).all():
        i, j = map(int, np.argwhere(~np.isfinite(x))[0])
        code = "E404" if np.isnan(x[i, j]) else "E403"
        where.fail(code, f"`{shown}`: feature [{i}, {j}] (0-based) is {x[i, j]}",
                   label="missing value in data" if code == "E404" else "non-numeric data",
                   hints=["fill in or remove the samples with missing values"])
    if y is None:
        y = np.zeros((x.shape[0], 0))
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        where.fail("E413", f"`{shown}`: targets have shape {tuple(y.shape)}, expected "
                   f"({x.shape[0]},) or ({x.shape[0]}, K) to match {x.shape[0]} samples",
                   label="bad data file")
    if y.dtype.kind in "US":
        y = y.astype(str)
    elif y.dtype.kind in "biuf":
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            i = int(np.argwhere(~np.isfinite(y))[0][0])
            where.fail("E404", f"`{shown}`: target of sample {i} (0-based) is not finite",
                       label="missing value in data")
    else:
        where.fail("E403", f"`{shown}`: targets have dtype {y.dtype}, not numbers or labels",
                   label="non-numeric data")
    k = 1 if y.ndim == 1 else y.shape[1]
    return Table(x, y, [f"x{j}" for j in range(x.shape[1])],
                 ["y"] if k == 1 else [f"y{j}" for j in range(k)], info, None, layout)
