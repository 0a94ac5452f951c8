"""data.facts: a file source (csv, npz) -> Facts (columns, features, target labels, rows) and
the first problem `run` would report, in one streaming pass with bounded memory.

What `nnspec check` and the language server know about the data without loading it. The
reading rules and every message are the data layer's own (data.csvfile, data.readers,
data.load, data.targets), so `check` reports a bad file with the same code, words and
position as `run`:

- a CSV is opened and scanned as `run` opens it (E401, E413: missing, not a regular file, not
  UTF-8, binary), its columns picked as `run` picks them (E402, E412, E414), then its rows go
  through `csv.reader` once, as the careful pass of data.csvfile reads them (E413 for a ragged
  row, E403 / E404 for the first bad feature cell, E404 for a missing target). Nothing is kept
  per row: only the row count and each distinct target value with the line it first appears
  on (at most MAX_LABELS of them), from which a small Table is built that data.targets judges
  exactly as it judges the whole column (E305, E403, E406);
- an .npz is read whole (it is binary: there is no header to read apart), up to the limit.

Files larger than `limit` bytes are read up to their header only (CSV) or not at all (npz):
`Facts.not_read` says so, and `judge` turns that into the note W113.

Facts are computed without the spec's positions (a placeholder Where) so the language server
can cache them across edits; `judge` anchors them at the `source` statement.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.data.csvfile import MISSING_TARGET, CsvFile, _bad_cell, open_data
from nnspec.data.dataset import FileInfo, Table
from nnspec.data.errors import Where
from nnspec.data.files import kind_of, refusal, resolve
from nnspec.data.load import feature_count
from nnspec.data.readers import csv_columns, read_npz
from nnspec.data.targets import encode
from nnspec.diagnostics import Diagnostic, DiagnosticError, Span, note
from nnspec.ops.sources import Csv, Npz, Text

LIMIT = 16 << 20  # `nnspec check` reads the rows of data files up to 16 MiB
MAX_LABELS = 1000  # distinct target values kept; more: the classes are not judged

_ANCHOR = Span.point(1, 1)  # where facts point until `anchor()` moves them to the spec
_PLACE = "<spec>"


@dataclass(frozen=True)
class Facts:
    """What one data file holds, as far as it was read. `problem`: the first error `run`
    would report reading it (positioned at a placeholder; see `anchor`). `labels`: the
    distinct target values in the order they first appear, `label_at`: where each first
    appears (`file:line:col`, or `file: row i (0-based)`); None when the rows were not read
    (see all_labels for a target with many values)."""

    shown: str
    size: int | None = None
    rows: int | None = None
    features: tuple[str, ...] | None = None
    target_names: tuple[str, ...] = ()
    labels: Any = None  # np.ndarray: str (n,), float (n,) or (n, K)
    label_at: tuple[str, ...] = ()
    problem: Diagnostic | None = None
    warnings: tuple[Diagnostic, ...] = ()
    not_read: str | None = None
    # False: the target has more than MAX_LABELS distinct values, `labels` holds the first of
    # them (and, for a text target, its first value that is not a number): enough to judge a
    # regression target, not to count classes
    all_labels: bool = True

    def table(self) -> Table:
        """A Table of the distinct target values (x holds no rows): what data.targets needs
        to judge the labels as it judges the whole column."""
        assert self.labels is not None and self.features is not None
        return Table(np.empty((0, len(self.features))), self.labels, list(self.features),
                     list(self.target_names), locator=_FirstSeen(self.label_at))


class _FirstSeen:
    """Locator of a Facts table: distinct value i first appears at label_at[i]."""

    def __init__(self, label_at: tuple[str, ...]) -> None:
        self.label_at = label_at

    def target(self, i: int) -> str:
        return self.label_at[i]

    def feature(self, i: int, j: int) -> str:  # pragma: no cover - x has no rows
        return self.label_at[i]

    def features(self, cells: Any) -> list[str]:  # pragma: no cover
        return [self.label_at[i] for i, _ in cells]


def key(src: Csv | Npz, base: Path | str) -> tuple:
    """What the facts of `src` depend on: its options and its file's identity (size and
    modification time, from one `stat`: nothing is opened). The language server caches
    facts under this key."""
    full = resolve(src.path, base)
    try:
        st = os.stat(full)
        ident: tuple = (st.st_size, st.st_mtime_ns, st.st_ino) if stat.S_ISREG(st.st_mode) \
            else ("not regular", kind_of(st.st_mode))
    except OSError as e:
        ident = ("missing", type(e).__name__)
    options = src.model_dump(exclude={"span"})
    return (str(full), str(Path(base)), src.path, tuple(sorted(
        (k, repr(v)) for k, v in options.items())), ident)


def not_regular(src: Csv | Npz, base: Path | str) -> Facts | None:
    """E413 for a path that is there but is no regular file, from `stat` alone: such a file
    is never opened (a FIFO would block, a device never end)."""
    full = resolve(src.path, base)
    try:
        mode = os.stat(full).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    message, label, hints = refusal(src.path, kind_of(mode))
    where = Where(_PLACE, _ANCHOR)
    return Facts(full.as_posix(), problem=where.diag("E413", message, label=label,
                                                        hints=hints))


def read_facts(src: Csv | Npz | Text, base: Path | str, role: str = "source", *,
               limit: int | None = None) -> Facts:
    """The facts of one file source (never raises for bad data: see Facts.problem); files
    over `limit` bytes (default LIMIT) are read up to their header only."""
    limit = LIMIT if limit is None else limit
    refused = not_regular(src, base)
    if refused is not None:
        return refused
    where = Where(_PLACE, _ANCHOR)
    shown = resolve(src.path, base).as_posix()
    try:
        if isinstance(src, Csv):
            return _csv_facts(src, base, where, role, limit)
        if isinstance(src, Text):
            return _text_facts(src, base, where, role, limit)
        return _npz_facts(src, base, where, role, limit)
    except DiagnosticError as exc:
        return Facts(shown, problem=exc.diagnostics[0])


def _size_note(size: int, limit: int, what: str) -> str:
    return f"{what}: the file is {_bytes(size)}, over the {_bytes(limit)} `check` reads"


def _bytes(n: int) -> str:
    if n < 1 << 10:
        return f"{n} bytes"
    if n < 1 << 20:
        return f"{n / 2**10:.1f} KiB"
    return f"{n / 2**20:.1f} MiB"


def _size(src: Csv | Npz | Text, base: Path | str) -> int:
    """The file's size from `stat` (0 when it cannot be had: opening it then says why)."""
    try:
        return os.stat(resolve(src.path, base)).st_size
    except OSError:
        return 0


def _csv_facts(src: Csv, base: Path | str, where: Where, role: str, limit: int) -> Facts:
    size = _size(src, base)
    if size > limit:
        # The header only: the bytes are not scanned, so a decoding error ends the reading.
        fd, full = open_data(src.path, base, where, role)
        f = CsvFile(fd, FileInfo(role, src.path, full.as_posix(), "", size), src.delimiter,
                    where, True, 0)
        try:
            head, t, cols, warns = csv_columns(f, src, where)
        except (UnicodeDecodeError, ValueError):
            return Facts(full.as_posix(), size, not_read=_size_note(
                size, limit, "`check` could not read its header as text"))
        finally:
            f.close()
        names = head.names()
        return Facts(full.as_posix(), size, features=tuple(names[c] for c in cols),
                     target_names=(names[t],), warnings=tuple(warns),
                     not_read=_size_note(size, limit, "`check` read only its header"))
    f = CsvFile.open(src.path, base, where, role, src.delimiter)
    try:
        head, t, cols, warns = csv_columns(f, src, where)
        names = head.names()
        rows, labels, lines, complete = _stream(f, cols, t, where)
    finally:
        f.close()
    label_at = tuple(f"{f.shown}:{line}:{t + 1}" for line in lines)
    return Facts(f.shown, f.info.size, rows, tuple(names[c] for c in cols), (names[t],),
                 labels, label_at, warnings=tuple(warns), all_labels=complete)


def _text_facts(src: Text, base: Path | str, where: Where, role: str, limit: int) -> Facts:
    """A text() file read as `run` reads it (data.text.read_text: E401, E413, E425-E427 and
    W110 with run's words), kept: the number of windows. Its ids are the vocabulary's, which
    the spec declares, so there are no labels to judge here."""
    assert src.path is not None
    size = _size(src, base)
    if size > limit:
        return Facts(resolve(src.path, base).as_posix(), size,
                     not_read=_size_note(size, limit, "`check` did not read the text"))
    from nnspec.data.text import read_text  # (imports NumPy, as reading a csv does)

    table = read_text(src, base, where, role)
    shown = table.file.resolved if table.file is not None else src.path
    return Facts(shown, size, rows=len(table.y), warnings=tuple(table.warnings))


def _stream(f: CsvFile, cols: list[int], t: int, where: Where
            ) -> tuple[int, Any, list[int], bool]:
    """One pass over the rows, judged as data.csvfile's careful pass judges them: a ragged
    row at once; then the first feature cell that is not a number (else the first that is not
    finite); then the target column (missing values). -> (rows, distinct target values in
    first-appearance order (at most MAX_LABELS, and the first text value), their lines,
    whether those are all the distinct values)."""
    head = f._head
    assert head is not None
    width = head.ncols
    rows = f._rows()
    if head.header is not None:
        next(rows)
    n = 0
    not_float = not_finite = None  # (line, column, cell)
    seen: dict[str, int] = {}
    many = False
    t_text = t_missing = t_infinite = None  # (line, cell)
    for line, row in rows:
        if len(row) != width:
            rows.close()
            f.ragged(line, row)
        n += 1
        if not_float is None:
            for c in cols:
                try:
                    v = float(row[c])
                except ValueError:
                    not_float = (line, c, row[c].strip())
                    break
                if not_finite is None and v - v != 0.0:
                    not_finite = (line, c, row[c].strip())
        cell = row[t].strip()
        if not many and cell not in seen:
            if len(seen) >= MAX_LABELS:
                many = True
            else:
                seen[cell] = line
        if t_text is None:
            try:
                v = float(cell)
            except ValueError:
                t_text = (line, cell)
            else:
                if t_infinite is None and v - v != 0.0:
                    t_infinite = (line, cell)
        if t_missing is None and cell.lower() in MISSING_TARGET:
            t_missing = (line, cell)
    bad = not_float or not_finite
    if bad is not None:
        line, c, cell = bad
        _bad_cell(where, f.shown, line, c, cell, head.names()[c], "feature")
    # data.csvfile._labels: numbers when every cell is one (then a non-finite one is missing),
    # else text labels (then a missing-value marker is missing)
    missing = t_infinite if t_text is None else t_missing
    if missing is not None:
        f._missing_target(missing[0], t, missing[1])
    if many and t_text is not None and t_text[1] not in seen:
        seen[t_text[1]] = t_text[0]  # what data.targets reports for a regression target
    cells = list(seen)
    labels = (np.array([float(c) for c in cells], dtype=np.float64) if t_text is None
              else np.array(cells, dtype=str))
    return n, labels, list(seen.values()), not many


def _npz_facts(src: Npz, base: Path | str, where: Where, role: str, limit: int) -> Facts:
    size = _size(src, base)
    if size > limit:
        return Facts(resolve(src.path, base).as_posix(), size,
                     not_read=_size_note(size, limit, "`check` did not read it"))
    table = read_npz(src, base, where, role)
    y = table.y
    flat = y if y.ndim == 1 else y.reshape(len(y), -1)
    _, first = np.unique(flat, axis=0, return_index=True)
    first = np.sort(first)
    label_at: tuple[str, ...] = ()
    labels = None
    complete = len(first) <= MAX_LABELS
    if complete or y.dtype.kind == "f":  # numbers: the first values judge a regression
        first = first[:MAX_LABELS]
        labels = y[first]
        label_at = tuple(table.locate(int(i)) for i in first)
    shown = table.file.resolved if table.file else resolve(src.path, base).as_posix()
    return Facts(shown, size, len(table), tuple(table.feature_names),
                 tuple(table.target_names), labels, label_at, all_labels=complete)


# ----------------------------------------------------------------------------- judging


def anchor(d: Diagnostic, path: str | None, span: Span | None) -> Diagnostic:
    """A diagnostic of the facts, moved to the `source` statement at `span` of the spec."""
    return d.model_copy(update={"path": path, "span": span,
                                "label": d.label if span is not None else None})


def not_read_note(facts: Facts, path: str | None, span: Span | None) -> Diagnostic:
    return note("W113", f"the data in `{facts.shown}` was not fully checked: "
                f"{facts.not_read}",
                span, path=path, label="not read" if span is not None else None,
                hints=["`nnspec run` reads and checks all of it"])


def judge(parts: list[tuple[Facts, Span | None]], path: str | None, *,
          n_inputs: int | None = None, n_outputs: int | None = None,
          task: str | None = None) -> list[Diagnostic]:
    """The diagnostics of the sources' facts (`parts`: the facts and the span of the
    statement of each source, the main source first), as `run` would report them: each file's
    own problem, then the feature count against the model's input (E405), then the targets
    against the output layer and the loss (data.targets: E305, E403, E406). A model fact
    left None (it did not check) skips what needs it."""
    out: list[Diagnostic] = []
    tables = []
    for facts, span in parts:
        where = Where(path, span)
        if facts.problem is not None:
            out.append(anchor(facts.problem, path, span))
            continue
        out += [anchor(w, path, span) for w in facts.warnings]
        if facts.not_read is not None:
            out.append(not_read_note(facts, path, span))
        if n_inputs is not None and facts.features is not None:
            try:
                feature_count(len(facts.features), list(facts.features), where, n_inputs)
            except DiagnosticError as exc:
                out += exc.diagnostics
        if facts.labels is not None:
            tables.append((facts.table(), where))
    # with more distinct target values than were kept, only a regression target is judged
    # (its verdict does not depend on how many there are)
    counted = task == "regression" or all(f.all_labels for f, _ in parts)
    if (task is not None and n_outputs is not None and tables and counted
            and len(tables) == len(parts)):
        try:
            encode(tables, task, n_outputs)
        except DiagnosticError as exc:
            out += exc.diagnostics
    return out
