"""Helpers for the data tests (imported by name: tests/data is on sys.path under pytest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnspec import ir
from nnspec.data import load_data
from nnspec.diagnostics import Diagnostic, DiagnosticError, Span, render


def span_of(text: str, needle: str) -> Span:
    """The span of the first occurrence of `needle` in `text` (single line)."""
    start = text.index(needle)
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return Span(line=line, col=col, end_line=line, end_col=col + len(needle), start=start,
                end=start + len(needle))


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def load(source, *, folder: Path | str = ".", n_inputs: int, n_outputs: int = 1,
         task: str = "regression", seed: int = 0, dtype=np.float64, **data_kw):
    data = ir.Data(source=source, **data_kw)
    return load_data(data, spec_dir=folder, seed=seed, n_inputs=n_inputs, n_outputs=n_outputs,
                     task=task, dtype=dtype)


def fails(code: str, fn, *args, **kw):
    """Run fn, expect a DiagnosticError with exactly this code; return the diagnostic."""
    with pytest.raises(DiagnosticError) as info:
        fn(*args, **kw)
    [diag] = info.value.diagnostics
    assert diag.code == code, (diag.code, diag.message)
    return diag


def check_says_what_run_says(spec_path: Path, code: str) -> Diagnostic:
    """A spec whose data `run` rejects: check() alone finds nothing (it reads no data), the
    data stage raises one diagnostic, and check reading the data (read_data=True) reports
    that diagnostic alone, with `code`, rendered exactly as `run` renders it. Returns it."""
    from nnspec.pipeline import dataset_of, diagnose, load_spec

    text = spec_path.read_text()
    spec, before = diagnose(text, str(spec_path))
    assert spec is not None and before == [], before
    with pytest.raises(DiagnosticError) as exc:
        dataset_of(load_spec(spec_path, require_data=True)[0])
    [from_run] = exc.value.diagnostics
    _, found = diagnose(text, str(spec_path), read_data=True)
    assert [d.code for d in found] == [code]
    assert render(found[0], text) == render(from_run, text)
    return found[0]
