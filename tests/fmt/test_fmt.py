"""nnspec fmt: canonical layout, comments kept, idempotent, and the same tree after a round
trip (parse(fmt(x)) == parse(x) without positions)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnspec.fmt import format_document, format_source, format_string
from nnspec.parse import parse, strip_spans

SPECS = sorted(Path(__file__).resolve().parents[2].joinpath("specs").glob("*.nn"))
GOLDEN_INPUTS = sorted(Path(__file__).resolve().parents[1].joinpath("parse", "golden").glob("*.nn"))

CASES = [
    # (input, canonical output)
    ("data { source linear(samples=200, slope=2.0) }",
     "data {\n    source linear(samples=200, slope=2.0)\n}\n"),
    ("model   m{input 2;dense 16 relu,tanh   init = he_normal}\n\n\n\ntrain{epochs 1}",
     "model m {\n    input 2\n    dense 16 relu, tanh init=he_normal\n}\n\n"
     "train {\n    epochs 1\n}\n"),
    ("train {\n  optimizer adam( lr=1e-3 ,betas=[ 0.9,0.99, ], )\n  x .5 -3 +2 1E3 007\n}",
     "train {\n    optimizer adam(lr=1e-3, betas=[0.9, 0.99])\n    x .5 -3 +2 1E3 007\n}\n"),
    ('data {\n\tsource csv("C:\\data\\x.csv", sep="\\t", q="\\"")\n}',
     'data {\n    source csv("C:\\\\data\\\\x.csv", sep="\\t", q="\\"")\n}\n'),
    ("train {\n  early_stop (patience=3) restore_best=true\n  early_stop()\n}",
     "train {\n    early_stop(patience=3) restore_best=true\n    early_stop()\n}\n"),
    # blank lines: at most one kept between statements, none at the edges of a block
    ("model m {\n\n\n  input 2\n\n\n\n  dense 1\n  dense 2\n\n}\n",
     "model m {\n    input 2\n\n    dense 1\n    dense 2\n}\n"),
    ("model m {\r\n  input 2\r\n}\r\n", "model m {\n    input 2\n}\n"),
    ("data {}", "data {\n}\n"),
    ("", ""),
    ("\n\n# only\n\n", "# only\n"),
    # comments: own line before what follows, trailing at the end of their line
    ("# head\n\n# more\nmodel m  # trailing header\n{\n  input 2   # two\n\n\n"
     "  dense 3 ; dense 4  # four\n  # before close\n}  # closed\n# between\n"
     "data { source x }  # one-line block\ntrain {\n  optimizer adam(   # inner\n"
     "    lr=0.1,\n  )\n}\n# tail\n",
     "# head\n\n# more\n# trailing header\nmodel m {\n    input 2  # two\n\n    dense 3\n"
     "    dense 4  # four\n    # before close\n}  # closed\n\n# between\ndata {\n"
     "    source x\n}  # one-line block\n\ntrain {\n    # inner\n    optimizer adam(lr=0.1)\n"
     "}\n\n# tail\n"),
    ("model m {  # opened\n  input 2\n}\n", "model m {  # opened\n    input 2\n}\n"),
    ("#no space\nmodel m {\n#\n}\n", "#no space\nmodel m {\n    #\n}\n"),
    # statement bodies: one-liners expanded, 4 more spaces per level, `}` at the statement's
    # indentation, `{}` for an empty body
    ("model m { residual { dense 8 relu; dense 8 } }",
     "model m {\n    residual {\n        dense 8 relu\n        dense 8\n    }\n}\n"),
    ("model m {\n  a { b { c { d 1 } } }\n  e {}\n  f {   }\n  g {\n\n  }\n}\n",
     "model m {\n    a {\n        b {\n            c {\n                d 1\n            }\n"
     "        }\n    }\n    e {}\n    f {}\n    g {}\n}\n"),
    ("model m {\n  head   aux weight = 0.3,x{dense 10 softmax;}\n}",
     "model m {\n    head aux weight=0.3, x {\n        dense 10 softmax\n    }\n}\n"),
    # blank lines inside a body: at most one kept, none at its edges
    ("model m {\n  concat {\n\n\n    branch { a }\n\n\n    branch { b }\n\n  }\n}\n",
     "model m {\n    concat {\n        branch {\n            a\n        }\n\n"
     "        branch {\n            b\n        }\n    }\n}\n"),
    # comments inside bodies stay at their depth, where they were
    ("model m {\n  concat {  # merge\n    # first\n    branch { a }  # one\n"
     "    branch {\n      b  # two\n      # last in branch\n    }  # end branch\n"
     "    branch {\n  # only a comment\n    }\n  }\n  # after concat\n}\n",
     "model m {\n    concat {  # merge\n        # first\n        branch {\n            a\n"
     "        }  # one\n        branch {\n            b  # two\n            # last in branch\n"
     "        }  # end branch\n        branch {\n            # only a comment\n        }\n"
     "    }\n    # after concat\n}\n"),
    ("model m {\n  x f(a=1,  # in call\n    b=2) { y }\n}\n",
     "model m {\n    # in call\n    x f(a=1, b=2) {\n        y\n    }\n}\n"),
]

EXAMPLE = (Path(__file__).resolve().parents[1] / "parse" / "golden" / "bodies" / "inception.nn")
EXAMPLE_FORMATTED = """\
model inception_mlp {
    input 64
    dense 64 relu
    concat {  # every branch reads the same input
        branch {
            dense 32 relu
        }
        branch {
            dense 16 relu
            dense 32 relu
        }
    }
    residual {
        dense 64 relu
        dense 64
    }  # x + f(x)
    head aux weight=0.3 {
        dense 10 softmax
    }
    dense 10 softmax
}
"""


@pytest.mark.parametrize("src,expected", CASES, ids=[repr(c[0])[:40] for c in CASES])
def test_canonical_layout(src, expected):
    out, diagnostics = format_source(src)
    assert diagnostics == []
    assert out == expected
    assert_round_trip(src)


def assert_round_trip(src: str) -> None:
    doc, diagnostics = parse(src)
    assert diagnostics == []
    out = format_document(doc)
    again, more = parse(out)
    assert more == []
    assert strip_spans(again) == strip_spans(doc)
    assert format_document(again) == out


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_specs_round_trip_and_idempotent(path):
    src = path.read_text(encoding="utf-8")
    assert_round_trip(src)
    out, _ = format_source(src)
    assert format_source(out)[0] == out
    # moons.nn is written canonically (the others lack blank lines between blocks, or have
    # one-line blocks).
    if path.name == "moons.nn":
        assert out == src


def test_broken_file_is_not_reformatted():
    out, diagnostics = format_source("model m {\n  dense 16 relu,\n}\n", "m.nn")
    assert out is None
    assert [d.code for d in diagnostics] == ["E102"]


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: p.name)
def test_golden_error_inputs_are_refused(path):
    assert format_source(path.read_text(encoding="utf-8"))[0] is None


def test_recovered_document_still_formats():
    # fmt refuses broken files, but format_document itself must cope with a recovered tree.
    doc, diagnostics = parse("model m {\n  input 2\n  dense 16 relu,\ndata {\n  source x\n}\n")
    assert [d.code for d in diagnostics] == ["E102", "E105"]
    assert format_document(doc) == "model m {\n    input 2\n}\n\ndata {\n    source x\n}\n"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=30))
def test_strings_round_trip(value):
    doc, diagnostics = parse(f"data {{ source {format_string(value)} }}")
    assert diagnostics == []
    assert doc.blocks[0].statements[0].args[0].value == value


def test_the_example_with_bodies():
    src = EXAMPLE.read_text(encoding="utf-8")
    out, diagnostics = format_source(src)
    assert diagnostics == []
    assert out == EXAMPLE_FORMATTED
    assert format_source(out)[0] == out
    assert_round_trip(src)


@pytest.mark.parametrize("path", sorted(EXAMPLE.parent.glob("*.nn")), ids=lambda p: p.stem)
def test_body_golden_inputs_format_or_are_refused(path):
    src = path.read_text(encoding="utf-8")
    out, diagnostics = format_source(src)
    if diagnostics:
        assert out is None
    else:
        assert_round_trip(src)
        assert format_source(out)[0] == out


def test_recovered_document_with_bodies_still_formats():
    doc, diagnostics = parse("model m {\n  a { b 1, }\n  c { d {\n")
    assert diagnostics
    out = format_document(doc)
    assert out.startswith("model m {\n    a {}\n    c {\n")
