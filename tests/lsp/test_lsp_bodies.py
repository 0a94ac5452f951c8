"""The language server's text-level helpers on statements with nested bodies (`concat {
branch { ... } }`): hover, completion, context, outline and formatting at every offset of a
spec with bodies raise nothing and give ranges inside the text."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("lsprotocol")

from nnspec.lsp.complete import complete  # noqa: E402
from nnspec.lsp.context import analyze, tokenize, word_at  # noqa: E402
from nnspec.lsp.formatting import format_edits  # noqa: E402
from nnspec.lsp.hover import hover  # noqa: E402
from nnspec.lsp.navigate import symbols  # noqa: E402
from nnspec.lsp.positions import offset_to_position, position_to_offset  # noqa: E402
from nnspec.parse import parse  # noqa: E402
from nnspec.pipeline import diagnose  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "tests" / "parse" / "golden" / "bodies" / "inception.nn").read_text("utf-8")
FULL = EXAMPLE + """
data { source blobs(features=64, classes=10, samples=100) }
train {
    loss categorical_crossentropy
    epochs 1
}
"""
BROKEN = "model m {\n  concat {\n    branch { dense 16 re\n    branch {\n  residual { dense"


def in_text(text: str, rng) -> None:
    for p in (rng.start, rng.end):
        assert 0 <= position_to_offset(text, p) <= len(text)
    assert (rng.start.line, rng.start.character) <= (rng.end.line, rng.end.character)


@pytest.mark.parametrize("text", [EXAMPLE, FULL, BROKEN], ids=["example", "full", "broken"])
def test_every_offset(text):
    spec, _diagnostics = diagnose(text, None)  # E203 for `concat` until the checker knows it
    tokens = tokenize(text)
    for offset in range(len(text) + 1):
        ctx = analyze(text, offset, tokens)
        assert 0 <= ctx.word_start <= ctx.word_end <= len(text)
        word_at(text, offset, tokens)
        for item in complete(text, offset, tokens=tokens):
            if item.text_edit is not None:
                in_text(text, item.text_edit.range)
        result = hover(text, offset, spec, tokens=tokens)
        if result is not None and result.range is not None:
            in_text(text, result.range)
        assert offset_to_position(text, offset) is not None


def test_inside_a_body_is_a_model_statement():
    # A keyword inside a branch completes and hovers like one of the model block.
    at = EXAMPLE.index("dense 16")
    ctx = analyze(EXAMPLE, at)
    assert (ctx.where, ctx.block) == ("keyword", "model")
    ctx = analyze(EXAMPLE, at + len("dense 16 "))
    assert (ctx.where, ctx.block, ctx.keyword) == ("arg", "model", "dense")
    assert hover(EXAMPLE, at + 1) is not None


def test_outline_and_formatting():
    doc, diagnostics = parse(FULL)
    assert diagnostics == []
    syms = symbols(FULL, doc)
    assert [s.name for s in syms] == ["model inception_mlp", "data", "train"]
    for sym in syms:
        in_text(FULL, sym.range)
        for child in sym.children or []:
            in_text(FULL, child.range)
            in_text(FULL, child.selection_range)
    (edit,) = format_edits(FULL)
    assert "        branch {\n            dense 32 relu\n        }\n" in edit.new_text


def test_inlay_hints_on_every_prefix():
    """Typing the spec from its first character: inlay hints never fail, stay inside the text,
    and the last numbers that held are only carried to statements that are still there."""
    from lsprotocol import types

    from nnspec.lsp.analysis import analyze as analyze_text
    from nnspec.lsp.inlay import inlay_hints

    everything = types.Range(start=types.Position(line=0, character=0),
                             end=types.Position(line=10_000, character=0))
    known = None
    for end in [*range(0, len(FULL), 5), len(FULL)]:
        text = FULL[:end]
        found, known = inlay_hints(analyze_text(text, None), known, everything)
        for h in found:
            assert 0 <= position_to_offset(text, h.position) <= len(text)
    from nnspec.summary import all_rows

    spec, _ = diagnose(FULL, None)
    assert len(found) == len(all_rows(spec.model)) == 11  # every layer, nested ones too
