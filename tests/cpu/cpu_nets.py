"""Small networks as Plans (built from the IR, no parser) for tests/cpu: every layer kind,
every activation, every loss with and without its fused form, and graphs (GRAPH_NETS: the
reference backend's graph nets and more). The helpers and the
optimizer cases are shared with the other backend folders (tests/support/plan_nets.py)."""

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


# name -> (layers, loss, n_in: features or a sample shape)
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
    "softplus-leaky-mse": ([dense(4, ACT["softplus"](beta=2.0, threshold=1.5)),
                            dense(3, ACT["leaky_relu"](alpha=0.1)), dense(2)], LOSS["mse"](), 3),
    "gelutanh-mae": ([dense(3, ACT["gelu"](approximate="tanh")), dense(1)], LOSS["mae"](), 2),
    "plain-bce-smoothed": ([dense(2, "sigmoid"), ActivationLayer(activation=ACT["linear"]())],
                           LOSS["binary_crossentropy"](label_smoothing=0.2), 3),
    "plain-cce-after-dropout": ([dense(4, "tanh"), dense(3, "softmax"), Dropout(rate=0.2)],
                                LOSS["categorical_crossentropy"](), 3),
    "sparse-cce-smoothed": ([dense(4, "tanh"), dense(5, "softmax")],
                            LOSS["sparse_categorical_crossentropy"](label_smoothing=0.1), 3),
    # token ids (repeated in a sample and across the batch) through a shared embedding
    "embedding-flatten-tanh-sparse-cce": (
        [Embedding(dim=3, vocab=5), Flatten(), dense(4, "tanh"), dense(5, "softmax")],
        LOSS["sparse_categorical_crossentropy"](), 4),
    "activation-softmax-cce": ([dense(3), ActivationLayer(activation=ACT["softmax"]())],
                               LOSS["categorical_crossentropy"](), 3),
    "sigmoid-relu-bn-multilabel": ([dense(4, "sigmoid"), BatchNorm(momentum=0.3),
                                    ActivationLayer(activation=ACT["relu"]()),
                                    dense(2, "sigmoid")], LOSS["binary_crossentropy"](), 3),
    # wide enough for the forward through a transposed copy of w (layout.transposed_forward)
    "wide-tanh-relu-bce": ([dense(16, "tanh"), dense(20, "relu"), dense(1, "sigmoid")],
                           LOSS["binary_crossentropy"](), 3),
    "no-parameters": ([ActivationLayer(activation=ACT["tanh"]()), Dropout(rate=0.5)],
                      LOSS["mse"](), 3),
    "batchnorm-only": ([BatchNorm(eps=1e-2)], LOSS["huber"](), 3),
    # an image-shaped sample (2 x 2 x 2) through elementwise layers, then flattened
    "image-flatten-dropout-cce": ([ActivationLayer(activation=ACT["tanh"]()), Dropout(rate=0.25),
                                   Flatten(), dense(3, "softmax")],
                                  LOSS["categorical_crossentropy"](), (2, 2, 2)),
    # images (backends/cpu/conv2d.py, pool.py): strides, padding (same with an even kernel),
    # dilation, odd sizes, 1 and 3 channels, a direct 1x1 convolution, batchnorm per channel,
    # dropout on an image, a conv2d whose dL/dx feeds another conv2d
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
    "conv-1x1-bn-noaffine-huber": (
        [conv(4, 1, "gelu"), conv(3, (2, 3), "silu", padding=(1, 2), dilation=(2, 1)),
         BatchNorm(affine=False, momentum=0.2), conv(2, 1), AvgPool2D(kernel=(2, 3)),
         Flatten(), dense(2)], LOSS["huber"](delta=0.5), (3, 5, 7)),
}

# graphs: a node read by several (fan-out: the sum of their gradients), concat with an
# identity branch, add, residual, heads with a loss weight (fused and not); the first four are
# tests/reference/ref_nets.py's
GRAPH_NETS = {
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
    # the model's input read by a concat (an identity branch at the input: no dL/dx) and by
    # a dense branch; dropout and batchnorm inside branches (no bias before batchnorm: its
    # gradient is rounding noise, which Adam magnifies); two heads, neither fused (mse)
    "input-concat-dropout-heads-mse": ([Concat(branches=(
        Branch(), Branch(layers=(dense(4, "relu"), Dropout(rate=0.25))),
        Branch(layers=(dense(3, bias=False), BatchNorm())))),
        Head(name="a", weight=0.5, body=(dense(2, "tanh"),)),
        Residual(body=(ActivationLayer(activation=ACT["tanh"]()), dense(10, "relu"))),
        Head(name="b", weight=0.25, body=(dense(2),)), dense(2)], LOSS["mse"](), 3),
    # a residual whose body is parameter-free, an add of identical branches (x + x), and a
    # concat of the same node twice
    "identity-residual-double-concat-cce": ([dense(3, "relu"), Residual(body=(
        ActivationLayer(activation=ACT["silu"]()),)), Add(branches=(Branch(), Branch())),
        Concat(branches=(Branch(), Branch())), dense(3, "log_softmax")],
        LOSS["categorical_crossentropy"](label_smoothing=0.1), 2),
}

# a graph after an embedding: ids -> vectors, flattened, a concat with an identity branch
GRAPH_NETS["embedding-concat-sparse-cce"] = (
    [Embedding(dim=2, vocab=6), Flatten(), Concat(branches=(
        Branch(layers=(dense(3, "tanh"),)), Branch())), dense(6, "softmax")],
    LOSS["sparse_categorical_crossentropy"](label_smoothing=0.1), 3)

# graphs of image layers (kept apart from GRAPH_NETS: tests/cuda runs both, the image ones
# with their own float32 selection)
IMAGE_GRAPH_NETS = {
    # an inception module (conv branches and a max-pool branch concatenated along the
    # channels), a residual conv block with batchnorm, an auxiliary head (ref_nets.py's)
    "inception-residual-head-cce": (
        [conv(3, 3, "relu", padding=1),
         Concat(branches=(Branch(layers=(conv(1, 1, "relu"),)),
                          Branch(layers=(conv(2, 3, "relu", padding=1),)),
                          Branch(layers=(MaxPool2D(kernel=3, stride=1, padding=1),)))),
         Head(name="aux", weight=0.3, body=(GlobalAvgPool(), dense(3, "softmax"))),
         Residual(body=(conv(6, (1, 3), "tanh", padding="same"), BatchNorm())),
         GlobalAvgPool(), dense(3, "softmax")],
        LOSS["categorical_crossentropy"](), (2, 4, 4)),
    # the model's input read by a conv2d and a pool (no dL/dx), their outputs added, and a
    # pool whose gradient is added to (not written into) its input's region
    "input-conv-pool-add-mse": (
        [Add(branches=(Branch(layers=(conv(2, 3, "tanh", padding=1),)),
                       Branch(layers=(AvgPool2D(kernel=3, stride=1, padding=1),)))),
         conv(3, 2, "relu"),
         Concat(branches=(Branch(layers=(MaxPool2D(kernel=2, stride=1),)),
                          Branch(layers=(AvgPool2D(kernel=2, stride=1),)))),
         Flatten(), dense(2)], LOSS["mse"](), (2, 5, 5)),
}
