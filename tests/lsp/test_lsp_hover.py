"""lsp.hover and lsp.navigate, called directly (the server tests go through a real client)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_helpers import ROOT, cursor

from nnspec.lsp.hover import NO_SHAPE, hover
from nnspec.lsp.navigate import definition, symbols
from nnspec.parse import parse
from nnspec.pipeline import diagnose

SPEC = """\
# π ≈ 3.14 😀
model m {
    input 3
    dense 16 relu init=he_normal
    dropout 0.1
    batchnorm
    dense 4 softmax bias=false
}
data { source blobs(features=3, classes=4, samples=100) }
train {
    loss categorical_crossentropy
    optimizer adam(lr=0.01)
    epochs 5
    metrics accuracy, f1
}
"""


def hover_text(text: str, needle: str, nth: int = 0, spec: object = "check") -> str | None:
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    if spec == "check":
        spec, _ = diagnose(text, None)
    result = hover(text, start + 1, spec)
    return None if result is None else result.contents.value  # type: ignore[union-attr]


@pytest.mark.parametrize("needle,nth,fragments", [
    ("model", 0, ["**model** block"]),
    ("relu", 0, ["**relu** (activation)", "max(z, 0)"]),
    ("he_normal", 0, ["**he_normal** (initializer)"]),
    ("init", 0, ["`init`", "weight initializer"]),
    ("lr", 0, ["`lr` (float, > 0.0, default 0.001): learning rate"]),
    ("adam", 0, ["**adam** (optimizer)"]),
    ("epochs", 0, ["**epochs** (`train` statement)", "Default: `10`"]),
    ("blobs", 0, ["**blobs** (source)", "`classes` (int, >= 2, default 3)"]),
    ("f1", 0, ["**f1** (metric)"]),
    ("categorical_crossentropy", 0, ["**categorical_crossentropy** (loss)"]),
    ("bias", 0, ["`bias` (bool, default true)"]),
])
def test_hover_docs(needle: str, nth: int, fragments: list[str]) -> None:
    text = hover_text(SPEC, needle, nth)
    assert text is not None
    for fragment in fragments:
        assert fragment in text


def _dense_params(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


# Oracle by hand: 3 -> dense 16 -> dropout -> batchnorm (2*16) -> dense 4 without bias.
TOTAL = _dense_params(3, 16) + 0 + 2 * 16 + _dense_params(16, 4, bias=False)


@pytest.mark.parametrize("needle,expected", [
    ("dense 16", f"Layer 1 of 4 (`dense`): input (3,) -> output (16,), "
                 f"{_dense_params(3, 16)} parameters (model total {TOTAL})"),
    ("relu", "Layer 1 of 4"),  # anywhere on the layer's line
    ("dropout", "Layer 2 of 4 (`dropout`): input (16,) -> output (16,), 0 parameters"),
    ("batchnorm", "Layer 3 of 4 (`batchnorm`): input (16,) -> output (16,), 32 parameters"),
    ("dense 4", f"Layer 4 of 4 (`dense`): input (16,) -> output (4,), "
                f"{_dense_params(16, 4, bias=False)} parameters"),
])
def test_hover_layer_shapes(needle: str, expected: str) -> None:
    text = hover_text(SPEC, needle)
    assert text is not None and expected in text


def test_hover_layer_without_a_checked_spec_says_so() -> None:
    broken = SPEC.replace("epochs 5", "epochs -5")
    spec, diagnostics = diagnose(broken, None)
    assert spec is None and diagnostics
    text = hover_text(broken, "dense 16", spec=None)
    assert text is not None and NO_SHAPE in text and "**dense**" in text


REGRESSION = """\
model m {
    input 1
    dense 1 linear
}
data { source linear(samples=10) }
train {
    loss mse
    metrics mse
}
"""


@pytest.mark.parametrize("needle,nth,fragment", [
    ("linear", 0, "**linear** (activation)"),
    ("linear", 1, "**linear** (source)"),
    ("mse", 0, "**mse** (loss)"),
    ("mse", 1, "**mse** (metric)"),
])
def test_hover_same_name_in_two_families(needle: str, nth: int, fragment: str) -> None:
    text = hover_text(REGRESSION, needle, nth)
    assert text is not None and fragment in text


@pytest.mark.parametrize("needle", ["16", "# π", "{", "accuracy, "])
def test_hover_on_other_things_is_empty_or_doc(needle: str) -> None:
    result = hover_text(SPEC, needle)
    if needle == "accuracy, ":
        assert result is not None and "**accuracy** (metric)" in result
    else:
        assert result is None


def test_hover_range_is_the_word_in_utf16() -> None:
    text = 'data { source csv("😀", target=y) }\nmodel m { input 1 }\n'
    offset = text.index("target") + 2
    result = hover(text, offset, None)
    assert result is not None and result.range is not None
    expected = len(text[: text.index("target")].encode("utf-16-le")) // 2
    assert result.range.start.character == expected
    assert result.range.end.character == expected + len("target")


def test_symbols_list_blocks_and_layers() -> None:
    text = (ROOT / "specs" / "moons.nn").read_text()
    doc, _ = parse(text, None)
    got = symbols(text, doc)
    assert [s.name for s in got] == ["model moons", "data", "train"]
    model = got[0]
    assert [c.name for c in model.children or []] == ["input", "dense", "dense", "dropout",
                                                     "dense"]
    assert [c.detail for c in model.children or []][1:3] == ["16 relu", "16 relu"]
    # Ranges: the model block spans lines 2..8 (1-based) of the file.
    assert (model.range.start.line, model.range.end.line) == (1, 7)
    for sym in got:
        for child in sym.children or []:
            assert sym.range.start.line <= child.range.start.line <= sym.range.end.line


def test_symbols_survive_syntax_errors() -> None:
    text = "model m {\n    input 2\n    dense 3 @@\n    dense 1\n}\ntrain { loss mse }\n"
    doc, diagnostics = parse(text, None)
    assert diagnostics
    names = [s.name for s in symbols(text, doc)]
    assert names[0] == "model m" and "train" in names


@pytest.mark.parametrize("marked,target", [
    ('model m {\n    init from "w|eights.npz"\n}', "weights.npz"),
    ('data { source csv("sub/d|.csv", target=y) }', "sub/d.csv"),
    ('data { source csv("|missing.csv", target=y) }', None),
    ('data { source cs|v("sub/d.csv", target=y) }', None),
])
def test_definition_of_string_paths(tmp_path: Path, marked: str, target: str | None) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("x,y\n1,2\n")
    (tmp_path / "weights.npz").write_bytes(b"PK")
    text, offset = cursor(marked)
    got = definition(text, offset, str(tmp_path / "spec.nn"))
    if target is None:
        assert got == []
    else:
        assert [loc.uri for loc in got] == [(tmp_path / target).resolve().as_uri()]
