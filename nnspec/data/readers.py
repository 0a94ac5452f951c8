"""data.readers: a file source (csv, npz) -> Table.

CSV rules: UTF-8 text (a BOM is ignored), read with the stdlib csv module. Lines that are empty
are skipped; every other row must have as many fields as the header (or the first row).
Columns are picked by name (with a header) or 0-based index. Feature cells must be finite
numbers; an empty cell or a missing-value marker (nan, NA, ?, ...) is E404, other text E403,
reported as `file:line:column` with the 1-based line number of the file (header included).
The target column is read as numbers when every cell is one, else as string labels.

NPZ rules: `x` is (N, F) (a 1-D x is one feature, (N, 1)), `y` is (N,) or (N, K), numeric, or
strings for class labels; no pickled objects.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnspec.data.dataset import FileInfo, Table
from nnspec.data.errors import Where, did_you_mean, listing
from nnspec.ops.sources import Csv, Npz

MISSING = {"", "nan", "na", "n/a", "null", "none", "?", "-"}


def resolve(path: str, base: Path | str) -> Path:
    """A relative path is relative to the spec's folder `base`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base) / p


def read_file(path: str, base: Path | str, where: Where, role: str) -> tuple[bytes, FileInfo]:
    """The bytes of a data file and its FileInfo; `resolved` (the path shown in messages) is
    base/path as the user would type it from the working folder."""
    full = resolve(path, base)
    try:
        blob = full.read_bytes()
    except FileNotFoundError:
        hints = [] if role == "input" else [
            f"paths are relative to the spec's folder ({Path(base).as_posix()})"]
        if full.parent.is_dir():
            near = difflib.get_close_matches(full.name, sorted(os.listdir(full.parent)), n=1)
            hints = [f"did you mean `{_sibling(path)}{near[0]}`?" for _ in near[:1]] + hints
        where.fail("E401", f"data file `{path}` not found", label="file not found",
                   notes=[f"looked for {full.as_posix()}"], hints=hints)
    except IsADirectoryError:
        where.fail("E413", f"`{path}` is a folder, not a data file", label="not a file")
    except OSError as e:
        where.fail("E413", f"cannot read `{path}`: {e.strerror or e}", label="unreadable file")
    info = FileInfo(role, path, full.as_posix(), hashlib.sha256(blob).hexdigest(), len(blob))
    return blob, info


def _sibling(path: str) -> str:
    """The folder part of a written path, so the hint shows a path the user can paste."""
    head = Path(path).parent.as_posix()
    return "" if head == "." else head + "/"


# ----------------------------------------------------------------------------- CSV


@dataclass
class Rows:
    """A CSV split into fields: header (or None), data rows and each row's line number."""

    shown: str
    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]

    @property
    def ncols(self) -> int:
        return len(self.header) if self.header is not None else len(self.rows[0])

    def names(self) -> list[str]:
        return self.header if self.header is not None else [str(i) for i in range(self.ncols)]


def split_rows(blob: bytes, shown: str, delimiter: str, header: bool, where: Where) -> Rows:
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        where.fail("E413", f"`{shown}` is not UTF-8 text (bad byte at offset {e.start})",
                   label="unreadable file", hints=["save the file as UTF-8 CSV"])
    if "\x00" in text:
        where.fail("E413", f"`{shown}` is a binary file, not CSV text", label="unreadable file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    head: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    width = 0
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if head is None and header:
                head = [c.strip() for c in row]
                width = len(head)
                continue
            if not width:
                width = len(row)
            if len(row) != width:
                first = "the header" if header else "the first row"
                where.fail("E413", f"{shown}:{reader.line_num}: row has {len(row)} fields but "
                           f"{first} has {width}", label="ragged CSV file",
                           hints=[f"check the delimiter (`{delimiter}`) and the quoting of "
                                  "that line"])
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as e:
        where.fail("E413", f"{shown}:{reader.line_num}: malformed CSV: {e}",
                   label="unreadable file")
    if not rows:
        what = "only a header" if head is not None else "no rows"
        where.fail("E412", f"`{shown}` has {what}: no samples to read", label="empty data set")
    return Rows(shown, head, rows, lines)


def column(ref: str | int, rows: Rows, where: Where, what: str) -> int:
    """The 0-based index of a column given by name or index."""
    n = rows.ncols
    if isinstance(ref, int) and not isinstance(ref, bool):
        if 0 <= ref < n:
            return ref
        where.fail("E402", f"{what} column index {ref} is out of range: `{rows.shown}` has "
                   f"{n} column{'s' if n != 1 else ''} (0..{n - 1})", label="no such column",
                   hints=["column indices are 0-based"])
    name = str(ref)
    if rows.header is None:
        where.fail("E402", f"{what} column `{name}` cannot be found by name: `{rows.shown}` "
                   "is read without a header (header=false)", label="no such column",
                   hints=["refer to columns by 0-based index, or set header=true"])
    if name in rows.header:
        return rows.header.index(name)
    hints = did_you_mean(name, rows.header)
    if len(rows.header) == 1 and any(d in rows.header[0] for d in ",;\t|"):
        guess = next(d for d in ",;\t|" if d in rows.header[0])
        hints.append(f"the header has one column; is the delimiter `{guess!r}`? "
                     f"(delimiter=\"{guess}\")".replace("'", ""))
    where.fail("E402", f"{what} column `{name}` not found in `{rows.shown}`",
               label="no such column", notes=[f"columns: {listing(rows.header)}"], hints=hints)


def numbers(rows: Rows, cols: list[int], where: Where, what: str) -> np.ndarray:
    """Float64 (N, len(cols)); the first bad cell is E403 (text) or E404 (missing)."""
    out: np.ndarray | None
    try:
        out = np.array([[float(r[c]) for c in cols] for r in rows.rows], dtype=np.float64)
    except ValueError:
        out = None
    bad = None if out is not None else _first_bad(rows, cols)
    if bad is None and out is not None and not np.isfinite(out).all():
        i, j = map(int, np.argwhere(~np.isfinite(out))[0])
        bad = (i, cols[j])
    if bad is None:
        assert out is not None
        return out
    i, c = bad
    cell = rows.rows[i][c].strip()
    name = rows.names()[c]
    loc = f"{rows.shown}:{rows.lines[i]}:{c + 1}"
    if cell.lower() in MISSING:
        shown = "an empty cell" if not cell else f"`{cell}`"
        where.fail("E404", f"{loc}: missing value ({shown}) in {what} column `{name}`",
                   label="missing value in data",
                   hints=["fill in or remove the rows with missing values"])
    kind = "not a finite number" if _is_float(cell) else "not a number"
    where.fail("E403", f"{loc}: {what} column `{name}` has `{cell}`, {kind}",
               label="non-numeric data",
               hints=["every feature must be a number; encode categories as numbers "
                      "(e.g. one column per category)"])


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _first_bad(rows: Rows, cols: list[int]) -> tuple[int, int]:
    for i, r in enumerate(rows.rows):
        for c in cols:
            if not _is_float(r[c]):
                return i, c
    raise AssertionError("no bad cell")  # pragma: no cover


def labels(rows: Rows, col: int, where: Where) -> np.ndarray:
    """A target column: float64 (N,) when every cell is a number, else str labels (N,)."""
    cells = [r[col].strip() for r in rows.rows]
    try:
        values = np.array([float(c) for c in cells], dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and np.isfinite(values).all():
        return values
    for i, cell in enumerate(cells):
        # Missing targets are errors in either reading: a NaN label cannot be trained on.
        if cell.lower() in MISSING - {"none", "-"} or (values is not None
                                                      and not np.isfinite(values[i])):
            shown = "an empty cell" if not cell else f"`{cell}`"
            where.fail("E404", f"{rows.shown}:{rows.lines[i]}:{col + 1}: missing target "
                       f"({shown}) in column `{rows.names()[col]}`",
                       label="missing value in data",
                       hints=["fill in or remove the rows with missing targets"])
    return np.array(cells, dtype=str)


def read_csv(src: Csv, base: Path | str, where: Where, role: str = "source") -> Table:
    blob, info = read_file(src.path, base, where, role)
    rows = split_rows(blob, info.resolved, src.delimiter, src.header, where)
    t = column(src.target, rows, where, "target")
    if src.features is None:
        cols = [c for c in range(rows.ncols) if c != t]
    else:
        cols = [column(f, rows, where, "feature") for f in src.features]
    warns = []
    if t in cols:
        warns.append(where.warn("W105", f"the target column `{rows.names()[t]}` is also a "
                                "feature: the model can read the answer",
                                label="target used as a feature"))
    if not cols:
        where.fail("E412", f"`{info.resolved}` has no feature columns besides the target",
                   label="empty data set")
    names = rows.names()
    x = numbers(rows, cols, where, "feature")
    y = labels(rows, t, where)
    locs = [f"{rows.shown}:{line}:{t + 1}" for line in rows.lines]
    layout = {"format": "csv", "header": src.header, "delimiter": src.delimiter,
              "ncols": rows.ncols, "features": cols, "target": t}
    return Table(x, y, [names[c] for c in cols], [names[t]], info, locs, layout, warns)


# ----------------------------------------------------------------------------- NPZ


def read_npz(src: Npz, base: Path | str, where: Where, role: str = "source") -> Table:
    blob, info = read_file(src.path, base, where, role)
    arrays = open_npz(blob, info.resolved, where)
    x = npz_array(arrays, src.x, info.resolved, where, "feature")
    y = npz_array(arrays, src.y, info.resolved, where, "target")
    return table_from_arrays(x, y, info.resolved, where, info,
                             layout={"format": "npz", "x": src.x, "y": src.y})


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
    x = x.astype(np.float64)
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
