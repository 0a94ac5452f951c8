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


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(misspelt(typos=2))
def test_fix_twice_changes_nothing_the_second_time(text: str) -> None:
    first = fix_source(text, "spec.nn")
    second = fix_source(first.text, "spec.nn")
    assert second.applied == [] and second.text == first.text
    assert errors(second.diagnostics) == errors(first.diagnostics)


@pytest.mark.parametrize("typo,fixed,code", [
    ("dense 16 rleu", "dense 16 relu", "E204"),
    ("dens 16 relu", "dense 16 relu", "E203"),
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
    text = "# top\nmodel m {   # the model\n\tinput 2\n    dense  1   sigmod   # out\n}\n"
    out = fix_source(text, "spec.nn")
    assert out.text == text.replace("sigmod", "sigmoid")
