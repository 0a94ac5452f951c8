"""`input N tokens`: a sample of N integer token ids, read by the model's first layer, an
`embedding` (issue 14). Token ids read by anything else are E318; the word alone is checked
(one number before it, the word spelt right, with its fix); a model whose first layer is an
embedding reads ids with or without the word, and its resolved spec spells it out."""

from __future__ import annotations

from nnspec.fix import fix_source
from nnspec.pipeline import diagnose
from nnspec.unparse import unparse

TEXT = 'text(corpus=python_help, tokens=words, context=3, vocab=200, limit=3000)'


def spec(input_line: str, first: str = "embedding 8\n    flatten", source: str = TEXT) -> str:
    return (f"model lm {{\n    {input_line}\n    {first}\n    dense 16 tanh\n"
            f"    dense vocab softmax\n}}\ndata {{ source {source} }}\n"
            "train { loss sparse_categorical_crossentropy }\n")


def codes(text: str) -> list[str]:
    return [d.code for d in diagnose(text)[1] if d.is_error]


def test_tokens_checks_and_is_kept():
    found, diagnostics = diagnose(spec("input 3 tokens"))
    assert found is not None, [d.message for d in diagnostics]
    assert found.model.input == (3,) and found.model.tokens
    assert "    input 3 tokens\n" in unparse(found)
    again, _ = diagnose(unparse(found))
    assert again is not None and again.model.model_dump() == found.model.model_dump()


def test_an_embedding_reads_ids_without_the_word_too():
    found, _ = diagnose(spec("input 3"))
    assert found is not None and found.model.tokens  # said in the resolved spec
    assert "    input 3 tokens\n" in unparse(found)


def test_numeric_features_are_not_tokens():
    found, _ = diagnose("model m {\n    input 2\n    dense 1 sigmoid\n}\n"
                        "data { source moons() }\ntrain { loss binary_crossentropy }\n")
    assert found is not None and not found.model.tokens
    assert "    input 2\n" in unparse(found)


def test_tokens_read_by_a_dense_layer_is_e318_at_the_word():
    text = spec("input 3 tokens", first="dense 8 relu", source="xor()")
    text = text.replace("dense vocab softmax", "dense 1 sigmoid").replace(
        "sparse_categorical_crossentropy", "binary_crossentropy")
    _, diagnostics = diagnose(text)
    e318 = [d for d in diagnostics if d.code == "E318"]
    assert len(e318) == 1, [(d.code, d.message) for d in diagnostics]
    d = e318[0]
    assert "`dense`" in d.message and "embedding" in " ".join(d.hints)
    assert (d.span.line, d.span.col) == (2, 13)  # the word `tokens`


def test_one_number_before_tokens():
    _, diagnostics = diagnose(spec("input 2 3 tokens"))
    [d] = [d for d in diagnostics if d.is_error]
    assert d.code == "E301" and "one number" in d.message


def test_a_misspelt_word_is_e301_with_its_fix():
    text = spec("input 3 token")
    _, diagnostics = diagnose(text)
    [d] = [d for d in diagnostics if d.is_error]
    assert d.code == "E301" and "`token`" in d.message and d.fixes
    fixed = fix_source(text).text
    assert "input 3 tokens\n" in fixed and codes(fixed) == []


def test_another_word_is_e301_without_a_guess():
    _, diagnostics = diagnose(spec("input 3 words"))
    [d] = [d for d in diagnostics if d.is_error]
    assert d.code == "E301" and not d.fixes and "`input N tokens`" in " ".join(d.hints)


def test_the_missing_input_is_completed_with_tokens():
    text = spec("").replace("    \n", "")
    assert codes(text) == ["E309"]
    fixed = fix_source(text).text
    assert "input 3 tokens\n" in fixed and codes(fixed) == []
