"""The CUDA backend against the CPU backend (the next oracle in the chain), op by op through
whole executables: forward outputs before training, then a few updates (gradients, optimizer
moments, running statistics, epoch loss sums, heads' loss terms) and the evaluation after
them; chains and graphs (branches, merges, heads: the cpu tests' graph nets).
float64 agrees to summation order; float32 to the tolerance stated in cuda_helpers."""

from __future__ import annotations

import numpy as np
import pytest
from cpu_nets import GRAPH_NETS, IMAGE_GRAPH_NETS, conv
from cuda_helpers import ACT, LOSS, OPT, OPTIMIZER_CASES, close, data, dense, make_plan, order, pair

from nnspec.backends.base import dropout_rng
from nnspec.ops.layers import (
    ActivationLayer,
    AvgPool2D,
    BatchNorm,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool,
    MaxPool2D,
)
from nnspec.ops.optimizers import Clip

pytestmark = pytest.mark.cuda
DTYPES = ["float64", "float32"]


def run_both(plan, n=8, epochs=1, lr=0.05, x=None, y=None):
    """Train the same plan on both backends; compare everything a user can observe."""
    g, c = pair(plan)
    if x is None:
        x, y = data(plan, n)
    dt = plan.dtype
    close(g.get_params(), c.get_params(), dt, "initial parameters")
    close(g.predict(x), c.predict(x), dt, "forward before training")
    rg, rc = dropout_rng(plan.seed), dropout_rng(plan.seed)
    for e in range(epochs):
        cg = g.train_epoch(x, y, order(len(x), e), lr, 0, 99, rg)
        cc = c.train_epoch(x, y, order(len(x), e), lr, 0, 99, rc)
        assert (cg.n_batches, cg.n_samples, cg.status) == (cc.n_batches, cc.n_samples, cc.status)
        close(cg.loss_sum, cc.loss_sum, dt, f"epoch {e} loss")
        close(cg.terms, cc.terms, dt, f"epoch {e} batch terms")
        assert (cg.head_terms is None) == (cc.head_terms is None)
        if cc.head_terms is not None:  # graphs with heads: (batches, heads)
            assert cg.head_terms.shape == cc.head_terms.shape == (cc.n_batches, len(plan.heads))
            close(cg.head_terms, cc.head_terms, dt, f"epoch {e} head terms")
    assert g.step == c.step
    close(g.get_params(), c.get_params(), dt, "parameters after training")
    close(g.get_buffers(), c.get_buffers(), dt, "running statistics")
    sg, sc = g.state_dict(), c.state_dict()
    close(sg["opt_state"], sc["opt_state"], dt, "optimizer moments")
    close(g.predict(x), c.predict(x), dt, "forward after training")
    close(g.evaluate(x, y), c.evaluate(x, y), dt, "evaluate")
    return g, c


ACTIVATION_CASES = {
    "linear": "linear", "relu": "relu", "leaky_relu": ACT["leaky_relu"](alpha=0.1),
    "elu": ACT["elu"](alpha=0.7), "selu": "selu", "gelu": "gelu",
    "gelu-tanh": ACT["gelu"](approximate="tanh"), "silu": "silu",
    "softplus": ACT["softplus"](beta=2.0, threshold=1.5), "tanh": "tanh",
    "sigmoid": "sigmoid", "softmax": "softmax", "log_softmax": "log_softmax",
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATION_CASES))
def test_every_activation_forward_and_gradient(name, dtype):
    """Hidden dense activation (fused bias+act forward, act+bias-grad backward) and the same
    function as an activation layer, under an unfused loss."""
    act = ACTIVATION_CASES[name]
    op = ACT[act]() if isinstance(act, str) else act
    layers = [dense(4, act), ActivationLayer(activation=op), dense(2)]
    run_both(make_plan(layers, LOSS["mse"](), dtype=dtype))


LOSS_CASES = {
    "mse": ([dense(4, "tanh"), dense(2)], LOSS["mse"]()),
    "rmse": ([dense(4, "tanh"), dense(2)], LOSS["rmse"]()),
    "mae": ([dense(4, "tanh"), dense(2)], LOSS["mae"]()),
    "huber": ([dense(4, "tanh"), dense(2)], LOSS["huber"](delta=0.5)),
    "bce-fused-sigmoid": ([dense(4, "relu"), dense(2, "sigmoid")],
                          LOSS["binary_crossentropy"]()),
    "bce-fused-smoothed": ([dense(4, "relu"), dense(1, "sigmoid")],
                           LOSS["binary_crossentropy"](label_smoothing=0.2)),
    "bce-plain": ([dense(2, "sigmoid"), ActivationLayer(activation=ACT["linear"]())],
                  LOSS["binary_crossentropy"](label_smoothing=0.1)),
    "cce-fused-softmax": ([dense(4, "tanh"), dense(3, "softmax")],
                          LOSS["categorical_crossentropy"](label_smoothing=0.1)),
    "cce-fused-log_softmax": ([dense(4, "elu"), dense(3, "log_softmax")],
                              LOSS["categorical_crossentropy"]()),
    "cce-fused-activation-layer": ([dense(3), ActivationLayer(activation=ACT["softmax"]())],
                                   LOSS["categorical_crossentropy"]()),
    "cce-plain": ([dense(4, "tanh"), dense(3, "softmax"), Dropout(rate=0.0)],
                  LOSS["categorical_crossentropy"]()),
    "sparse-cce-fused-softmax": ([dense(4, "tanh"), dense(5, "softmax")],
                                 LOSS["sparse_categorical_crossentropy"](label_smoothing=0.1)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_every_loss_and_fused_form(name, dtype):
    layers, loss = LOSS_CASES[name]
    plan = make_plan(layers, loss, dtype=dtype)
    if name.startswith("cce-fused"):
        assert plan.fused != 0
    run_both(plan, epochs=2)


# float32 for the cases that exercise every option's dtype handling (keeps the folder fast)
F32_OPTIMIZERS = ["sgd-nesterov-wd", "rmsprop-centered-momentum-wd", "adam-amsgrad-wd",
                  "adamw-amsgrad", "adagrad-decay-wd-init"]


@pytest.mark.parametrize("name, dtype", [(n, "float64") for n in OPTIMIZER_CASES]
                         + [(n, "float32") for n in F32_OPTIMIZERS])
def test_every_optimizer(name, dtype):
    """Two epochs of two batches: the first step's special cases and the moments after it."""
    plan = make_plan([dense(4, "tanh"), dense(2)], LOSS["mse"](),
                     optimizer=OPTIMIZER_CASES[name], dtype=dtype)
    run_both(plan, epochs=2, lr=OPTIMIZER_CASES[name].lr)


CLIPS = {"norm": Clip(norm=0.05), "value": Clip(value=0.01),
         "value+norm": Clip(value=0.02, norm=0.03)}


@pytest.mark.parametrize("clip, opt, dtype", [
    (c, o, "float64") for c in CLIPS
    for o in ("sgd-momentum-dampening", "adam", "rmsprop-centered-momentum-wd")
] + [("value+norm", "adam", "float32"), ("norm", "sgd-momentum-dampening", "float32")])
def test_clipping(clip, opt, dtype):
    plan = make_plan([dense(4, "relu"), dense(2)], LOSS["mse"](), clip=CLIPS[clip],
                     optimizer=OPTIMIZER_CASES[opt], dtype=dtype)
    assert plan.clip_norm or plan.clip_value
    run_both(plan, epochs=2, lr=OPTIMIZER_CASES[opt].lr)


LAYER_CASES = {
    "batchnorm": [dense(5, "relu"), BatchNorm(momentum=0.3), dense(2)],
    "batchnorm-plain": [dense(4, "selu", bias=False), BatchNorm(affine=False, eps=1e-3),
                        dense(2)],
    "dropout": [dense(6, "relu"), Dropout(rate=0.5), dense(4, "tanh"), Dropout(rate=0.25),
                dense(2)],
    "batchnorm-dropout-softmax": [dense(5, "relu"), BatchNorm(), Dropout(rate=0.3),
                                  dense(3, "softmax")],
    "image-flatten": [ActivationLayer(activation=ACT["tanh"]()), Dropout(rate=0.2), Flatten(),
                      dense(2)],
    # images (backends/cuda/conv2d.py, pool.py, batchnorm.py's *_2d), tiny for the
    # simulator: padding (same with an even kernel: more after), stride, dilation, a conv2d
    # whose dL/dx feeds another, max and average pools with padding, batchnorm per channel,
    # a global pool, no bias, a linear conv2d (z is a), batchnorm over flat rows after the
    # image ones, pools whose windows overlap
    "conv-maxpool-conv-bn-avgpool": [
        conv(2, 2, "relu", padding="same"), MaxPool2D(kernel=2, stride=1, padding=1),
        conv(2, (2, 1), "tanh", stride=(2, 1), dilation=(1, 2), bias=False),
        BatchNorm(momentum=0.3), AvgPool2D(kernel=2, stride=1, padding=1), Flatten(),
        dense(2)],
    "conv-stride-global-avgpool": [
        conv(3, (3, 2), stride=2, padding=(1, 0)), BatchNorm(affine=False, eps=1e-3),
        GlobalAvgPool(), BatchNorm(momentum=0.2), dense(2, "elu"), dense(2)],
    # 4 token ids from 5 (repeated in a sample and across a batch: scatter-add of both)
    "embedding-softmax": [Embedding(dim=3, vocab=5), Flatten(), dense(4, "tanh"),
                          dense(5, "softmax")],
}
# the sample shape where it is not (3,)
LAYER_INPUTS = {"image-flatten": (3, 1, 2), "conv-maxpool-conv-bn-avgpool": (2, 3, 3),
                "conv-stride-global-avgpool": (1, 5, 4), "embedding-softmax": 4}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_dropout_and_batchnorm(name, dtype):
    """10 samples in batches of 4 (a short last batch), two epochs: the same dropout masks
    (drawn from the same generator), batch statistics and running statistics."""
    loss = LOSS["categorical_crossentropy"]() if "softmax" in name else LOSS["mse"]()
    plan = make_plan(LAYER_CASES[name], loss, dtype=dtype, seed=5,
                     n_in=LAYER_INPUTS.get(name, 3))
    run_both(plan, n=10, epochs=2)


# graphs: fan-out, concat (an identity branch at the model's input among them), add,
# residual, heads with loss weights, fused and not; dropout and batchnorm inside branches.
# name -> (layers, loss, n_in): tests/cpu/cpu_nets.py's (the first four are the reference's),
# and its image graphs (an inception module with a head, a residual conv block; a conv2d and
# pools reading the model's input, a pool's gradient added to its input's region)
GRAPH_CASES = {**GRAPH_NETS, **IMAGE_GRAPH_NETS}
F32_GRAPHS = ["residual-add-huber", "head-residual-bce", "input-concat-dropout-heads-mse"]


@pytest.mark.parametrize("name, dtype", [(n, "float64") for n in GRAPH_CASES]
                         + [(n, "float32") for n in F32_GRAPHS])
def test_graphs(name, dtype):
    """6 samples in batches of 4 (a short last batch), two epochs: outputs, losses, every
    head's loss terms, parameters, moments and running statistics as the cpu engine's."""
    layers, loss, n_in = GRAPH_CASES[name]
    plan = make_plan(layers, loss, n_in=n_in, dtype=dtype, seed=3,
                     optimizer=OPT["adam"](lr=0.01))
    assert not plan.is_chain
    run_both(plan, n=6, epochs=2)


@pytest.mark.parametrize("layers, loss", [
    ([ActivationLayer(activation=ACT["softmax"]())], LOSS["categorical_crossentropy"]()),
    ([BatchNorm(), ActivationLayer(activation=ACT["tanh"]())], LOSS["mse"]()),
], ids=["no-parameters", "batchnorm-only"])
def test_networks_without_dense_layers(layers, loss):
    run_both(make_plan(layers, loss), epochs=2)


@pytest.mark.parametrize("batch", ["full", 3])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sizes(batch, drop_last):
    plan = make_plan([dense(4, "tanh"), dense(2, "sigmoid")], LOSS["binary_crossentropy"](),
                     batch=batch, drop_last=drop_last, optimizer=OPT["adam"](lr=0.05))
    g, c = run_both(plan, n=7, epochs=2)
    assert g.step == 2 * plan.n_batches(7)


def test_one_hot_targets_equal_class_indices():
    plan = make_plan([dense(3, "softmax")], LOSS["categorical_crossentropy"]())
    x, y = data(plan, 8)
    onehot = np.eye(3)[y]
    g1, _ = run_both(plan, x=x, y=y)
    g2, _ = run_both(plan, x=x, y=onehot)
    np.testing.assert_array_equal(g1.get_params(), g2.get_params())
