"""lower: ir.Spec -> Plan (layouts, codes, resolved defaults) and the initial parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnspec import ir
from nnspec.lower import init_buffers, init_params, lower
from nnspec.lower.plan import (
    A_RELU,
    ACTIVATION,
    BATCHNORM,
    DENSE,
    DROPOUT,
    FUSED_LOG_SOFTMAX_CCE,
    FUSED_NONE,
    FUSED_SIGMOID_BCE,
    FUSED_SOFTMAX_CCE,
    L_HUBER,
    O_ADAGRAD,
    O_ADAM,
    O_RMSPROP,
    O_SGD,
)
from nnspec.ops.activations import ACTIVATIONS
from nnspec.ops.initializers import INITIALIZERS, initialize
from nnspec.ops.layers import ActivationLayer, BatchNorm, Dense, Dropout
from nnspec.ops.losses import LOSSES
from nnspec.ops.optimizers import OPTIMIZERS, Clip

ACT, INIT, LOSS, OPT = ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS


def spec(layers, loss=None, n_in=3, path=None, init_from=None, **train):
    return ir.Spec(path=path,
                   model=ir.Model(input=n_in, layers=tuple(layers), init_from=init_from),
                   train=ir.Train(loss=loss or LOSS["mse"](), **train))


def dense(units, act="linear", **kw):
    return Dense(units=units, activation=ACT[act]() if isinstance(act, str) else act, **kw)


MODELS = {
    "mlp": [dense(16, "relu"), dense(8, "tanh"), dense(1)],
    "nobias": [dense(4, "relu", bias=False), dense(2)],
    "everything": [dense(5, "relu"), BatchNorm(), Dropout(rate=0.2),
                   ActivationLayer(activation=ACT["tanh"]()), BatchNorm(affine=False), dense(3)],
}


def _params_by_hand(layer, n_in, n_out):
    """The trained values of a layer, counted independently of the op's `tensors()`."""
    if isinstance(layer, Dense):
        return n_in * n_out + (n_out if layer.bias else 0)
    if isinstance(layer, BatchNorm):
        return 2 * n_out if layer.affine else 0
    return 0


@pytest.mark.parametrize("name", list(MODELS))
def test_layout_is_contiguous_and_matches_ir(name):
    s = spec(MODELS[name])
    plan = lower(s)
    shapes = ir.layer_shapes(s.model)
    assert plan.n_params == sum(_params_by_hand(la, *sh) for la, sh in zip(s.model.layers,
                                                                            shapes, strict=True))
    for buffer, total in (("params", plan.n_params), ("buffers", plan.n_buffers)):
        slots = [t for t in plan.tensors if t.buffer == buffer]
        ends = 0
        for t in slots:  # in order, no gaps, no overlap
            assert t.offset == ends
            ends += t.size
        assert ends == total
    for layer, (n_in, n_out), op in zip(plan.layers, shapes, s.model.layers, strict=True):
        assert (layer.n_in, layer.n_out, layer.kind_name) == (n_in, n_out, op.kind)
        if layer.kind == DENSE:
            w = plan.slot(f"layers.{layer.index}.weight")
            assert w.shape == (n_out, n_in) and w.offset == layer.w_offset
            assert (f"layers.{layer.index}.bias" in {t.key for t in plan.tensors}) == op.bias
    assert plan.n_outputs == shapes[-1][1]


def test_everything_model_codes_and_slots():
    plan = lower(spec(MODELS["everything"]))
    kinds = [la.kind for la in plan.layers]
    assert kinds == [DENSE, BATCHNORM, DROPOUT, ACTIVATION, BATCHNORM, DENSE]
    assert plan.layers[0].act == A_RELU and plan.layers[2].rate == 0.2
    keys = [t.key for t in plan.tensors]
    assert keys == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                    "layers.1.running_mean", "layers.1.running_var", "layers.4.running_mean",
                    "layers.4.running_var", "layers.5.weight", "layers.5.bias"]
    assert plan.n_buffers == 4 * 5 and plan.has_dropout and plan.has_batchnorm
    assert plan.layers[4].w_offset == -1 and not plan.layers[4].bn_affine


@pytest.mark.parametrize("layers, loss, fused, task", [
    ([dense(1, "sigmoid")], LOSS["binary_crossentropy"](), FUSED_SIGMOID_BCE, "binary"),
    ([dense(3, "softmax")], LOSS["categorical_crossentropy"](), FUSED_SOFTMAX_CCE, "multiclass"),
    ([dense(3), ActivationLayer(activation=ACT["log_softmax"]())],
     LOSS["categorical_crossentropy"](), FUSED_LOG_SOFTMAX_CCE, "multiclass"),
    ([dense(1, "sigmoid"), Dropout(rate=0.1)], LOSS["binary_crossentropy"](), FUSED_NONE,
     "binary"),
    ([dense(1, "sigmoid")], LOSS["mse"](), FUSED_NONE, "regression"),
    ([dense(3, "softmax")], LOSS["binary_crossentropy"](), FUSED_NONE, "binary"),
])
def test_fused_form_and_task(layers, loss, fused, task):
    plan = lower(spec(layers, loss))
    assert (plan.fused, plan.task) == (fused, task)


def test_train_options():
    s = spec(MODELS["mlp"], LOSS["huber"](delta=0.3), batch="full", shuffle=False,
             drop_last=True, dtype="float64", seed=5, epochs=7, clip=Clip(norm=2.0, value=0.5),
             optimizer=OPT["adamw"](lr=0.002, betas=(0.8, 0.9), amsgrad=True))
    plan = lower(s)
    assert (plan.loss, plan.loss_param, plan.dtype, plan.seed, plan.epochs) == (
        L_HUBER, 0.3, "float64", 5, 7)
    assert plan.batch is None and plan.batch_size(123) == 123 and plan.n_batches(123) == 1
    assert (plan.clip_norm, plan.clip_value, plan.shuffle, plan.drop_last) == (2.0, 0.5, False,
                                                                                True)
    o = plan.optimizer
    assert (o.code, o.name, o.lr, o.beta1, o.beta2, o.amsgrad, o.weight_decay, o.n_state,
            o.decoupled) == (O_ADAM, "adamw", 0.002, 0.8, 0.9, True, 0.01, 3, True)
    assert lower(spec(MODELS["mlp"], optimizer=OPT["adam"]())).optimizer.decoupled is False


@pytest.mark.parametrize("opt, code, n_state", [
    (OPT["sgd"](), O_SGD, 0), (OPT["sgd"](momentum=0.9, dampening=0.1), O_SGD, 1),
    (OPT["rmsprop"](centered=True), O_RMSPROP, 3), (OPT["adagrad"](lr_decay=0.1), O_ADAGRAD, 1),
])
def test_optimizer_plans(opt, code, n_state):
    o = lower(spec(MODELS["mlp"], optimizer=opt)).optimizer
    assert (o.code, o.n_state, o.lr) == (code, n_state, opt.lr)
    for name in ("momentum", "dampening", "centered", "lr_decay"):
        if hasattr(opt, name):
            assert getattr(o, name) == getattr(opt, name)


@pytest.mark.parametrize("n, batch, drop_last, size, count", [
    (100, 32, False, 32, 4), (100, 32, True, 32, 3), (10, 32, False, 10, 1), (64, 32, True, 32, 2),
    (7, 1, False, 1, 7)])
def test_batches(n, batch, drop_last, size, count):
    plan = lower(spec(MODELS["mlp"], batch=batch, drop_last=drop_last))
    assert (plan.batch_size(n), plan.n_batches(n)) == (size, count)


def test_init_from_resolves_against_the_spec_folder():
    plan = lower(spec(MODELS["mlp"], path="/a/b/model.nn", init_from="w/init.npz"))
    assert plan.init_from == "/a/b/w/init.npz"
    assert lower(spec(MODELS["mlp"], init_from="/abs.npz")).init_from == "/abs.npz"


@pytest.mark.parametrize("act, init", [("relu", "he_normal"), ("selu", "lecun_normal"),
                                       ("tanh", "glorot_uniform"), ("gelu", "he_normal")])
def test_default_initializer_follows_the_activation(act, init):
    plan = lower(spec([dense(4, act)]))
    node = plan.layers[0]
    assert node.slot("weight").init.kind == init and node.slot("bias").init.kind == "zeros"


def test_init_is_deterministic_and_matches_the_reference_initializers():
    layers = [dense(6, "relu"), BatchNorm(), dense(3, "tanh", bias_init=INIT["normal"]())]
    plan = lower(spec(layers))
    a = init_params(plan, np.random.default_rng(3))
    b = init_params(plan, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, init_params(plan, np.random.default_rng(4)))
    # the same draws, in the same order, as backends/reference/initializers.py
    rng = np.random.default_rng(3)
    w0 = initialize(INIT["he_normal"](), (6, 3), 3, 6, rng)
    w2 = initialize(INIT["glorot_uniform"](), (3, 6), 6, 3, rng)
    b2 = initialize(INIT["normal"](), (3,), 6, 3, rng)
    expect = np.concatenate([w0.ravel(), np.zeros(6), np.ones(6), np.zeros(6), w2.ravel(), b2])
    np.testing.assert_array_equal(a, expect)
    np.testing.assert_array_equal(init_buffers(plan), np.r_[np.zeros(6), np.ones(6)])


FAN_IN, FAN_OUT = 400, 300


@pytest.mark.parametrize("init, mean, std, bound", [
    (INIT["he_normal"](), 0.0, math.sqrt(2 / FAN_IN), None),
    (INIT["lecun_normal"](), 0.0, math.sqrt(1 / FAN_IN), None),
    (INIT["glorot_normal"](gain=2.0), 0.0, 2 * math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    (INIT["glorot_uniform"](), 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT)),
     math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (INIT["he_uniform"](), 0.0, math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    (INIT["uniform"](low=-0.2, high=0.6), 0.2, 0.8 / math.sqrt(12), None),
    (INIT["normal"](mean=1.0, std=0.3), 1.0, 0.3, None),
])
def test_init_distribution_scale(init, mean, std, bound):
    plan = lower(spec([Dense(units=FAN_OUT, init=init)], n_in=FAN_IN))
    w = init_params(plan, np.random.default_rng(0))[:FAN_IN * FAN_OUT]
    n = w.size  # 120000 draws: the sample std is within 1% with overwhelming probability
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(n)
    assert w.std() == pytest.approx(std, rel=0.01)
    if bound is not None:
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound


@pytest.mark.parametrize("init, value", [(INIT["zeros"](), 0.0), (INIT["ones"](), 1.0),
                                         (INIT["constant"](value=0.25), 0.25)])
def test_constant_initializers(init, value):
    plan = lower(spec([Dense(units=3, init=init, bias_init=init)]))
    np.testing.assert_array_equal(init_params(plan, np.random.default_rng(0)), value)
