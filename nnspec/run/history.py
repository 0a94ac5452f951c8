"""run.history: history rows, one per epoch -> a CSV file that only grows (and back).

A run appends each epoch's row to its log as the epoch ends (buffered, flushed at most every
FLUSH_S seconds, no fsync), so the cost of an epoch does not depend on how many came before.
The log is fsynced before every checkpoint, so the rows up to a checkpoint's epoch are on disk
whenever that checkpoint is.
`read` rebuilds the rows for a resume: it keeps rows up to the checkpoint's epoch (later ones
belong to epochs the resumed run will train again) and drops a torn last line (a process
killed mid-append). The file is the `history.csv` artifact, or `checkpoint/history.csv` when
that artifact is not selected (a resume needs the rows either way).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from nnspec.run import killpoints
from nnspec.run.atomic import _jsonable, dumps, finite
from nnspec.run.folder import Folder

# Rows are flushed to the file at most this often (a write() per row was ~1.7 us of a tiny
# model's ~0.18 ms epoch, timeit), and always by sync() (before a checkpoint) and close().
FLUSH_S = 0.1


def cell(value: Any) -> Any:
    """repr-precision floats, so the CSV reads back to the same values as history.json
    (a row's values are nearly all Python floats: they are tested first, once per epoch
    and column)."""
    if type(value) is float:
        return repr(value)
    return repr(float(value)) if isinstance(value, (float, np.floating)) else value


def columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every key of every row, in order of first appearance (epoch first)."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(v) for k, v in row.items()})
    return buf.getvalue()


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    """history.json: the text of `write_json(rows)` (indent 2, non-finite as null), made by one
    call of json's C encoder and re-indented (its indenting encoder is pure Python, ~30x
    slower: 20,000 rows took ~0.5 s)."""
    if rows:
        try:
            text = json.dumps(list(rows), default=_jsonable, allow_nan=False, separators=_SEP)
        except ValueError:  # NaN or infinity (a diverged run): spelled null, as write_json does
            text = json.dumps(finite(list(rows)), default=_jsonable, allow_nan=False,
                              separators=_SEP)
        # flat rows, every brace a row's own (none nested, none in a key or a string, no
        # empty row): re-indent them; anything else takes the general path
        if text.count("{") == text.count("}") == len(rows) and text.count("[") == 1 \
                and text.count("]") == 1 and "{}" not in text:
            text = text.replace("{", "{\n    ").replace("}", "\n  }").replace(
                "},\n    {", "},\n  {")
            return "[\n  " + text[1:-1] + "\n]\n"
    return dumps(list(rows), indent=2) + "\n"  # the general path


_SEP = (",\n    ", ": ")  # between the fields of a row, as indent=2 writes them


def _value(key: str, text: str) -> Any:
    if text == "":
        return None
    return int(text) if key == "epoch" else float(text)


def _place(path: str | os.PathLike[str], folder: Folder | None) -> tuple[Folder, str]:
    """(folder, name): `path` is a name inside `folder` when one is given (a run folder,
    reached through its descriptor), else a path whose parent is opened (created)."""
    if folder is not None:
        return folder, str(path)
    p = Path(path)
    return Folder.open(p.parent, create=True), p.name


def read(path: str | os.PathLike[str], upto_epoch: int, folder: Folder | None = None
         ) -> list[dict[str, Any]]:
    """The rows of the log at `path` (a name in `folder` when given) with epoch <= upto_epoch
    ([] when there is no log); a last line without its newline, or any line that does not
    parse, ends the rows."""
    try:
        if folder is None:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = folder.read_text(str(path))
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline is torn (or empty)
    if not complete:
        return []
    rows: list[dict[str, Any]] = []
    names = next(csv.reader([complete[0]]))
    for values in csv.reader(complete[1:]):
        if len(values) != len(names):
            break
        try:
            row = {k: _value(k, v) for k, v in zip(names, values, strict=True) if v != ""}
        except ValueError:
            break
        if "epoch" not in row or row["epoch"] > upto_epoch:
            break
        rows.append(row)
    return rows


class HistoryLog:
    """Appends rows to a CSV log; the header is the first row's keys. A row with other keys
    (never the case within one run) rewrites the file with the union of the columns."""

    def __init__(self, path: str | os.PathLike[str], rows: Sequence[dict[str, Any]] = (), *,
                 folder: Folder | None = None):
        """A log holding exactly `rows` (written atomically when there are any, else created
        at the first append); `path` is a name inside `folder` when one is given."""
        self.folder, self.name = _place(path, folder)
        self.path = self.folder.path / self.name
        self.rows: list[dict[str, Any]] = list(rows)
        self.names: list[str] = []
        self._file: TextIO | None = None
        self._pending = io.StringIO()
        self._writer: Any = None
        self._flushed = 0.0  # when the file last got every row (set by _open)
        if self.rows:
            self._rewrite()

    def _rewrite(self) -> None:
        self.close()
        self.folder.write_text(self.name, to_csv(self.rows))
        self.names = columns(self.rows)
        self._open()

    def _open(self) -> None:
        self._file = self.folder.open_append(self.name)
        self._flushed = time.monotonic()  # (_rewrite wrote every row so far)
        # a row's values in its own order, which append() checked is the header's; the
        # lines wait in `_pending` and reach the file whole, in one write (_drain)
        self._pending = io.StringIO()
        self._writer = csv.writer(self._pending, lineterminator="\n")

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if not self.names:
            self._rewrite()  # the header and the first row, atomically
            return
        if list(row) != self.names:
            self._rewrite()
            return
        assert self._file is not None
        killpoints.reached("append:history.csv")
        self._writer.writerow([cell(v) for v in row.values()])
        now = time.monotonic()
        if now - self._flushed >= FLUSH_S:  # a reader sees the rows within FLUSH_S; a kill
            # loses at most the rows since, all after the last checkpoint, whose sync()
            # wrote every row up to it
            self._drain()
            self._flushed = now

    def _drain(self) -> None:
        """The waiting lines to the file, in one write (a reader can see half a row only
        while that write is under way, as with a write per row)."""
        assert self._file is not None
        text = self._pending.getvalue()
        if text:
            self._pending.seek(0)
            self._pending.truncate()
            self._file.write(text)
        self._file.flush()

    def sync(self) -> None:
        """Every row to the file, fsynced: called before a checkpoint is written."""
        if self._file is not None:
            self._drain()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None
