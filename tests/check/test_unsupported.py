"""Issue 18 item 6: constructs from other tools get the right syntax or a plain "not
supported yet", never a cascade of brace errors or an unrelated hint."""

from __future__ import annotations

import pytest

from nnspec.diagnostics import render
from nnspec.fix import apply
from nnspec.pipeline import diagnose

TRAIN = "train {\n    loss binary_crossentropy\n}\n"


def errors(model_body: str):
    text = f"model m {{\n    input 2\n{model_body}    dense 1 sigmoid\n}}\n{TRAIN}"
    _, diagnostics = diagnose(text, "m.nn")
    return text, [d for d in diagnostics if d.is_error]


@pytest.mark.parametrize("shape, dims", [("8x8", "8 8"), ("1x28x28", "1 28 28"),
                                         ("3X4", "3 4")])
def test_a_shape_written_NxM_gets_the_right_syntax_and_a_fix(shape, dims):
    text = f"model m {{\n    input {shape}\n    flatten\n    dense 1 sigmoid\n}}\n{TRAIN}"
    _, diagnostics = diagnose(text, "m.nn")
    (d,) = diagnostics
    assert d.code == "E101"
    assert f"write `{dims}`" in d.hints[0] and "put a space" not in d.hints[0]
    assert f"write `{dims}`" in render(d, text)
    fixed, _ = apply(text, d.fixes)
    assert f"input {dims}\n" in fixed
    assert diagnose(fixed, "m.nn")[1] == []


def test_a_number_glued_to_a_name_keeps_its_hint():
    text = f"model m {{\n    input 2\n    dense 16relu\n}}\n{TRAIN}"
    (d,) = [d for d in diagnose(text, "m.nn")[1] if d.is_error]
    assert d.hints == ("put a space between a number and a name",)


@pytest.mark.parametrize("body", [
    "    branch {\n        dense 4 relu\n    }\n",
    "    branch { dense 4 relu } branch { dense 4 tanh }\n",
    "    residual {\n        branch { dense 2 }\n    }\n",
])
def test_a_branch_outside_concat_or_add_says_where_it_goes(body):
    _, errs = errors(body)
    assert errs and all(d.code == "E203" for d in errs), [render(d) for d in errs]
    assert all("inside `concat { ... }` or `add { ... }`" in d.message for d in errs)
    assert body.count("branch") == len(errs)  # one per branch: no cascade after them


def test_branches_on_one_line_are_accepted_as_the_reference_writes_them():
    _, errs = errors("    concat { branch { dense 4 relu } branch { dense 4 tanh } }\n")
    assert errs == []
    _, errs = errors("    add { branch { dense 4 relu }; branch { dense 4 tanh } }\n")
    assert errs == []


@pytest.mark.parametrize("layer", ["lstm 8", "gru 8", "conv1d 4 3"])
def test_layers_of_other_tools_are_not_supported_yet(layer):
    _, errs = errors(f"    {layer}\n")
    (d,) = errs
    assert d.code == "E203" and d.message == f"`{layer.split()[0]}` layers are not supported yet"
    assert "did you mean" not in " ".join(d.hints)


def test_conv2d_is_supported():
    text = ("model m {\n    input 1 8 8\n    conv2d 4 3 relu\n    flatten\n    dense 1 sigmoid\n"
            f"}}\n{TRAIN}")
    assert [d for d in diagnose(text, "m.nn")[1] if d.is_error] == []
