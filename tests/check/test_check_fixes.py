"""Fixes (`Diagnostic.fixes`): applying one removes its diagnostic and adds no new error, and
`fix_source` (what `nnspec check --fix` runs) reaches a fixed point: run twice, the second
run changes nothing. Property tests over the example specs with one or two names misspelt."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnspec.fix import apply, fix_source
from nnspec.pipeline import diagnose

ROOT = Path(__file__).resolve().parents[2]
SPECS = {p.name: p.read_text() for p in sorted((ROOT / "specs").glob("*.nn"))}
_NAME = re.compile(r"(?<![\w\"'.])[A-Za-z_][A-Za-z_0-9]*")
LETTERS = "abcdefghijklmnopqrstuvwxyz_"


def names(text: str) -> list[re.Match]:
    """The name tokens outside comments and strings."""
    out = []
    for line in re.finditer(r"[^\n]*", text):
        code = line.group().split("#")[0]
        for m in _NAME.finditer(code):
            before = code[: m.start()]
            if before.count('"') % 2 == 0:
                out.append((line.start() + m.start(), line.start() + m.end(), m.group()))
    return out


@st.composite
def misspelt(draw: st.DrawFn, typos: int = 1) -> str:
    """An example spec with `typos` names changed by one letter (dropped, added, changed or
    two swapped)."""
    text = SPECS[draw(st.sampled_from(sorted(SPECS)))]
    for _ in range(typos):
        start, end, word = draw(st.sampled_from(names(text)))
        i = draw(st.integers(0, len(word) - 1))
        op = draw(st.sampled_from(["drop", "add", "change", "swap"]))
        c = draw(st.sampled_from(LETTERS))
        if op == "drop" and len(word) > 1:
            word = word[:i] + word[i + 1:]
        elif op == "add":
            word = word[:i] + c + word[i:]
        elif op == "swap" and i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        else:
            word = word[:i] + c + word[i + 1:]
        text = text[:start] + word + text[end:]
    return text


@st.composite
def incomplete(draw: st.DrawFn) -> str:
    """An example spec with one statement or one whole block left out (a missing `train`
    block, `loss`, `input`, ...), or a misspelt name."""
    what = draw(st.sampled_from(["statement", "block", "name"]))
    if what == "name":
        return draw(misspelt())
    text = SPECS[draw(st.sampled_from(sorted(SPECS)))]
    if what == "block":
        found = list(re.finditer(r"(?ms)^[a-z]+ [^\n]*\{\n.*?^\}\n?", text))
    else:
        found = list(re.finditer(r"(?m)^ +[a-z_]+\b[^{}\n]*\n", text))
    cut = draw(st.sampled_from(found))
    return text[:cut.start()] + text[cut.end():]


def errors(diagnostics: list) -> Counter:
    return Counter((d.code, d.message) for d in diagnostics if d.is_error)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(misspelt())
def test_a_fix_removes_its_diagnostic_and_adds_no_error(text: str) -> None:
    """With one mistake in a valid spec (two could hide each other: the content of an unknown
    block is not checked), a fix leaves no error the text did not have."""
    _, before = diagnose(text, "spec.nn")
    for d in before:
        for fix in d.fixes:
            new, chosen = apply(text, [fix])
            assert chosen == [fix]
            _, after = diagnose(new, "spec.nn")
            assert (d.code, d.message) not in {(a.code, a.message) for a in after}, (fix, new)
            added = errors(after) - errors(before)
            assert not added, (fix.title, added, new)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incomplete())
def test_a_fix_of_something_missing_adds_no_error(text: str) -> None:
    """The same for a block or statement left out: a fix that inserts its minimal form (or a
    guess at it) removes the diagnostic and adds no error."""
    test_a_fix_removes_its_diagnostic_and_adds_no_error.hypothesis.inner_test(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(misspelt(typos=2), incomplete()), st.booleans())
def test_fix_twice_changes_nothing_the_second_time(text: str, guesses: bool) -> None:
    first = fix_source(text, "spec.nn", guesses=guesses)
    second = fix_source(first.text, "spec.nn", guesses=guesses)
    assert second.applied == [] and second.text == first.text
    assert errors(second.diagnostics) == errors(first.diagnostics)


@pytest.mark.parametrize("typo,fixed,code", [
    ("dense 16 rleu", "dense 16 relu", "E204"),
    ("dens 16 relu", "dense 16 relu", "E203"),
    ("iniut 2", "input 2", "E203"),  # closer to `init`, which takes `from "w.npz"`, not 2
    ("sgd(lrr=0.1", "sgd(lr=0.1", "E211"),
    ("loss binary_crossentropi", "loss binary_crossentropy", "E206"),
    ("optimizer sdg(", "optimizer sgd(", "E207"),
    ("schedule exponentail(", "schedule exponential(", "E208"),
    ("metrics acuracy", "metrics accuracy", "E209"),
    ("source mons(", "source moons(", "E210"),
    ("monitor=val_los,", "monitor=val_loss,", "E215"),
    ("epoch 200", "epochs 200", "E202"),
    ("trian {", "train {", "E201"),
])
def test_did_you_mean_carries_its_fix(typo: str, fixed: str, code: str) -> None:
    good = SPECS["moons.nn"]
    assert fixed in good
    text = good.replace(fixed, typo, 1)
    _, found = diagnose(text, "spec.nn")
    [d] = [d for d in found if d.code == code]
    [fix] = d.fixes
    assert fix.preferred
    assert apply(text, [fix])[0] == good


def test_no_fix_that_would_write_an_option_twice() -> None:
    text = SPECS["moons.nn"].replace("sgd(lr=0.1,", "sgd(lr=0.1, lrr=0.2,")
    _, found = diagnose(text, "spec.nn")
    [d] = [d for d in found if d.code == "E211"]
    assert "did you mean `lr`?" in d.hints[-1] and d.fixes == ()


def test_fixes_keep_comments_and_layout() -> None:
    text = ("# top\nmodel m {   # the model\n\tinput 2\n    dense  1   sigmod   # out\n}\n"
            "train { loss binary_crossentropy }\n")
    out = fix_source(text, "spec.nn")
    assert out.text == text.replace("sigmod", "sigmoid")


MODEL = "# top\nmodel m {\n    input 2\n    dense 16 relu\n    dense 1 sigmoid  # out\n}\n"


@pytest.mark.parametrize("text,fixed,preferred", [
    # a missing train block: its minimal form, the loss chosen by the output's activation
    (MODEL, MODEL[:-1] + "\n\ntrain {\n    loss binary_crossentropy\n}\n", True),
    (MODEL.replace(" sigmoid", ""), MODEL.replace(" sigmoid", "")[:-1]
     + "\n\ntrain {\n    loss mse\n}\n", True),
    (MODEL.replace(" sigmoid", " tanh"), MODEL.replace(" sigmoid", " tanh")[:-1]
     + "\n\ntrain {\n    loss mse\n}\n", False),  # tanh out: regression, most likely
    # a missing statement: `loss` in train, `input` as the data source declares it
    (MODEL + "train {\n    epochs 3\n}\n",
     MODEL + "train {\n    loss binary_crossentropy\n    epochs 3\n}\n", True),
    (MODEL + "train {}\n", MODEL + "train {\n    loss binary_crossentropy\n}\n", True),
    (MODEL.replace("    input 2\n", "")
     + "data { source moons() }\ntrain { loss binary_crossentropy }\n",
     MODEL.replace("    input 2\n", "").replace("{\n", "{\n    input 2\n", 1)
     + "data { source moons() }\ntrain { loss binary_crossentropy }\n", True),
    # an input that does not fit the data: certain for moons (always 2 features), a guess
    # for blobs (its features= may be what is wrong)
    (MODEL.replace("input 2", "input 3")
     + "data { source moons() }\ntrain { loss binary_crossentropy }\n",
     MODEL + "data { source moons() }\ntrain { loss binary_crossentropy }\n", True),
    (MODEL.replace("input 2", "input 3") + "data { source blobs(features=2, classes=2) }\n"
     "train { loss binary_crossentropy }\n",
     MODEL + "data { source blobs(features=2, classes=2) }\ntrain { loss binary_crossentropy }\n",
     False),
    # a missing model block: always a guess (the hidden layers are the user's to write)
    ("data { source spirals(classes=3) }\ntrain { loss categorical_crossentropy }\n",
     "model m {\n    input 2\n    dense 3 softmax\n}\n\ndata { source spirals(classes=3) }"
     "\ntrain { loss categorical_crossentropy }\n", False),
])
def test_something_missing_is_completed(text: str, fixed: str, preferred: bool) -> None:
    _, found = diagnose(text, "spec.nn")
    [fix] = [f for d in found for f in d.fixes]
    assert fix.preferred is preferred
    assert apply(text, [fix])[0] == fixed
    assert not [d for d in diagnose(fixed, "spec.nn")[1] if d.is_error]
    assert fix_source(text, "spec.nn").text == (fixed if preferred else text)
    assert fix_source(text, "spec.nn", guesses=True).text == fixed


@pytest.mark.parametrize("text", [
    MODEL.replace(" sigmoid", " sigmod"),  # the model does not check: no loss can be chosen
    MODEL + "data { source sine() }\n",  # a sigmoid output on continuous targets
    MODEL.replace("    input 2\n", "") + "train { loss mse }\n",  # no data: input unknown
    'data { source csv("d.csv", target=y) }\ntrain { loss mse }\n',  # features unknown
])
def test_no_fix_where_the_form_is_not_known(text: str) -> None:
    _, found = diagnose(text, "spec.nn")
    missing = [d for d in found if d.code in ("E308", "E309")]
    assert missing and all(d.fixes == () for d in missing)
