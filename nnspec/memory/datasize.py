"""memory.datasize: ir.Spec -> DataSize, how much data a run reads, without reading it.

Standard library only (`check` and the language server call it on every change):
- a generated source: its `samples` (exact);
- a CSV file: its size over the mean length of the rows in its first SAMPLE_BYTES (exact when
  the file is no longer than that: its lines are counted);
- an .npz archive: the shapes in the headers of its arrays (zip members `x.npy`, `y.npy`),
  read without reading the arrays; the file itself is held in memory while it is read.
A file that is missing or cannot be read gives `samples=None` (the reader reports it).
"""

from __future__ import annotations

import ast
import os
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nnspec import ir
from nnspec.data.files import open_regular, resolve
from nnspec.memory.estimate import DataSize
from nnspec.ops.sources import Csv, Npz, Source, Text

SAMPLE_BYTES = 1 << 16


def data_size(spec: ir.Spec, features: int, targets: int,
              facts: Mapping[str, Any] | None = None, *, read: bool = True) -> DataSize | None:
    """The DataSize of the spec's data block (None without one). `features` / `targets`:
    values per sample the model reads and the targets' columns as read (1 for a class
    label). `facts`: what pipeline.diagnose read of the data files already (data.facts,
    by role: source, validation, test): their row counts are used, and a file is opened here
    only when its facts have none and `read` is True (the language server passes False: its
    data files are read once, off the keystroke path)."""
    data = spec.data
    if data is None:
        return None
    base = Path(spec.path).parent if spec.path else Path(".")

    def rows_of(src: Source, role: str) -> tuple[int | None, bool, int, str]:
        known = (facts or {}).get(role)
        n = getattr(known, "rows", None)
        if isinstance(src, (Csv, Npz, Text)) and n is not None:
            raw = (getattr(known, "size", None) or 0) if isinstance(src, Npz) else 0
            return int(n), True, raw, ""
        if isinstance(src, (Csv, Npz)) and not read:
            return None, False, 0, f"`{src.path}` has not been read yet"
        return _rows(src, base)

    rows, exact, raw, note = rows_of(data.source, "source")
    extra: dict[str, int | None] = {}
    for role in ("validation", "test"):
        src = getattr(data, role)
        if src is None:
            extra[role] = 0
            continue
        n, ok, more, _ = rows_of(src, role)
        extra[role] = n
        exact, raw = exact and ok, raw + more
    return DataSize(samples=rows, features=features, targets=targets,
                    validation=extra["validation"], test=extra["test"], exact=exact, raw=raw,
                    note=note)


DIGITS_ROWS = 1797  # nnspec/data/builtin/digits.npz (tests/data check the shipped file)


def _rows(src: Source, base: Path) -> tuple[int | None, bool, int, str]:
    """(rows or None, exact, bytes the reader holds besides the table, how it was found)."""
    if isinstance(src, Csv):
        return _csv_rows(resolve(src.path, base), src.header)
    if isinstance(src, Npz):
        return _npz_rows(resolve(src.path, base), src.x)
    if isinstance(src, Text):
        return _text_rows(src, base)
    samples = getattr(src, "samples", None)
    if samples is None and type(src).__name__ == "Digits":
        samples = DIGITS_ROWS  # digits() is a fixed set
    return (int(samples) if samples is not None else None), samples is not None, 0, ""


BYTES_PER_WORD = 5  # English text: a word and its space, punctuation as words of its own


def _text_rows(src: Text, base: Path) -> tuple[int | None, bool, int, str]:
    """Windows of a text() source: tokens - context. The built-in corpus is counted; a
    file's tokens are estimated from its size (a character per byte, a word per
    BYTES_PER_WORD bytes); `limit` caps either."""
    if src.corpus is not None:
        from nnspec.data.text import corpus_text, tokenize

        tokens = len(tokenize(corpus_text(src.corpus), src.tokens, src.lower))
        exact, note = True, ""
    else:
        assert src.path is not None
        try:
            size = os.stat(resolve(src.path, base)).st_size
        except OSError:
            return None, False, 0, f"`{src.path}` cannot be read"
        tokens = size if src.tokens == "chars" else size // BYTES_PER_WORD
        exact, note = False, f"about {tokens:,} {src.tokens} estimated from the file's size"
    if src.limit is not None and src.limit <= tokens:
        tokens, exact, note = src.limit, exact, "" if exact else note
    n = max(tokens - src.context, 0)
    return n, exact, 0, note


def _csv_rows(path: Path, header: bool) -> tuple[int | None, bool, int, str]:
    try:
        fd = open_regular(path)
    except OSError:
        return None, False, 0, f"`{path.name}` cannot be read"
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(SAMPLE_BYTES)
    lines = [ln for ln in head.split(b"\n") if ln.strip()]
    if len(head) < SAMPLE_BYTES or size <= SAMPLE_BYTES:
        return max(len(lines) - int(header), 0), True, 0, ""
    # the last line of the sample is cut short: leave it out of the mean
    whole = lines[int(header):-1] or lines
    start = len(lines[0]) + 1 if header and lines else 0
    mean = sum(len(ln) + 1 for ln in whole) / len(whole)
    n = round((size - start) / mean)
    return n, False, 0, f"{n:,} rows estimated from the file's {size:,} bytes"


def _npz_rows(path: Path, name: str) -> tuple[int | None, bool, int, str]:
    try:
        fd = open_regular(path)
    except OSError:
        return None, False, 0, f"`{path.name}` cannot be read"
    try:
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            with zipfile.ZipFile(f) as z:
                with z.open(f"{name}.npy") as member:
                    shape = _npy_shape(member.read(1 << 12))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, SyntaxError, struct.error):
        return None, False, 0, f"the shape of `{name}` in `{path.name}` cannot be read"
    if not shape:
        return None, False, 0, f"`{name}` in `{path.name}` has no rows"
    return int(shape[0]), True, size, ""


def _npy_shape(head: bytes) -> tuple[int, ...]:
    """The shape in an .npy header (format versions 1 to 3)."""
    if head[:6] != b"\x93NUMPY":
        raise ValueError("not an .npy array")
    if head[6] == 1:
        (n,), start = struct.unpack("<H", head[8:10]), 10
    else:
        (n,), start = struct.unpack("<I", head[8:12]), 12
    meta = ast.literal_eval(head[start:start + n].decode("latin1"))
    shape = meta["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(v, int) for v in shape):
        raise ValueError("bad shape")
    return shape
