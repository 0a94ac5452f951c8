"""`--set PATH=VALUE` on the IR: values, re-validation, and the diagnostics for bad input."""

from __future__ import annotations

import pytest

from nnspec import ir
from nnspec.diagnostics import DiagnosticError, render
from nnspec.ops.layers import Dense
from nnspec.ops.losses import Mse
from nnspec.ops.optimizers import Sgd
from nnspec.run.overrides import apply_overrides, parse_value


def spec() -> ir.Spec:
    return ir.Spec(model=ir.Model(name="m", input=2, layers=(Dense(units=4), Dense(units=1))),
                   train=ir.Train(loss=Mse(), optimizer=Sgd(lr=0.1, momentum=0.9), batch=8),
                   path="specs/m.nn")


@pytest.mark.parametrize("text, value", [
    ("0.01", 0.01), ("3", 3), ("1e-3", 1e-3), ("true", True), ("False", False),
    ("none", None), ("full", "full"), ("0.9,0.99", [0.9, 0.99]), ("adam", "adam"),
    ('"x.csv"', "x.csv")])
def test_parse_value(text, value):
    assert parse_value(text) == value


@pytest.mark.parametrize("sets, check", [
    (["train.optimizer.lr=0.5"], lambda s: s.train.optimizer.lr == 0.5
     and s.train.optimizer.momentum == 0.9),
    (["train.epochs=3", "train.seed=7"], lambda s: (s.train.epochs, s.train.seed) == (3, 7)),
    (["train.batch=full"], lambda s: s.train.batch == "full"),
    (["train.optimizer=adam"], lambda s: s.train.optimizer.kind == "adam"
     and s.train.optimizer.lr == 0.001),
    (["train.optimizer=adam", "train.optimizer.betas=0.8,0.9"],
     lambda s: s.train.optimizer.betas == (0.8, 0.9)),
    (["train.metrics=mae,r2"], lambda s: [m.kind for m in s.train.metrics] == ["mae", "r2"]),
    # issue 18: an op written as in a spec, with its options
    (["train.optimizer=adagrad(lr=0.5)"], lambda s: s.train.optimizer.kind == "adagrad"
     and s.train.optimizer.lr == 0.5),
    (["train.schedule=step(5, gamma=0.5)"], lambda s: (s.train.schedule.every,
                                                      s.train.schedule.gamma) == (5, 0.5)),
    (["train.loss=huber(delta=2)"], lambda s: s.train.loss.delta == 2),
    (["train.metrics=accuracy, f1(average=macro)"],
     lambda s: [m.kind for m in s.train.metrics] == ["accuracy", "f1"]
     and s.train.metrics[1].average == "macro"),
    (["train.early_stop.patience=3"], lambda s: s.train.early_stop.patience == 3
     and s.train.early_stop.monitor == "val_loss"),
    (["model.layers.0.units=16"], lambda s: s.model.layers[0].units == 16
     and s.model.layers[1].units == 1),
    (["model.layers.0.activation=tanh"], lambda s: s.model.layers[0].activation.kind == "tanh"),
    (["train.dtype=float64"], lambda s: s.train.dtype == "float64"),
    (["output.checkpoint_every=5"], lambda s: s.output.checkpoint_every == 5),
    (["output.checkpoint_every=0"], lambda s: s.output.checkpoint_every == 0),  # off
    (["output.checkpoint_seconds=60"], lambda s: s.output.checkpoint_seconds == 60.0),
    (["output.checkpoint_every=2", "output.checkpoint_every=none",
      "output.checkpoint_seconds=5"],
     lambda s: (s.output.checkpoint_every, s.output.checkpoint_seconds) == (None, 5.0)),
])
def test_overrides_apply_and_keep_the_rest(sets, check):
    before = spec()
    after = apply_overrides(before, sets)
    assert check(after)
    assert after.path == "specs/m.nn"
    assert before.train.optimizer.lr == 0.1  # the input is not modified (frozen IR)
    assert type(after) is ir.Spec


@pytest.mark.parametrize("sets, codes, text", [
    (["train.optimizer.lrr=1"], ["E211"], "did you mean `lr`?"),
    (["train.optimiser.lr=1"], ["E211"], "valid keys of train: loss, optimizer"),
    (["train.optimizer.lr=-1"], ["E302"], "greater than 0"),
    (["train.optimizer.lr=fast"], ["E301"], "lr"),
    (["train.batch=0"], ["E302"], "batch must be a positive integer"),
    (["output.checkpoint_every=-1"], ["E302"], "checkpoint_every must be at least 0, found `-1`"),
    (["output.checkpoint_seconds=0"], ["E302"], "greater than 0"),
    (["output.checkpoint_every=2", "output.checkpoint_seconds=5"], ["E302"],
     "checkpoint_every or checkpoint_seconds, not both"),
    (["train.dtype=float16"], ["E302"], "float32"),
    (["train.optimizer.nesterov=true", "train.optimizer.momentum=0"], ["E302"], "nesterov"),
    (["model.layers.5.units=1"], ["E211"], "valid keys of model.layers: 0, 1"),
    (["model.layers.0=3"], ["E301"], "replaces a whole element"),
    (["foo"], ["E102"], "PATH=VALUE"),
    (["foo=1", "train.epochs=0"], ["E211", "E302"], "foo"),
    # issue 18: op values are spec text, checked as in a spec; never pydantic's wording
    (["train.optimizer=adamm"], ["E207"], "unknown optimizer `adamm`"),
    (["train.optimizer=adagrad(lrr=0.5)"], ["E211"], "did you mean `lr`?"),
    (["train.optimizer=adagrad(lr=-1)"], ["E302"], "lr must be greater than 0"),
    (["train.optimizer=adam("], ["E301"], "needs an optimizer, written as in a spec"),
    (["train.metrics=mae,f2"], ["E209"], "unknown metric `f2`"),
    (["train.epochs=1.5"], ["E301"], "epochs must be an integer, found `1.5`"),
    (["train.shuffle=maybe"], ["E301"], "shuffle must be `true` or `false`"),
    (["path=x.nn"], ["E211"], "valid keys of the spec: model, data, train, output"),
])
def test_bad_overrides_are_diagnostics(sets, codes, text):
    with pytest.raises(DiagnosticError) as info:
        apply_overrides(spec(), sets)
    diags = info.value.diagnostics
    assert [d.code for d in diags] == codes
    rendered = "\n".join(render(d) for d in diags)
    assert rendered.startswith("--set: error[")
    assert "Input should" not in rendered and "path" not in rendered.split("keys")[-1]
    assert text in rendered
