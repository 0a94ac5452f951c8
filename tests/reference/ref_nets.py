"""Small networks as Plans, built from the IR directly (no parser), for tests/reference;
the helpers are shared with the other backend folders (tests/support/plan_nets.py)."""

from __future__ import annotations

from plan_nets import ACT, LOSS, dense

from nnspec.ops.layers import (
    ActivationLayer,
    Add,
    AvgPool2D,
    BatchNorm,
    Branch,
    Concat,
    Conv2D,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool,
    Head,
    MaxPool2D,
    Residual,
)


def conv(filters, kernel, act="linear", **kw):
    return Conv2D(filters=filters, kernel=kernel,
                  activation=ACT[act]() if isinstance(act, str) else act, **kw)


# name -> (layers, loss, n_in: features or a sample shape): every activation, every layer
# kind, every loss and fused form.
NETS = {
    "tanh-sigmoid-bce": ([dense(4, "tanh"), dense(1, "sigmoid")], LOSS["binary_crossentropy"](), 3),
    "relu-bn-dropout-softmax-cce": (
        [dense(5, "relu"), BatchNorm(), Dropout(rate=0.3), dense(3, "softmax")],
        LOSS["categorical_crossentropy"](label_smoothing=0.1), 3),
    "gelu-silu-huber": ([dense(4, "gelu"), ActivationLayer(activation=ACT["silu"]()), dense(2)],
                        LOSS["huber"](delta=0.5), 3),
    "elu-logsoftmax-cce": ([dense(4, ACT["elu"](alpha=0.7)), dense(3, "log_softmax")],
                           LOSS["categorical_crossentropy"](), 2),
    "selu-nobias-bn-rmse": ([dense(4, "selu", bias=False), BatchNorm(affine=False, eps=1e-3),
                             dense(1)], LOSS["rmse"](), 3),
    "softplus-leaky-mse": ([dense(4, ACT["softplus"](beta=2.0)), dense(3, ACT["leaky_relu"](
        alpha=0.1)), dense(2)], LOSS["mse"](), 3),
    "gelu-tanh-mae": ([dense(3, ACT["gelu"](approximate="tanh")), dense(1)], LOSS["mae"](), 2),
    "sigmoid-plain-bce": ([dense(2, "sigmoid"), ActivationLayer(activation=ACT["linear"]())],
                          LOSS["binary_crossentropy"](label_smoothing=0.2), 3),
    "softmax-bce-multilabel": ([dense(4, "tanh"), dense(2, "sigmoid")],
                               LOSS["binary_crossentropy"](), 3),
    "activation-softmax-cce": ([dense(3), ActivationLayer(activation=ACT["softmax"]())],
                               LOSS["categorical_crossentropy"](), 3),
    # an image-shaped sample (2 x 2 x 2) through elementwise layers, then flattened
    "image-flatten-dropout-cce": ([ActivationLayer(activation=ACT["tanh"]()), Dropout(rate=0.25),
                                   Flatten(), dense(3, "softmax")],
                                  LOSS["categorical_crossentropy"](), (2, 2, 2)),
    # graphs: a node read by several (fan-out: the sum of their gradients), concat with an
    # identity branch, add, residual, heads with a loss weight (fused and not)
    "concat-fanout-cce": ([dense(4, "tanh"), Concat(branches=(
        Branch(layers=(dense(3, "relu"),)), Branch(layers=(dense(2, "sigmoid"), dense(3))),
        Branch())), dense(3, "softmax")], LOSS["categorical_crossentropy"](), 3),
    "residual-add-huber": ([dense(4, "tanh"), Residual(body=(dense(3, "gelu"), dense(4))),
                            Add(branches=(Branch(layers=(dense(2),)),
                                          Branch(layers=(dense(2, "tanh"),)))),
                            ], LOSS["huber"](delta=0.5), 3),
    "head-bn-dropout-cce": ([dense(5, "relu"), Head(name="aux", weight=0.4,
                                                    body=(dense(3, "softmax"),)),
                             BatchNorm(), Dropout(rate=0.3), dense(3, "softmax")],
                            LOSS["categorical_crossentropy"](), 3),
    "head-residual-bce": ([dense(4, "tanh"), Head(name="side", weight=0.7, body=(
        dense(2, "relu"), dense(1, "sigmoid"))), Residual(body=(dense(4, "elu"),)),
        dense(1, "sigmoid")], LOSS["binary_crossentropy"](), 3),
    # images (C, H, W): odd sizes (a pooling window that leaves the last row out), strides,
    # padding (symmetric, [h, w], `same` with an even kernel: the extra row after),
    # dilation, 1 and 3 channels, batchnorm per channel, dropout on an image
    "conv-maxpool-cce": ([conv(3, 3, "relu", padding=1), MaxPool2D(kernel=2), Flatten(),
                          dense(3, "softmax")], LOSS["categorical_crossentropy"](), (1, 5, 5)),
    "conv-stride-dilation-bn-avgpool-mse": (
        [conv(3, (3, 2), "tanh", stride=(2, 1), dilation=(1, 2), padding=(1, 0)), BatchNorm(),
         AvgPool2D(kernel=2, stride=1, padding=1), GlobalAvgPool(), dense(2)],
        LOSS["mse"](), (2, 7, 6)),
    "conv-same-even-dropout-bce": (
        [conv(2, 2, "elu", padding="same", bias=False), MaxPool2D(kernel=3, stride=2, padding=1),
         Dropout(rate=0.25), conv(2, 2, stride=2), GlobalAvgPool(), dense(1, "sigmoid")],
        LOSS["binary_crossentropy"](), (3, 5, 4)),
    # an inception module (conv branches and a max-pool branch concatenated along the
    # channels), a residual conv block, an auxiliary head
    "conv-inception-residual-head-cce": (
        [Concat(branches=(Branch(layers=(conv(1, 1, "relu"),)),
                          Branch(layers=(conv(2, 3, "relu", padding=1),)),
                          Branch(layers=(MaxPool2D(kernel=3, stride=1, padding=1),)))),
         Head(name="aux", weight=0.3, body=(GlobalAvgPool(), dense(3, "softmax"))),
         Residual(body=(conv(5, (1, 3), "tanh", padding="same"), BatchNorm())),
         GlobalAvgPool(), dense(3, "softmax")],
        LOSS["categorical_crossentropy"](), (2, 4, 4)),
    # next-token prediction (Bengio et al., 2003): 4 token ids from a vocabulary of 5 (the
    # same id twice in a sample and across the batch: their gradients are summed), a shared
    # embedding, flattened, tanh, softmax over the vocabulary with sparse cross-entropy
    "embedding-flatten-tanh-sparse-cce": (
        [Embedding(dim=3, vocab=5), Flatten(), dense(4, "tanh"), dense(5, "softmax")],
        LOSS["sparse_categorical_crossentropy"](label_smoothing=0.05), 4),
}
