"""parse() on valid input: the contract specs, many statement forms, values, spans, comments."""

from __future__ import annotations

from pathlib import Path

import pytest
from parse_helpers import all_spans, assert_span_ok, view

from nnspec.parse import parse
from nnspec.syntax import Document

SPECS = sorted(Path(__file__).resolve().parents[2].joinpath("specs").glob("*.nn"))


def parse_ok(text: str) -> Document:
    doc, diagnostics = parse(text, "t.nn")
    assert diagnostics == [], [d.message for d in diagnostics]
    for span in all_spans(doc):
        assert_span_ok(text, span)
    return doc


def one_statement(src: str):
    doc = parse_ok("train {\n    " + src + "\n}\n")
    (block,) = doc.blocks
    (st,) = block.statements
    return view(st)


SPEC_DIR = Path(__file__).resolve().parents[2] / "specs"
CONTRACT = ["iris.nn", "linear.nn", "moons.nn", "regression.nn"]


def test_the_four_contract_specs_are_there():
    assert set(CONTRACT) <= {p.name for p in SPECS}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_contract_specs_parse(path):
    doc = parse_ok(path.read_text(encoding="utf-8"))
    kinds = [b.kind.value for b in doc.blocks]
    assert kinds[:3] == ["model", "data", "train"] and kinds[3:] in ([], ["sweep"])
    assert doc.blocks[0].name is not None
    assert doc.comments and doc.comments[0].span.line == 1


def test_moons_in_detail():
    doc = parse_ok((SPEC_DIR / "moons.nn").read_text(encoding="utf-8"))
    model, data, train = doc.blocks
    assert (model.kind.value, model.name.value) == ("model", "moons")
    assert [view(s) for s in model.statements] == [
        ("input", None, [("num", 2, "2")], [False]),
        ("dense", None, [("num", 16, "16"), "relu"], [False, False]),
        ("dense", None, [("num", 16, "16"), "relu"], [False, False]),
        ("dropout", None, [("num", 0.1, "0.1")], [False]),
        ("dense", None, [("num", 1, "1"), "sigmoid"], [False, False]),
    ]
    assert view(data.statements[0]) == (
        "source", None, [("call", "moons", [("opt", "samples", ("num", 1000, "1000")),
                                            ("opt", "noise", ("num", 0.2, "0.2"))])], [False])
    early = train.statements[5]
    assert view(early) == ("early_stop", [("opt", "monitor", "val_loss"),
                                          ("opt", "patience", ("num", 20, "20")),
                                          ("opt", "restore_best", "true")], [], [])
    assert model.open_brace.line == 2 and model.close_brace.line == 8
    assert model.span.line == 2 and model.span.end_line == 8


N = lambda v, t=None: ("num", v, t if t is not None else str(v))  # noqa: E731

STATEMENTS = [
    ("dense 32 relu init=he_normal",
     ("dense", None, [N(32), "relu", ("opt", "init", "he_normal")], [False] * 3)),
    ("dense 8 leaky_relu(alpha=0.2) bias=false",
     ("dense", None, [N(8), ("call", "leaky_relu", [("opt", "alpha", N(0.2))]),
                      ("opt", "bias", "false")], [False] * 3)),
    ('init from "data/reg_init.npz"',
     ("init", None, ["from", ("str", "data/reg_init.npz")], [False, False])),
    ("schedule warmup(epochs=5) then cosine(min_lr=1e-5)",
     ("schedule", None, [("call", "warmup", [("opt", "epochs", N(5))]), "then",
                         ("call", "cosine", [("opt", "min_lr", N(1e-5, "1e-5"))])], [False] * 3)),
    ("optimizer adam(lr=0.01, betas=[0.9, 0.99])",
     ("optimizer", None, [("call", "adam", [("opt", "lr", N(0.01)),
                                            ("opt", "betas", ("list", [N(0.9), N(0.99)]))])],
      [False])),
    ("batch full", ("batch", None, ["full"], [False])),
    ('source csv("a.csv", target=2)',
     ("source", None, [("call", "csv", [("str", "a.csv"), ("opt", "target", N(2))])], [False])),
    ("metrics mae, rmse, r2", ("metrics", None, ["mae", "rmse", "r2"], [True, True, False])),
    ("metrics mae,rmse r2", ("metrics", None, ["mae", "rmse", "r2"], [True, False, False])),
    ("split validation=0.2, test=0.1, stratify=true",
     ("split", None, [("opt", "validation", N(0.2)), ("opt", "test", N(0.1)),
                      ("opt", "stratify", "true")], [True, True, False])),
    ("early_stop(monitor=val_loss, patience=20)",
     ("early_stop", [("opt", "monitor", "val_loss"), ("opt", "patience", N(20))], [], [])),
    ("early_stop()", ("early_stop", [], [], [])),
    ("early_stop(patience=3) restore_best=true",
     ("early_stop", [("opt", "patience", N(3))], [("opt", "restore_best", "true")], [False])),
    ("early_stop (patience=3)", ("early_stop", [("opt", "patience", N(3))], [], [])),
    ("standardize", ("standardize", None, [], [])),
    ("x f() g(1,)", ("x", None, [("call", "f", []), ("call", "g", [N(1)])], [False, False])),
    # spaces around `=` are allowed
    ("optimizer sgd(lr = 0.1)", ("optimizer", None, [("call", "sgd", [("opt", "lr", N(0.1))])],
                                 [False])),
    ("split validation =0.2", ("split", None, [("opt", "validation", N(0.2))], [False])),
    # numbers: value and text
    ("x 16 0.1 1e-4 -3 .5 +2 1E3 2. -0.5e+2 007",
     ("x", None, [N(16), N(0.1), N(1e-4, "1e-4"), N(-3), N(0.5, ".5"), N(2, "+2"),
                  N(1000.0, "1E3"), N(2.0, "2."), N(-50.0, "-0.5e+2"), N(7, "007")],
      [False] * 10)),
    # strings and escapes
    (r'x "a\"b" "c\\d" "t\tn\n" "\u00e9\U0001F600" "C:\data" "" "é😀"',
     ("x", None, [("str", 'a"b'), ("str", "c\\d"), ("str", "t\tn\n"), ("str", "é😀"),
                  ("str", "C:\\data"), ("str", ""), ("str", "é😀")], [False] * 7)),
    # lists
    ("x [[1, 2], [3]] [] [1, 2,] [a, \"b\", f(c=1)]",
     ("x", None, [("list", [("list", [N(1), N(2)]), ("list", [N(3)])]), ("list", []),
                  ("list", [N(1), N(2)]),
                  ("list", ["a", ("str", "b"), ("call", "f", [("opt", "c", N(1))])])],
      [False] * 4)),
    # names that read like keywords of other languages are plain names
    ("if then else from true null", ("if", None, ["then", "else", "from", "true", "null"],
                                     [False] * 5)),
    # a call may span lines, with a trailing comma and comments
    ("optimizer adam(\n        lr=0.1,  # fast\n        betas=[0.9,\n 0.99],\n    )",
     ("optimizer", None, [("call", "adam", [("opt", "lr", N(0.1)),
                                            ("opt", "betas", ("list", [N(0.9), N(0.99)]))])],
      [False])),
]


@pytest.mark.parametrize("src,expected", STATEMENTS, ids=[s for s, _ in STATEMENTS])
def test_statement_forms(src, expected):
    assert one_statement(src) == expected


def test_number_types():
    assert isinstance(one_statement("x 16")[2][0][1], int)
    assert isinstance(one_statement("x 16.0")[2][0][1], float)
    assert isinstance(one_statement("x 1e3")[2][0][1], float)


DOCUMENTS = [
    # (source, [(kind, name, [keywords])])
    ("", []),
    ("# only a comment\n\n", []),
    ("data { source linear(samples=200, slope=2.0) }", [("data", None, ["source"])]),
    ("data {}", [("data", None, [])]),
    ("data { ; ; }", [("data", None, [])]),
    ("train { epochs 3; batch 4 }", [("train", None, ["epochs", "batch"])]),
    ("train { epochs 3; batch 4; }", [("train", None, ["epochs", "batch"])]),
    ("model m\n{\n  input 2\n}", [("model", "m", ["input"])]),
    ("model m { input 2 } data { source x }",
     [("model", "m", ["input"]), ("data", None, ["source"])]),
    ("model m { input 2 }; data { source x }",
     [("model", "m", ["input"]), ("data", None, ["source"])]),
    ("\ufeffmodel m {\r\n\tinput 2\r\n\r\n\tdense 1\r\n}\r\n",
     [("model", "m", ["input", "dense"])]),
    ("model m {\n\n\n    input 2    \n\n}\n\n\n", [("model", "m", ["input"])]),
    ("model m { input 2 # c } still a comment\n}", [("model", "m", ["input"])]),
    ("output { dir \"runs\" }\n# end", [("output", None, ["dir"])]),
]


@pytest.mark.parametrize("src,expected", DOCUMENTS, ids=[repr(s)[:40] for s, _ in DOCUMENTS])
def test_document_forms(src, expected):
    doc = parse_ok(src)
    got = [(b.kind.value, b.name.value if b.name else None, [s.keyword.value for s in b.statements])
           for b in doc.blocks]
    assert got == expected
    assert doc.span.start == 0 and doc.span.end == len(src)


def test_spans_count_code_points_and_tabs():
    src = '# é😀 ü\nmodel m {\n\tdense 16 "😀x" relu\n}\n'
    doc = parse_ok(src)
    st = doc.blocks[0].statements[0]
    assert (st.keyword.span.line, st.keyword.span.col) == (3, 2)
    s = st.args[1]
    assert src[s.span.start:s.span.end] == '"😀x"'
    assert (s.span.col, s.span.end_col) == (11, 15)
    relu = st.args[2]
    assert src[relu.span.start:relu.span.end] == "relu"
    assert (relu.span.line, relu.span.col, relu.span.end_col) == (3, 16, 20)
    assert st.span.start == st.keyword.span.start and st.span.end == relu.span.end


def test_every_leaf_span_covers_its_text():
    src = SPECS[0].read_text(encoding="utf-8")
    doc = parse_ok(src)
    for block in doc.blocks:
        assert src[block.kind.span.start:block.kind.span.end] == block.kind.value
        assert src[block.open_brace.start:block.open_brace.end] == "{"
        assert src[block.close_brace.start:block.close_brace.end] == "}"
        assert src[block.span.start] == block.kind.value[0] and src[block.span.end - 1] == "}"
        for st in block.statements:
            assert src[st.keyword.span.start:st.keyword.span.end] == st.keyword.value
            for arg in st.args:
                text = src[arg.span.start:arg.span.end]
                if arg.type == "number":
                    assert text == arg.text
                if arg.type == "call":
                    assert text.startswith(arg.name.value + "(") and text.endswith(")")


def test_comments_are_kept_with_positions():
    src = "# head\nmodel m {  # after brace\n    input 2 # two   \n    #\n}\n"
    doc = parse_ok(src)
    assert [c.text for c in doc.comments] == [" head", " after brace", " two", ""]
    assert [(c.span.line, c.span.col) for c in doc.comments] == [(1, 1), (2, 12), (3, 13), (4, 5)]


def test_path_is_kept():
    doc, _ = parse("data {}", "some/where.nn")
    assert doc.path == "some/where.nn"
