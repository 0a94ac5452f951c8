"""Golden diagnostics: tests/check/golden/<CODE>[-n].nn -> .stderr (exact render() output).

Each file must produce the code in its name; the whole rendering is compared. Regenerate
with `NNSPEC_UPDATE_GOLDEN=1 pytest tests/check/test_golden.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnspec.diagnostics import render
from nnspec.pipeline import diagnose

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.nn"))
UPDATE = os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1"


def rendered(path: Path) -> tuple[str, list]:
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(ROOT).as_posix()
    _, diagnostics = diagnose(text, rel)
    return "".join(render(d, text) + "\n\n" for d in diagnostics), diagnostics


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden(case: Path) -> None:
    out, diagnostics = rendered(case)
    code = case.stem.split("-")[0]
    assert code in {d.code for d in diagnostics}, out
    assert "E502" not in out
    expected = case.with_suffix(".stderr")
    if UPDATE or not expected.exists():
        expected.write_text(out, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"wrote missing golden {expected.name}; review it and rerun")
    assert out == expected.read_text(encoding="utf-8")


def test_golden_files_have_inputs() -> None:
    """A stale .stderr whose .nn was deleted would still count for the architecture test."""
    orphans = [p.name for p in GOLDEN.glob("*.stderr") if not p.with_suffix(".nn").exists()]
    assert orphans == []
