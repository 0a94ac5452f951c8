"""`check` reads a text() file as `run` does (issue 14 with issue 18 item 3): a missing,
empty, non-UTF-8 or too short text is the same diagnostic, at the same place and in the same
words, before anything runs; a vocabulary larger than the text is W110 from both; a text over
the size `check` reads is the note W113; the built-in corpus is no file and is not read."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_helpers import check_says_what_run_says

from nnspec.diagnostics import render
from nnspec.pipeline import dataset_of, diagnose, load_spec

SPEC = """model lm {{
    input 2 tokens
    embedding 4
    flatten
    dense vocab softmax
}}
data {{
    source {source}
}}
train {{
    loss sparse_categorical_crossentropy
    epochs 1
}}
"""

WORDS = "the cat sat on the mat and the dog sat on the log " * 4
CASES = {  # name: (file bytes or None for no file, text() options, code)
    "missing file": (None, 'text("corpus.txt", vocab=6, context=2)', "E401"),
    "empty": (b"", 'text("c.txt", vocab=6, context=2)', "E425"),
    "white space only": (b"  \n\t\n", 'text("c.txt", vocab=6, context=2)', "E425"),
    "not utf-8": (b"the cat \xff sat\n", 'text("c.txt", vocab=6, context=2)', "E426"),
    "too short": (b"the cat", 'text("c.txt", vocab=6, context=2)', "E427"),
}


def _spec(tmp_path: Path, content: bytes | None, source: str) -> Path:
    if content is not None:
        (tmp_path / "c.txt").write_bytes(content)
    spec = tmp_path / "lm.nn"
    spec.write_text(SPEC.format(source=source))
    return spec


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_says_what_run_says(tmp_path, case):
    content, source, code = CASES[case]
    found = check_says_what_run_says(_spec(tmp_path, content, source), code)
    assert found.span is not None and found.span.line == 8  # the source statement


def test_a_good_text_is_ok_and_a_large_vocabulary_is_w110_from_both(tmp_path):
    spec_path = _spec(tmp_path, WORDS.encode(), 'text("c.txt", vocab=6, context=2)')
    text = spec_path.read_text()
    assert diagnose(text, str(spec_path), read_data=True)[1] == []
    spec_path = _spec(tmp_path, WORDS.encode(), 'text("c.txt", vocab=40, context=2)')
    text = spec_path.read_text()
    _, found = diagnose(text, str(spec_path), read_data=True)
    assert [(d.code, d.severity.value) for d in found] == [("W110", "warning")]
    from_run = dataset_of(load_spec(spec_path, require_data=True)[0]).warnings
    assert [render(d, text) for d in from_run if d.code == "W110"] == [render(found[0], text)]


def test_a_large_text_is_not_read(tmp_path, monkeypatch):
    from nnspec.data import facts

    monkeypatch.setattr(facts, "LIMIT", 64)
    spec_path = _spec(tmp_path, b"\xff" + WORDS.encode(), 'text("c.txt", vocab=6, context=2)')
    _, found = diagnose(spec_path.read_text(), str(spec_path), read_data=True)
    assert [(d.code, d.severity.value) for d in found] == [("W113", "note")]
    assert "did not read the text" in found[0].message


def test_the_builtin_corpus_is_not_read_by_check(tmp_path, monkeypatch):
    from nnspec.data import text as text_module

    def fail(*a, **k):
        raise AssertionError("check read the corpus")

    monkeypatch.setattr(text_module, "read_text", fail)
    spec_path = _spec(tmp_path, None, "text(corpus=python_help, vocab=50, limit=500, context=2)")
    assert diagnose(spec_path.read_text(), str(spec_path), read_data=True)[1] == []
