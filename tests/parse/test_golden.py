"""Golden rendered diagnostics, one file per syntax code: golden/E10N.nn -> golden/E10N.stderr.

Regenerate with NNSPEC_UPDATE_GOLDEN=1 (then review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnspec.diagnostics import render_all
from nnspec.parse import parse

GOLDEN = Path(__file__).parent / "golden"
SYNTAX_CODES = ["E101", "E102", "E103", "E104", "E105"]
UPDATE = os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("code", SYNTAX_CODES)
def test_rendered_diagnostic(code):
    source = (GOLDEN / f"{code}.nn").read_text(encoding="utf-8")
    path = f"tests/parse/golden/{code}.nn"
    _doc, diagnostics = parse(source, path)
    assert diagnostics and diagnostics[0].code == code
    rendered = render_all(diagnostics, {path: source}) + "\n"
    expected_file = GOLDEN / f"{code}.stderr"
    if UPDATE:
        expected_file.write_text(rendered, encoding="utf-8")
    assert rendered == expected_file.read_text(encoding="utf-8")


def test_every_golden_input_has_its_output():
    inputs = sorted(p.stem for p in GOLDEN.glob("*.nn"))
    outputs = sorted(p.stem for p in GOLDEN.glob("*.stderr"))
    assert inputs == outputs == SYNTAX_CODES
