"""data.csvfile: a CSV data file -> float64 features and targets, with file:line:column errors.

What a CSV is (the rules of data.readers) is defined by the stdlib `csv` module: UTF-8 text
(a BOM is ignored), rows split by `csv.reader` with the source's delimiter and `"` quotes,
blank lines skipped (a line with no field but white space), every row as wide as the header
(or the first row), cells read with Python's `float()`.

Reading it is done twice over only when needed:
- `scan` (always): one pass over the raw bytes, through the descriptor `files.open_regular`
  checked, for the sha256, the size, UTF-8 validity and NUL bytes (a binary file);
- the fast pass: `numpy.loadtxt` (its C parser) with one structured dtype over all columns
  (features float64, the target float64 or str, others read one character wide and
  dropped), so it also checks that every row is as wide as the first. It reads ROWS rows at a
  time into arrays sized by the line count of the scan: the peak is the result plus one
  chunk. A target that is text in its first row is read as text at once; a numeric-looking
  one that turns out not to be is read again as text.
- the careful pass, only when the fast one raised (a text cell, a ragged row, a lone CR, a
  white-space-only line, a number that only Python reads, ...): `csv.reader` row by row, which
  either stops at the first problem with its file:line:column, exactly as the rules say, or
  returns the values the fast pass could not read. It streams: nothing per row is kept but
  the values (array('d')), the line number and the target's text.
A cell the fast pass read but the rules refuse (`nan`, `inf`) is located by counting rows
again up to it (`lines()`), only on that error path.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import warnings
import weakref
from array import array
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from nnspec.data.dataset import FileInfo
from nnspec.data.errors import Where
from nnspec.data.files import NotRegular, open_regular, refusal, resolve

MISSING = {"", "nan", "na", "n/a", "null", "none", "?", "-"}
# A missing *target*: `none` and `-` can be class names.
MISSING_TARGET = MISSING - {"none", "-"}
CHUNK = 1 << 20
ROWS = 1 << 18  # rows per numpy.loadtxt call: one chunk's table is a few MB


def open_data(path: str, base: Path | str, where: Where, role: str) -> tuple[int, Path]:
    """A descriptor of the regular file `path` (relative to `base`) and its full path; a
    missing file is E401, anything else that cannot be read E413, named by what it is."""
    import difflib

    full = resolve(path, base)
    try:
        return open_regular(full), full
    except FileNotFoundError:
        hints = [] if role == "input" else [
            f"paths are relative to the spec's folder ({Path(base).as_posix()})"]
        if full.parent.is_dir():
            near = difflib.get_close_matches(full.name, _data_files(full), n=1)
            hints = [f"did you mean `{_sibling(path)}{near[0]}`?" for _ in near[:1]] + hints
        where.fail("E401", f"data file `{path}` not found", label="file not found",
                   notes=[f"looked for {full.as_posix()}"], hints=hints)
    except NotRegular as e:
        message, label, hints = refusal(path, e.kind)
        where.fail("E413", message, label=label, hints=hints)
    except OSError as e:
        where.fail("E413", f"cannot read `{path}`: {e.strerror or e}", label="unreadable file")


DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".npz", ".npy", ".gz")


def _data_files(full: Path) -> list[str]:
    """The files next to `full` that could be what was meant: data files (those with its own
    suffix, or a data file suffix), never a spec (`moons.nn` for `moons.csv`)."""
    out = []
    for name in sorted(os.listdir(full.parent)):
        suffix = Path(name).suffix.lower()
        if suffix != ".nn" and (suffix in DATA_SUFFIXES or suffix == full.suffix.lower()) \
                and (full.parent / name).is_file():
            out.append(name)
    return out


def _sibling(path: str) -> str:
    """The folder part of a written path, so the hint shows a path the user can paste."""
    head = Path(path).parent.as_posix()
    return "" if head == "." else head + "/"


def read_all(fd: int) -> bytes:
    """Every byte of an open regular file: one read of the file's size into one bytes object
    (no chunks to join: a 190 MB npz spent 0.1 s joining them, and np.load shares a bytes
    object rather than copying it), then chunks for whatever is left (a file that grew, a
    short read)."""
    size = os.fstat(fd).st_size
    first = os.read(fd, max(size, CHUNK))
    if not first:
        return b""
    parts = [first]
    while chunk := os.read(fd, CHUNK):
        parts.append(chunk)
    return first if len(parts) == 1 else b"".join(parts)


@dataclass
class Head:
    """The columns of a CSV: its header (or None) and how many there are."""

    shown: str
    header: list[str] | None
    ncols: int

    def names(self) -> list[str]:
        return self.header if self.header is not None else [str(i) for i in range(self.ncols)]


def _blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


class CsvFile:
    """An open, scanned CSV file. `head(header)` reads its columns, `read()` its values."""

    def __init__(self, fd: int, info: FileInfo, delimiter: str, where: Where, quotes: bool,
                 newlines: int):
        self.fd = fd
        self.info = info
        self.shown = info.resolved
        self.delimiter = delimiter
        self.where = where
        self._quotes = quotes
        self._newlines = newlines
        self._closer = weakref.finalize(self, os.close, fd)
        self._head: Head | None = None
        self._skip = 0  # physical lines up to and including the header (0: no header)
        self._header_lines = 1  # physical lines the header row spans
        self._careful_lines: array | None = None  # line of each row, after a careful pass

    @staticmethod
    def open(path: str, base: Path | str, where: Where, role: str, delimiter: str) -> CsvFile:
        fd, full = open_data(path, base, where, role)
        try:
            sha, size, quotes, newlines = _scan(fd, full.as_posix(), where)
        except BaseException:
            os.close(fd)
            raise
        info = FileInfo(role, path, full.as_posix(), sha, size)
        return CsvFile(fd, info, delimiter, where, quotes, newlines)

    def close(self) -> None:
        self._closer()

    # -- text and rows ------------------------------------------------------------------

    def _text(self) -> io.TextIOWrapper:
        os.lseek(self.fd, 0, os.SEEK_SET)
        raw = io.FileIO(self.fd, "r", closefd=False)
        return io.TextIOWrapper(io.BufferedReader(raw, CHUNK), encoding="utf-8-sig",
                                newline="")

    def _rows(self) -> Generator[tuple[int, list[str]], None, None]:
        """(line, fields) of every non-blank row, header included; malformed CSV is E413."""
        with self._text() as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            try:
                for row in reader:
                    if not _blank(row):
                        yield reader.line_num, row
            except csv.Error as e:
                self.where.fail("E413", f"{self.shown}:{reader.line_num}: malformed CSV: {e}",
                                label="unreadable file")

    def first_row(self) -> list[str] | None:
        """The first non-blank row (header or data), None for a file with none."""
        for _line, row in self._rows():
            return row
        return None

    def head(self, header: bool) -> Head:
        """The columns; the file's first row is the header when `header`. A file with no
        data rows is E412; a column name given twice E414."""
        rows = self._rows()
        first = next(rows, None)
        second = next(rows, None) if first is not None else None
        rows.close()
        if first is None or (header and second is None):
            what = "only a header" if first is not None else "no rows"
            self.where.fail("E412", f"`{self.shown}` has {what}: no samples to read",
                            label="empty data set")
        if header:
            line, row = first
            names = [c.strip() for c in row]
            _no_duplicates(names, self.shown, line, self.where)
            self._skip = line
            self._header_lines = line - self._first_line_before(line)
            self._head = Head(self.shown, names, len(names))
        else:
            self._skip = 0
            self._head = Head(self.shown, None, len(first[1]))
        return self._head

    def _first_line_before(self, line: int) -> int:
        """The last physical line before the header row starts (for a multi-line header)."""
        with self._text() as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            before = 0
            for row in reader:
                if not _blank(row):
                    return before
                before = reader.line_num
        return line - 1  # pragma: no cover

    # -- values -------------------------------------------------------------------------

    def read(self, cols: list[int], targets: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """Features float64 (N, len(cols)) and the targets: one column as `labels()` reads it
        (float64 (N,) or str (N,)), several as float64 (N, K), none as None."""
        assert self._head is not None, "head() first"
        fast = self._fast(cols, targets) if self._header_lines <= 1 else None
        if fast is None:
            return self._careful(cols, targets)
        x, y = fast
        self._check_finite(x, cols, "feature")
        if len(targets) > 1:
            assert y is not None
            self._check_finite(y, targets, "target")
        elif targets:
            assert y is not None
            y = self._labels(y, targets[0])
        return x, y

    def _fast(self, cols: list[int], targets: list[int]
              ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """numpy.loadtxt over every column; None when it raised (the careful pass decides)."""
        text_target = len(targets) == 1 and targets[0] not in cols and not _numeric_start(
            self._first_data_cell(targets[0]))
        for as_text in ((True,) if text_target else (False, True)):
            if as_text and len(targets) != 1:
                return None
            try:
                return self._loadtxt(cols, targets, as_text)
            except _Fallback as e:
                if e.cause is None or _blames_other_column(e.cause, targets):
                    return None  # reading the target as text would not help
        return None

    def _loadtxt(self, cols: list[int], targets: list[int], as_text: bool
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """The values, read ROWS rows at a time straight into arrays sized by the file's line
        count (so the peak is the result plus one chunk); _Fallback when numpy refused."""
        head = self._head
        assert head is not None
        fields = []
        for c in range(head.ncols):
            if c in cols or (c in targets and not as_text):
                fields.append((f"c{c}", "f8"))
            elif c in targets:
                fields.append((f"c{c}", "O"))
            else:
                fields.append((f"c{c}", "U1"))  # read (its width counts), not kept
        dtype = np.dtype(fields)
        bound = self._newlines + 1
        x = np.empty((bound, len(cols)), dtype=np.float64)
        y: np.ndarray | None = None
        if len(targets) > 1 or (targets and not as_text):
            y = np.empty((bound, len(targets)), dtype=np.float64)
        labels: list[np.ndarray] = []
        n = 0
        with self._text() as text:
            while True:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        table = np.loadtxt(text, dtype=dtype, delimiter=self.delimiter,
                                           comments=None, quotechar='"', ndmin=1,
                                           skiprows=self._skip if n == 0 else 0,
                                           max_rows=ROWS)
                    except (ValueError, TypeError, IndexError, UnicodeError) as e:
                        raise _Fallback(e) from None
                ended = False
                for w in caught:
                    message = str(w.message)
                    if "contained no data" in message and "max_rows" in message:
                        continue  # a blank line inside a chunk: skipped, as the rules say
                    if "input contained no data" in message and n > 0:
                        ended = True  # the previous chunk ended exactly at the end
                        continue
                    raise _Fallback(None)
                if ended:
                    break
                m = len(table)
                if n + m > bound:
                    raise _Fallback(None)  # (cannot happen: a row is at least one line)
                for j, c in enumerate(cols):
                    x[n:n + m, j] = table[f"c{c}"]
                if y is not None:
                    for j, c in enumerate(targets):
                        y[n:n + m, j] = table[f"c{c}"]
                elif targets:
                    labels.append(np.char.strip(table[f"c{targets[0]}"].astype(str)))
                n += m
                del table
                if m < ROWS:
                    break
        if n == 0:
            raise _Fallback(None)  # (head() saw a data row: let the careful pass say)
        x = _shrink(x, n)
        if y is not None:
            y = _shrink(y, n)
            return x, (y[:, 0].copy() if len(targets) == 1 else y)
        if targets:
            return x, np.concatenate(labels)
        return x, None

    def _first_data_cell(self, col: int) -> str:
        rows = self._rows()
        try:
            if self._skip:
                next(rows, None)
            row = next(rows, None)
        finally:
            rows.close()
        return row[1][col] if row is not None and col < len(row[1]) else ""

    def _check_finite(self, values: np.ndarray, cols: list[int], what: str) -> None:
        bad = ~np.isfinite(values)
        if bad.any():
            i, j = map(int, np.argwhere(bad)[0])
            line, row = self.row(i)
            _bad_cell(self.where, self.shown, line, cols[j], row[cols[j]].strip(),
                      self._head.names()[cols[j]], what)  # type: ignore[union-attr]

    def _labels(self, y: np.ndarray, col: int) -> np.ndarray:
        """A target column as `labels()` reads it, from what the fast pass read."""
        if y.dtype.kind == "f":
            if np.isfinite(y).all():
                return y
            i = int(np.flatnonzero(~np.isfinite(y))[0])
            line, row = self.row(i)
            return self._missing_target(line, col, row[col].strip())
        cells = y if y.dtype.kind == "U" else np.char.strip(y.astype(str))
        values = _floats(cells)
        if values is not None and np.isfinite(values).all():
            return values
        if values is not None:
            i = int(np.flatnonzero(~np.isfinite(values))[0])
        else:
            missing = np.isin(np.char.lower(cells), sorted(MISSING_TARGET))
            if not missing.any():
                return cells
            i = int(np.flatnonzero(missing)[0])
        return self._missing_target(self.line(i), col, str(cells[i]))

    def _missing_target(self, line: int, col: int, cell: str) -> np.ndarray:
        shown = "an empty cell" if not cell else f"`{cell}`"
        self.where.fail("E404", f"{self.shown}:{line}:{col + 1}: missing target ({shown}) in "
                        f"column `{self._head.names()[col]}`",  # type: ignore[union-attr]
                        label="missing value in data",
                        hints=["fill in or remove the rows with missing targets"])

    def _careful(self, cols: list[int], targets: list[int]
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """Row by row with the csv module: the first problem, located, or the values."""
        head = self._head
        assert head is not None
        width = head.ncols
        values = array("d")
        lines = array("q")
        cells: list[str] = []  # one target column, as text
        tvalues = array("d")  # several target columns
        not_float: tuple[int, int, int] | None = None  # (row, col, line)
        not_finite: tuple[int, int, int] | None = None
        t_not_float: tuple[int, int, int] | None = None
        t_not_finite: tuple[int, int, int] | None = None
        rows = self._rows()
        if head.header is not None:
            next(rows)
        i = 0
        for line, row in rows:
            if len(row) != width:
                self.ragged(line, row)
            lines.append(line)
            if not_float is None:
                for c in cols:
                    try:
                        v = float(row[c])
                    except ValueError:
                        not_float = (i, c, line)
                        break
                    if not_finite is None and v - v != 0.0:
                        not_finite = (i, c, line)
                    values.append(v)
            if len(targets) == 1:
                cells.append(row[targets[0]].strip())
            elif t_not_float is None:
                for c in targets:
                    try:
                        v = float(row[c])
                    except ValueError:
                        t_not_float = (i, c, line)
                        break
                    if t_not_finite is None and v - v != 0.0:
                        t_not_finite = (i, c, line)
                    tvalues.append(v)
            i += 1
        self._careful_lines = lines
        bad = not_float or not_finite
        if bad is not None:
            i, c, line = bad
            self._fail_cell(line, c, "feature")
        x = np.frombuffer(values, dtype=np.float64).reshape(i, len(cols)).copy()
        del values
        if len(targets) > 1:
            bad = t_not_float or t_not_finite
            if bad is not None:
                self._fail_cell(bad[2], bad[1], "target")
            return x, np.frombuffer(tvalues, np.float64).reshape(i, len(targets)).copy()
        if not targets:
            return x, None
        return x, self._labels(np.array(cells, dtype=object), targets[0])

    def ragged(self, line: int, row: list[str]) -> NoReturn:
        """E413 for a row whose width differs from the header's (or the first row's)."""
        head = self._head
        assert head is not None
        first = "the header" if head.header is not None else "the first row"
        self.where.fail("E413", f"{self.shown}:{line}: row has {len(row)} fields but "
                        f"{first} has {head.ncols}", label="ragged CSV file",
                        hints=[f"check the delimiter (`{self.delimiter}`) and the "
                               "quoting of that line"])

    def _fail_cell(self, line: int, col: int, what: str) -> None:
        for ln, row in self._rows():
            if ln == line:
                _bad_cell(self.where, self.shown, line, col, row[col].strip(),
                          self._head.names()[col], what)  # type: ignore[union-attr]
        raise AssertionError("row not found")  # pragma: no cover

    # -- locating rows ------------------------------------------------------------------

    def row(self, i: int) -> tuple[int, list[str]]:
        """(line, fields) of data row i (0-based)."""
        return self.rows([i])[i]

    def rows(self, wanted: Iterable[int]) -> dict[int, tuple[int, list[str]]]:
        """(line, fields) of the given data rows, found by counting rows again."""
        want = sorted(set(wanted))
        out: dict[int, tuple[int, list[str]]] = {}
        if not want:
            return out
        it = self._rows() if self._quotes else self._plain_rows()
        try:
            if self._skip:
                next(it, None)
            k = 0
            for i, item in enumerate(it):
                if i == want[k]:
                    out[i] = item
                    k += 1
                    if k == len(want):
                        break
        finally:
            it.close()
        return out

    def line(self, i: int) -> int:
        """The 1-based line number of data row i."""
        if self._careful_lines is not None:
            return int(self._careful_lines[i])
        return self.row(i)[0]

    def lines(self, wanted: Iterable[int]) -> dict[int, int]:
        if self._careful_lines is not None:
            return {i: int(self._careful_lines[i]) for i in wanted}
        return {i: line for i, (line, _row) in self.rows(wanted).items()}

    def _plain_rows(self) -> Generator[tuple[int, list[str]], None, None]:
        """_rows() for a file without a quote character: lines split at the delimiter (what
        csv.reader does then), a few times faster."""
        d = self.delimiter
        with self._text() as text:
            for n, raw in enumerate(text, 1):
                line = raw.rstrip("\r\n")
                if d not in line and not line.strip():
                    continue
                yield n, line.split(d)


class _Fallback(Exception):
    """numpy.loadtxt refused the file (`cause`: its error, None for a warning)."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _shrink(a: np.ndarray, n: int) -> np.ndarray:
    """The first n rows; a copy when the rest would waste more than a tenth."""
    return a[:n] if n >= 0.9 * len(a) else a[:n].copy()


def _blames_other_column(e: BaseException, targets: list[int]) -> bool:
    """Whether numpy's message names a cell outside the target column ("... at row 3,
    column 2."): then the careful pass is next. Only a shortcut: unknown wording is no."""
    m = re.search(r"\bcolumn (\d+)\.?$", str(e))
    return m is not None and len(targets) == 1 and int(m.group(1)) - 1 != targets[0]


def _numeric_start(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _floats(cells: np.ndarray) -> np.ndarray | None:
    """Every cell as Python's float() reads it, or None at the first that is not a number."""
    out = np.empty(len(cells), dtype=np.float64)
    try:
        for i, c in enumerate(cells):  # one cell at a time: a label column stops at once
            out[i] = float(c)
    except ValueError:
        return None
    return out


def _bad_cell(where: Where, shown: str, line: int, c: int, cell: str, name: str,
              what: str) -> None:
    loc = f"{shown}:{line}:{c + 1}"
    if cell.lower() in MISSING:
        text = "an empty cell" if not cell else f"`{cell}`"
        where.fail("E404", f"{loc}: missing value ({text}) in {what} column `{name}`",
                   label="missing value in data",
                   hints=["fill in or remove the rows with missing values"])
    kind = "not a finite number" if _numeric_start(cell) else "not a number"
    where.fail("E403", f"{loc}: {what} column `{name}` has `{cell}`, {kind}",
               label="non-numeric data",
               hints=["every feature must be a number; encode categories as numbers "
                      "(e.g. one column per category)"])


def _no_duplicates(names: list[str], shown: str, line: int, where: Where) -> None:
    seen: dict[str, int] = {}
    for c, name in enumerate(names):
        if name in seen:
            first = seen[name]
            shown_name = f"`{name}`" if name else "`` (an empty name)"
            where.fail("E414", f"{shown}:{line}:{c + 1}: column {c + 1} is named {shown_name}, "
                       f"like column {first + 1} ({shown}:{line}:{first + 1})",
                       label="duplicate column name",
                       notes=["columns are found by name: with two of one name, which one "
                              "a name means is a guess"],
                       hints=["rename one of the two columns in the header"])
        seen[name] = c


def _scan(fd: int, shown: str, where: Where) -> tuple[str, int, bool, int]:
    """(sha256, size, whether a quote character occurs, newlines) of the whole file; E413 for
    text that is not UTF-8 or holds NUL bytes (a binary file)."""
    sha = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = 0
    nul = quotes = False
    newlines = 0
    while chunk := os.read(fd, CHUNK):
        newlines += chunk.count(b"\n")
        sha.update(chunk)
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as e:
            pending = len(e.object) - len(chunk)
            _not_utf8(where, shown, size - pending + e.start)
        nul = nul or b"\x00" in chunk
        quotes = quotes or b'"' in chunk
        size += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        _not_utf8(where, shown, size - len(e.object) + e.start)
    if nul:
        where.fail("E413", f"`{shown}` is a binary file, not CSV text", label="unreadable file")
    return sha.hexdigest(), size, quotes, newlines


def _not_utf8(where: Where, shown: str, offset: int) -> None:
    where.fail("E413", f"`{shown}` is not UTF-8 text (bad byte at offset {offset})",
               label="unreadable file", hints=["save the file as UTF-8 CSV"])


class CsvLocator:
    """Where sample i's target / feature j came from in a CSV file (`file:line:column`)."""

    def __init__(self, file: CsvFile, cols: list[int], targets: list[int]) -> None:
        self.file, self.cols, self.targets = file, cols, targets

    def target(self, i: int) -> str:
        col = self.targets[0] + 1 if self.targets else 1
        return f"{self.file.shown}:{self.file.line(i)}:{col}"

    def feature(self, i: int, j: int) -> str:
        return f"{self.file.shown}:{self.file.line(i)}:{self.cols[j] + 1}"

    def features(self, cells: Iterable[tuple[int, int]]) -> list[str]:
        cells = list(cells)
        lines = self.file.lines(i for i, _ in cells)
        return [f"{self.file.shown}:{lines[i]}:{self.cols[j] + 1}" for i, j in cells]
