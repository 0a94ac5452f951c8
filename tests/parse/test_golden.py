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


# Specs with statement bodies: golden/bodies/NAME.nn -> NAME.tree (the syntax tree, with spans)
# and NAME.stderr (the rendered diagnostics; empty when it parses cleanly).
BODIES = sorted((GOLDEN / "bodies").glob("*.nn"))


def tree_lines(node, depth: int = 0) -> list[str]:
    """An outline of a syntax tree: one line per block or statement, with where it is."""
    from nnspec.fmt import format_statement
    from nnspec.syntax import Block

    def at(span) -> str:
        return "-" if span is None else f"{span.line}:{span.col}-{span.end_line}:{span.end_col}"

    pad = "  " * depth
    if isinstance(node, Block):
        name = f" {node.name.value}" if node.name else ""
        out = [f"{pad}block {node.kind.value}{name} @{at(node.span)} "
               f"{{@{at(node.open_brace)} }}@{at(node.close_brace)}"]
        children = node.statements
    else:
        out = [f"{pad}{format_statement(node)} @{at(node.span)}"]
        if node.body is None:
            return out
        out[0] += f" {{@{at(node.open_brace)} }}@{at(node.close_brace)}"
        children = node.body
    for child in children:
        out += tree_lines(child, depth + 1)
    return out


def test_body_goldens_are_there():
    names = {p.stem for p in BODIES}
    assert {"inception", "bad_statement_in_branch", "missing_body_brace"} <= names
    outputs = sorted(p.name for p in (GOLDEN / "bodies").iterdir() if p.suffix != ".nn")
    assert outputs == sorted(f"{n}{ext}" for n in names for ext in (".stderr", ".tree"))


@pytest.mark.parametrize("source_file", BODIES, ids=lambda p: p.stem)
def test_body_golden(source_file):
    source = source_file.read_text(encoding="utf-8")
    path = f"tests/parse/golden/bodies/{source_file.name}"
    doc, diagnostics = parse(source, path)
    outputs = {
        ".tree": "\n".join(line for b in doc.blocks for line in tree_lines(b)) + "\n",
        ".stderr": render_all(diagnostics, {path: source}) + "\n" if diagnostics else "",
    }
    for ext, rendered in outputs.items():
        expected_file = source_file.with_suffix(ext)
        if UPDATE:
            expected_file.write_text(rendered, encoding="utf-8")
        assert rendered == expected_file.read_text(encoding="utf-8"), expected_file.name
