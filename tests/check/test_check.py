"""check(): the example specs are clean, defaults are resolved, forms are equivalent."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnspec import ir
from nnspec.check import check
from nnspec.parse import parse
from nnspec.pipeline import diagnose

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.nn"))

BASE = """model m {{
    input 2
    {layers}
}}
{data}
train {{
    loss binary_crossentropy
    {train}
}}
"""


def spec_of(layers: str = "dense 1 sigmoid", train: str = "", data: str = ""):
    text = BASE.format(layers=layers, train=train, data=data)
    spec, diags = diagnose(text, "t.nn")
    return spec, diags


def codes(diags) -> list[str]:
    return [d.code for d in diags]


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_example_specs_are_clean(path: Path) -> None:
    spec, diags = diagnose(path.read_text(), str(path))
    assert diags == []
    assert isinstance(spec, ir.Spec)
    assert spec.path == str(path)


def test_iris_resolved_values() -> None:
    spec, _ = diagnose((ROOT / "specs/iris.nn").read_text())
    dense0, dense1 = spec.model.layers
    assert dense0.init.kind == "he_normal"  # written
    assert dense1.init.kind == "glorot_uniform"  # softmax's default_init
    assert spec.data.source.target == "species"  # a bare name for a str option
    assert spec.train.warmup.epochs == 5 and spec.train.schedule.kind == "cosine"
    assert spec.train.optimizer.weight_decay == 1e-4
    assert [m.kind for m in spec.train.metrics] == ["accuracy", "f1"]


@pytest.mark.parametrize(("activation", "init"), [
    ("relu", "he_normal"), ("selu", "lecun_normal"), ("tanh", "glorot_uniform"),
    ("leaky_relu(alpha=0.2)", "he_normal"), ("sigmoid", "glorot_uniform"),
])
def test_default_init_follows_activation(activation: str, init: str) -> None:
    spec, diags = spec_of(f"dense 4 {activation}\n    dense 1 sigmoid")
    assert not codes(diags), diags
    assert spec.model.layers[0].init.kind == init


@pytest.mark.parametrize(("a", "b"), [
    ("dropout 0.1", "dropout rate=0.1"),
    ("dense 4 relu", "dense units=4 activation=relu"),
    ("dense 4 leaky_relu(0.2)", "dense 4 leaky_relu(alpha=0.2)"),
    ("activation elu(0.5)", "activation activation=elu(alpha=0.5)"),
])
def test_positional_and_named_forms_agree(a: str, b: str) -> None:
    sa, da = spec_of(f"{a}\n    dense 1 sigmoid")
    sb, db = spec_of(f"{b}\n    dense 1 sigmoid")
    assert not da and not db, (da, db)
    assert sa.model_dump() == sb.model_dump()


@pytest.mark.parametrize(("a", "b"), [
    ("early_stop(monitor=loss, patience=3)", "early_stop monitor=loss patience=3"),
    ("clip(norm=1.0)", "clip norm=1.0"),
    ("optimizer sgd(lr=0.5)", "optimizer sgd lr=0.5"),
    ("schedule exponential(0.9)", "schedule exponential(gamma=0.9)"),
    ("schedule step(5)", "schedule step(every=5)"),
    ("schedule warmup(3)", "schedule warmup(epochs=3) then constant"),
])
def test_statement_forms_agree(a: str, b: str) -> None:
    sa, da = spec_of(train=a)
    sb, db = spec_of(train=b)
    assert not any(d.is_error for d in da + db), (da, db)
    assert sa.model_dump() == sb.model_dump()


def test_csv_positional_path_and_blobs_alias() -> None:
    spec, diags = spec_of(data='data {\n source csv("d.csv", "y", features=[a, "b", 3]) }')
    assert not diags, diags
    src = spec.data.source
    assert (src.path, src.target, src.features) == ("d.csv", "y", ("a", "b", 3))
    spec, diags = spec_of("dense 3 softmax", data="data { source blobs(features=2) }",
                          train="")
    assert "E306" in codes(diags)  # bce after softmax; blobs' alias `features` accepted
    assert "E211" not in codes(diags)


def test_warnings_do_not_block_the_spec() -> None:
    spec, diags = spec_of(train="optimizer sgd(lr=3)")
    assert codes(diags) == ["W101"]
    assert spec is not None and spec.train.optimizer.lr == 3.0


def test_default_monitor_without_validation_falls_back_to_loss() -> None:
    spec, diags = spec_of(data="data { source moons() }", train="early_stop(patience=2)")
    assert codes(diags) == ["W103"]
    assert spec.train.early_stop.monitor == "loss"
    # with validation data the default stays val_loss, silently
    spec, diags = spec_of(data="data {\n source moons()\n split validation=0.2 }",
                          train="early_stop(patience=2)")
    assert diags == [] and spec.train.early_stop.monitor == "val_loss"
    # without a data block nothing is known: kept as written
    spec, diags = spec_of(train="early_stop(patience=2)")
    assert diags == [] and spec.train.early_stop.monitor == "val_loss"


def test_reduce_on_plateau_monitor_checked() -> None:
    _, diags = spec_of(data="data { source moons() }",
                       train="schedule reduce_on_plateau(monitor=val_loss)")
    assert codes(diags) == ["E407"]
    _, diags = spec_of(train="metrics accuracy\n schedule reduce_on_plateau(monitor=acc)")
    assert codes(diags) == ["E215"]


def test_all_errors_reported_at_once_sorted() -> None:
    _, diags = spec_of("dense 4 rleu\n    dense 1 sigmod",
                       train="optimizer sgd(lr=-1)\n epochs 0\n metrics accurcy")
    assert codes(diags) == ["E204", "E204", "E302", "E302", "E209"]
    starts = [d.span.start for d in diags]
    assert starts == sorted(starts)


def test_rules_across_blocks_still_run_after_a_failed_statement() -> None:
    """A bad optimizer must not hide a bad early_stop monitor (one pass, every mistake);
    an unknown metric must not make its monitor a second, follow-on error."""
    _, diags = spec_of("dense 1 sigmoid", train="optimizer sgd(lr=-0.1)\n"
                       " early_stop(monitor=val_acuracy)\n metrics accuracy",
                       data="data {\n source moons()\n split validation=0.2\n}")
    assert codes(diags) == ["E302", "E215"]
    _, diags = spec_of("dense 1 sigmoid", train="early_stop(monitor=val_accurcy)\n"
                       " metrics accurcy", data="data {\n source moons()\n split validation=0.2\n}")
    assert codes(diags) == ["E209"]


def test_data_block_required_only_by_run() -> None:
    text = BASE.format(layers="dense 1 sigmoid", data="", train="")
    spec, diags = diagnose(text)
    assert spec is not None and spec.data is None and diags == []
    spec, diags = diagnose(text, require_data=True)
    assert spec is None and codes(diags) == ["E308"]


def test_non_finite_number_is_an_error() -> None:
    _, diags = spec_of(train="optimizer sgd(lr=1e999)")
    assert "E302" in codes(diags)


def test_check_never_raises_on_empty_document() -> None:
    doc, _ = parse("", "empty.nn")
    spec, diags = check(doc)
    assert spec is None
    assert sorted(codes(diags)) == ["E308", "E308"]


def test_syntax_errors_keep_only_local_findings() -> None:
    text = "model m {\n input 2\n dense 4 rleu\n dense 1 sigmoid (\n}\ntrain { loss mse }\n"
    spec, diags = diagnose(text)
    assert spec is None
    assert any(c.startswith("E1") for c in codes(diags))
    assert "E204" in codes(diags)
    assert not {"E305", "E306", "E308", "E309"} & set(codes(diags))
