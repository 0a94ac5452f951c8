"""data.text: text(...) sources -> next-token windows with integer ids, the vocabulary, the
built-in corpus, and the diagnostics E425-E428, W110 (rendered goldens in golden_text/;
NNSPEC_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from nnspec.backends.base import as_inputs
from nnspec.data.load import load_spec_data
from nnspec.data.text import UNK, Vocabulary, detokenize, tokenize
from nnspec.diagnostics import DiagnosticError, render
from nnspec.lower import lower
from nnspec.pipeline import diagnose

GOLDEN = Path(__file__).parent / "golden_text"

SPEC = """\
model lm {{
    input {context}
    embedding 4
    flatten
    dense {vocab} softmax
}}
data {{
    source {source}
    split validation={val}
}}
train {{
    loss sparse_categorical_crossentropy
}}
"""


def _spec(source: str, context: int = 2, vocab: int = 6, val: float = 0.0):
    text = SPEC.format(source=source, context=context, vocab=vocab, val=val)
    spec, diagnostics = diagnose(text, "proj/model.nn", require_data=True)
    assert spec is not None, [d.message for d in diagnostics]
    return spec, text


def test_tokens_words_and_chars():
    assert tokenize("Hello, World!  print(x_1)", "words", True) == \
        ["hello", ",", "world", "!", "print", "(", "x_1", ")"]
    assert tokenize("Ab c", "chars", False) == ["A", "b", " ", "c"]
    assert detokenize(["print", "(", "x", ")", ",", "done", "."], "words") == "print (x), done."
    assert detokenize(list("a b"), "chars") == "a b"


def test_windows_vocabulary_and_integer_ids_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "proj").mkdir()
    # counts: a 4, b 3, c 2, d 1, e 1 -> vocab 6: <unk>, a, b, c, d, e (d before e: first seen)
    (tmp_path / "proj" / "t.txt").write_text("A b a c a b d b a c e", encoding="utf-8")
    spec, _ = _spec('text("t.txt", context=2, vocab=6)')
    ds = load_spec_data(spec)
    assert ds.classes == [UNK, "a", "b", "c", "d", "e"]
    ids = [1, 2, 1, 3, 1, 2, 4, 2, 1, 3, 5]
    x, y = ds.train.x, ds.train.y
    assert x.dtype == np.int64 and y.dtype == np.int64  # never floats
    assert x.tolist() == [ids[i:i + 2] for i in range(9)] and y.tolist() == ids[2:]
    assert ds.feature_names == ["t-2", "t-1"]
    plan = lower(spec)
    assert plan.token_input and as_inputs(plan, x).dtype == np.int64
    # the vocabulary is in the run's data.json (schema) and reads new text the same way
    vocab = Vocabulary.from_dict(ds.schema()["layout"])
    assert vocab.encode("a B zebra").tolist() == [1, 2, 0]


def test_min_count_and_a_vocabulary_smaller_than_the_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "t.txt").write_text("a b a c a b d b a c e", encoding="utf-8")
    spec, _ = _spec('text("t.txt", context=2, vocab=3)', vocab=3)
    ds = load_spec_data(spec)
    assert ds.classes == [UNK, "a", "b"]
    assert ds.train.y.tolist() == [1, 0, 1, 2, 0, 2, 1, 0, 0]  # c, d, e are <unk>
    spec, _ = _spec('text("t.txt", context=2, vocab=6, min_count=2)')
    ds = load_spec_data(spec)  # d and e seen once: unk, their ids unused (W110)
    assert ds.classes[:4] == [UNK, "a", "b", "c"] and len(ds.classes) == 6
    assert [w.code for w in ds.warnings] == ["W110"]


def test_builtin_corpus_needs_no_file():
    spec, _ = _spec("text(corpus=python_help, tokens=chars, context=8, vocab=100, limit=5000)",
                    context=8, vocab=100, val=0.1)
    ds = load_spec_data(spec)
    assert len(ds.train) + len(ds.val) == 5000 - 8
    assert ds.classes[0] == UNK and " " in ds.classes
    assert ds.files == ()  # nothing read from disk to hash


def test_memory_estimate_counts_the_windows(tmp_path):
    """memory.datasize: the built-in corpus is counted (limit caps it), a file estimated from
    its size, so `summary` and run's memory check size the data and its targets."""
    from nnspec.memory.datasize import data_size

    spec, _ = _spec("text(corpus=python_help, tokens=chars, context=8, vocab=100, limit=5000)",
                    context=8, vocab=100)
    size = data_size(spec, 8, 1)
    assert size is not None and (size.samples, size.exact) == (5000 - 8, True)
    (tmp_path / "t.txt").write_text("x" * 3000, encoding="utf-8")
    spec, _ = _spec(f'text("{tmp_path / "t.txt"}", tokens=chars, context=2, vocab=6)')
    size = data_size(spec, 2, 1)
    assert size is not None and size.samples == 3000 - 2 and not size.exact


def _render(tmp: Path, code: str, source: str, **kw) -> str:
    spec, text = _spec(source, **kw)
    if code.startswith("W"):
        [w] = [w for w in load_spec_data(spec).warnings if w.code == code]
        return render(w, text)
    with pytest.raises(DiagnosticError) as info:
        load_spec_data(spec)
    [diag] = info.value.diagnostics
    assert diag.code == code, (diag.code, diag.message)
    assert diag.path == "proj/model.nn" and diag.span is not None
    return render(diag, text)


GOLDEN_CODES = ["E425", "E426", "E427", "E428", "W110"]


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("text")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        proj = tmp / "proj"
        proj.mkdir()
        (proj / "empty.txt").write_bytes(b"")
        (proj / "blank.txt").write_bytes(b"  \n\t\n")
        (proj / "latin1.txt").write_bytes("caf\u00e9 au lait\nna\u00efve".encode("latin-1"))
        (proj / "short.txt").write_text("to be", encoding="utf-8")
        (proj / "few.txt").write_text("a b a b a b", encoding="utf-8")
        (proj / "other.txt").write_text("c d c d c d", encoding="utf-8")
        return {
            "E425": [_render(tmp, "E425", 'text("empty.txt", context=2, vocab=6)'),
                     _render(tmp, "E425", 'text("blank.txt", context=2, vocab=6)')],
            "E426": [_render(tmp, "E426", 'text("latin1.txt", context=2, vocab=6)')],
            "E427": [_render(tmp, "E427", 'text("short.txt", context=2, vocab=6)')],
            "E428": [_render(tmp, "E428", 'text("few.txt", context=2, vocab=6)\n    '
                             'validation text("other.txt", context=2, vocab=6)')],
            "W110": [_render(tmp, "W110", 'text("few.txt", context=2, vocab=6)')],
        }


@pytest.mark.parametrize("code", GOLDEN_CODES)
def test_golden_render(code, renders):
    text = "\n\n".join(renders[code]) + "\n"
    path = GOLDEN / f"{code}.stderr"
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path.name}; run with NNSPEC_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_every_golden_file_has_cases():
    assert sorted(p.stem for p in GOLDEN.glob("*.stderr")) == GOLDEN_CODES
