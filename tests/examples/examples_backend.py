"""examples: a spec file -> the backend its example tests train it on.

The cpu engine, unless it has no kernel for one of the spec's layers (conv and pooling layers,
until the cpu conv kernels land): then the reference backend (NumPy float64), which runs
every layer, slowly. Tests of such specs carry the `slow` marker (`with_marks`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from nnspec.backends import missing_kernels
from nnspec.lower import lower
from nnspec.pipeline import diagnose


@cache
def backend_for(spec: Path) -> str:
    """cpu, unless the cpu engine lacks a kernel the spec needs: then reference."""
    checked, diagnostics = diagnose(spec.read_text(encoding="utf-8"), str(spec),
                                    require_data=True)
    assert checked is not None, diagnostics
    return "reference" if missing_kernels(lower(checked), "cpu") else "cpu"


def with_marks(specs: list[Path]) -> list:
    """pytest params of the specs, those trained on the reference backend marked slow."""
    return [pytest.param(s, id=s.stem, marks=[pytest.mark.slow]
                         if backend_for(s) == "reference" else []) for s in specs]
