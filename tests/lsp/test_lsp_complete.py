"""lsp.complete: the names offered at a cursor, for every kind of place in a spec."""

from __future__ import annotations

import pytest
from lsp_helpers import FAMILY_NAMES, KEYWORDS, cursor

from nnspec import ir
from nnspec.lsp.complete import complete
from nnspec.ops import OPTIMIZERS, SOURCES

F = FAMILY_NAMES


def options_of(cls: type, *skip: str) -> set[str]:
    return {f"{f.alias or n}=" for n, f in cls.model_fields.items()
            if n not in {"span", "kind", *skip}}


CASES = [
    # (marked text, exactly these labels) -- exact sets, so a wrong family shows up.
    ("|", {"model", "data", "train", "output", "sweep"}),
    ("mo|", {"model", "data", "train", "output", "sweep"}),
    ("model m {\n    input 2\n}\n|", {"model", "data", "train", "output", "sweep"}),
    ("model m {\n    |\n}", KEYWORDS["model"]),
    ("model m\n{\n    |\n}", KEYWORDS["model"]),
    ("model m { input 2; |", KEYWORDS["model"]),
    ("data {\n    so|\n}", KEYWORDS["data"]),
    ("train {\n    |\n}", KEYWORDS["train"]),
    ("output {\n    |\n}", KEYWORDS["output"]),
    ("model m {\n    dense 16 |\n}", F["activation"] | {"init=", "bias=", "bias_init=",
                                                       "activation="}),
    ("model m {\n    dense 16 re|lu\n}", F["activation"] | {"init=", "bias=", "bias_init=",
                                                           "activation="}),
    ("model m {\n    dense 16 relu init=|\n}", F["initializer"]),
    ("model m {\n    dense 16 relu bias_init=he|\n}", F["initializer"]),
    ("model m {\n    dense 16 relu bias=|\n}", {"true", "false"}),
    ("model m {\n    dense 16 leaky_relu(|)\n}", {"alpha="}),
    ("model m {\n    dense 16 leaky_relu(0.1, |)\n}", set()),
    ("model m {\n    activation |\n}", F["activation"] | {"activation="}),
    ("model m {\n    dense |\n}", set()),
    ("model m {\n    init |\n}", {"from"}),
    ("data {\n    source |\n}", F["source"]),
    ("data {\n    test |\n}", F["source"]),
    ("data {\n    source csv(\"a.csv\", |)\n}", options_of(SOURCES["csv"], "path")),
    ("data {\n    source csv(|)\n}", options_of(SOURCES["csv"])),
    ("data {\n    source moons(samples=10, |)\n}", options_of(SOURCES["moons"], "samples")),
    ("data {\n    split |\n}", options_of(ir.Split)),
    ("data {\n    split validation=0.2, |\n}", options_of(ir.Split, "validation")),
    ("data {\n    split stratify=|\n}", {"true", "false"}),
    ("train {\n    loss |\n}", F["loss"]),
    ("train {\n    optimizer |\n}", F["optimizer"]),
    ("train {\n    optimizer adam(|)\n}", options_of(OPTIMIZERS["adam"])),
    ("train {\n    optimizer adam(lr=0.1,\n        |)\n}", options_of(OPTIMIZERS["adam"], "lr")),
    ("train {\n    schedule |\n}", F["schedule"]),
    ("train {\n    schedule warmup(epochs=5) |\n}", {"then"}),
    ("train {\n    schedule warmup(epochs=5) then |\n}", F["schedule"]),
    ("train {\n    metrics |\n}", F["metric"]),
    ("train {\n    metrics accuracy, |\n}", F["metric"]),
    ("train {\n    early_stop(|)\n}", options_of(ir.EarlyStop)),
    ("train {\n    early_stop patience=3 |\n}", options_of(ir.EarlyStop, "patience")),
    ("train {\n    early_stop(mode=|)\n}", {"auto", "min", "max"}),
    ("train {\n    clip |\n}", {"norm=", "value="}),
    ("train {\n    device |\n}", {"cpu", "cuda", "auto"}),
    ("train {\n    dtype |\n}", {"float32", "float64"}),
    ("train {\n    batch |\n}", {"full"}),
    ("train {\n    shuffle |\n}", {"true", "false"}),
    ("train {\n    epochs |\n}", set()),
    ("output {\n    checkpoint |\n}", {"every=", "seconds="}),
    ("output {\n    artifacts weights, |\n}", set(ir.Output.model_fields["artifacts"]
                                                 .default)),
    # Nothing inside comments and strings, or after a value inside a call.
    ("train {\n    loss mse  # |\n}", set()),
    ("data {\n    source csv(\"da|ta.csv\")\n}", set()),
    ("data {\n    source csv(\"data.csv|\n}", set()),
    ("train {\n    optimizer adam(lr=0.1 |)\n}", set()),
    ("model |", set()),
]


@pytest.mark.parametrize("marked,expected", CASES, ids=[c[0] for c in CASES])
def test_completion_labels(marked: str, expected: set[str]) -> None:
    text, offset = cursor(marked)
    assert {i.label for i in complete(text, offset)} == expected


def test_early_stop_monitor_values() -> None:
    text, offset = cursor("train {\n    early_stop(monitor=|)\n}")
    labels = {i.label for i in complete(text, offset)}
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= labels
    assert not labels & F["optimizer"]


@pytest.mark.parametrize("marked,label,fragments", [
    ("model m {\n    dense 16 |\n}", "relu", ["**relu** (activation)", "max(z, 0)"]),
    ("train {\n    optimizer |\n}", "adam", ["**adam**", "`lr` (float, > 0.0, default 0.001)"]),
    ("train {\n    optimizer adam(|)\n}", "eps=", ["`eps`", "default 1e-08"]),
    ("train {\n    |\n}", "epochs", ["`epochs N`", "passes over the training data",
                                      "Default: `10`"]),
    ("model m {\n    |\n}", "dense", ["`dense UNITS", "w[o, i]"]),
    ("|", "train", ["train"]),
])
def test_completion_items_carry_docs(marked: str, label: str, fragments: list[str]) -> None:
    text, offset = cursor(marked)
    items = {i.label: i for i in complete(text, offset)}
    doc = items[label].documentation
    assert doc is not None
    for fragment in fragments:
        assert fragment in doc.value  # type: ignore[union-attr]


def test_completion_replaces_the_word_being_typed() -> None:
    text, offset = cursor("train {\n    loss binary_cr|\n}")
    item = next(i for i in complete(text, offset) if i.label == "binary_crossentropy")
    edit = item.text_edit
    assert edit is not None
    assert (edit.range.start.line, edit.range.start.character) == (1, 9)  # type: ignore
    assert (edit.range.end.line, edit.range.end.character) == (1, 18)  # type: ignore
    assert edit.new_text == "binary_crossentropy"


def test_utf16_range_of_the_word_after_an_emoji() -> None:
    text, offset = cursor('data {\n    source csv("😀.csv", ta|)\n}')
    item = next(i for i in complete(text, offset) if i.label == "target=")
    start = item.text_edit.range.start  # type: ignore[union-attr]
    line = text.splitlines()[1]
    assert start.character == len(line[: line.index("ta)")].encode("utf-16-le")) // 2


# Statements that take no value at all.
NO_VALUES = {("data", "standardize"), ("data", "normalize")}


@pytest.mark.parametrize("block", sorted(KEYWORDS))
def test_every_statement_of_the_checker_knows_its_values(block: str) -> None:
    """The checker's statement table is the list; the server must know what each one takes,
    or completion after a new keyword would silently offer nothing."""
    from nnspec.lsp import vocab

    assert set(vocab.STATEMENTS[block]) == KEYWORDS[block]
    for keyword, stmt in vocab.STATEMENTS[block].items():
        knows = bool(stmt.positional) or stmt.options is not None
        assert knows or (block, keyword) in NO_VALUES, keyword
