"""oracle: case table -> .nn spec text + data for whole-run comparisons with PyTorch.

Each case is a small network trained a few epochs with shuffle off on seeded random data:
N = 45 samples, so batch 16 leaves a short last batch (16, 16, 13), batch 15 divides N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N = 45
N_IN = 3


@dataclass(frozen=True)
class Case:
    id: str
    layers: str  # the model block's layer lines
    loss: str = "mse"
    optimizer: str = "sgd(lr=0.1)"
    schedule: str | None = None
    clip: str | None = None
    epochs: int = 4
    batch: str = "16"
    extra: str = ""  # further train statements
    n_out: int = 1  # output units (classes for categorical_crossentropy)
    input: tuple[int, ...] = (N_IN,)  # the sample shape (torch gets x as (N, *input))
    vocab: int = 0  # > 0: x holds token ids 0..vocab-1 (a model starting with `embedding`)

    @property
    def n_in(self) -> int:
        return int(np.prod(self.input))

    def text(self, dtype: str) -> str:
        train = [f"loss {self.loss}", f"optimizer {self.optimizer}", f"epochs {self.epochs}",
                 f"batch {self.batch}", "shuffle false", f"dtype {dtype}", "seed 7"]
        if self.schedule:
            train.append(f"schedule {self.schedule}")
        if self.clip:
            train.append(f"clip {self.clip}")
        if self.extra:
            train.append(self.extra)
        dims = " ".join(str(d) for d in self.input)
        body = "\n    ".join([f"input {dims}", *self.layers.strip().splitlines()])
        return (f"model oracle {{\n    {body}\n}}\n"
                "train {\n    " + "\n    ".join(train) + "\n}\n")

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y): y is class indices (int64) for (sparse_)categorical_crossentropy, 0/1 floats
        (N, 1) for binary_crossentropy, else a smooth function of x plus noise (N, n_out)."""
        rng = np.random.default_rng(2024)
        x = rng.normal(size=(N, self.n_in))
        if self.vocab:  # token ids (repeated within samples and batches); the next token
            x = rng.integers(0, self.vocab, size=(N, self.n_in)).astype(np.float64)
            return x, ((x[:, 0] + 2 * x[:, -1]) % self.n_out).astype(np.int64)
        if self.loss.startswith(("categorical", "sparse_categorical")):
            return x, (np.argmax(x @ rng.normal(size=(self.n_in, self.n_out)), axis=1)
                       .astype(np.int64))
        if self.loss.startswith("binary"):
            return x, (x[:, :1] * x[:, 1:2] + 0.3 * x[:, 2:3] > 0).astype(np.float64)
        w = rng.normal(size=(self.n_in, self.n_out))
        return x, np.sin(x @ w) + 0.1 * rng.normal(size=(N, self.n_out))


MLP = "dense 8 tanh\ndense 1"


def _act(name: str, written: str | None = None) -> Case:
    w = written or name
    return Case(f"act-{name}", f"dense 8 {w}\ndense 6 {w}\ndense 1",
                optimizer="sgd(lr=0.05, momentum=0.5)")


CASES = [
    # optimizers
    Case("sgd", MLP),
    Case("sgd-momentum", MLP, optimizer="sgd(lr=0.05, momentum=0.9)"),
    Case("sgd-nesterov", MLP, optimizer="sgd(lr=0.05, momentum=0.9, nesterov=true)"),
    Case("sgd-dampening", MLP, optimizer="sgd(lr=0.05, momentum=0.8, dampening=0.3)"),
    Case("sgd-weight_decay", MLP, optimizer="sgd(lr=0.05, momentum=0.9, weight_decay=0.05)"),
    Case("rmsprop", MLP, optimizer="rmsprop(lr=0.01)"),
    Case("rmsprop-centered", MLP, optimizer="rmsprop(lr=0.01, centered=true, alpha=0.9)"),
    Case("rmsprop-momentum", MLP, optimizer="rmsprop(lr=0.005, momentum=0.8, "
         "weight_decay=0.01)"),
    Case("rmsprop-centered-momentum", MLP, optimizer="rmsprop(lr=0.005, momentum=0.5, "
         "centered=true)"),
    Case("adam", MLP, optimizer="adam(lr=0.01)"),
    Case("adam-amsgrad", MLP, optimizer="adam(lr=0.01, amsgrad=true, betas=[0.8, 0.99])"),
    Case("adam-weight_decay", MLP, optimizer="adam(lr=0.01, weight_decay=0.1)"),
    Case("adamw", MLP, optimizer="adamw(lr=0.01, weight_decay=0.1)"),
    Case("adamw-amsgrad", MLP, optimizer="adamw(lr=0.01, amsgrad=true, eps=1e-6)"),
    Case("adagrad", MLP, optimizer="adagrad(lr=0.05)"),
    Case("adagrad-options", MLP, optimizer="adagrad(lr=0.05, lr_decay=0.1, weight_decay=0.01, "
         "initial_accumulator_value=0.1)"),
    # gradient clipping (small thresholds so that they bite)
    Case("clip-norm", MLP, optimizer="sgd(lr=0.1, momentum=0.9)", clip="norm=0.1"),
    Case("clip-value", MLP, optimizer="sgd(lr=0.1, momentum=0.9)", clip="value=0.02"),
    Case("clip-both", MLP, optimizer="adam(lr=0.01)", clip="norm=0.05 value=0.02"),
    # schedules (6 epochs)
    *[Case(f"schedule-{sid}", MLP, optimizer="sgd(lr=0.1, momentum=0.5)", schedule=s, epochs=6)
      for sid, s in [
          ("constant", "constant"),
          ("step", "step(2, gamma=0.5)"),
          ("multistep", "multistep([1, 4], gamma=0.3)"),
          ("exponential", "exponential(0.7)"),
          ("cosine", "cosine(min_lr=0.001)"),
          ("cosine-period", "cosine(period=2)"),
          ("cosine-restarts", "cosine(restart_every=2, mult=2)"),
          ("warmup", "warmup(2)"),
          ("warmup-cosine", "warmup(epochs=2, start_factor=0.25) then cosine"),
          ("warmup-step", "warmup(2) then step(1, gamma=0.5)"),
          ("warmup-exponential", "warmup(3) then exponential(0.5)"),
          ("plateau", "reduce_on_plateau(monitor=loss, patience=0, factor=0.5, "
           "threshold=0.05)"),
          ("plateau-cooldown", "reduce_on_plateau(monitor=loss, patience=1, factor=0.3, "
           "threshold=0.2, cooldown=1, min_lr=0.02)"),
          ("one_cycle", "one_cycle(0.2)"),
          ("one_cycle-options", "one_cycle(max_lr=0.3, pct_start=0.5, div_factor=5, "
           "final_div_factor=20)"),
      ]],
    # losses
    Case("loss-mse", "dense 8 tanh\ndense 2", n_out=2),
    Case("loss-rmse", "dense 8 tanh\ndense 2", loss="rmse", n_out=2),
    Case("loss-mae", MLP, loss="mae"),
    Case("loss-huber", "dense 8 tanh\ndense 2", loss="huber(delta=0.3)", n_out=2),
    Case("loss-mse-sigmoid", "dense 8 relu\ndense 1 sigmoid", optimizer="sgd(lr=0.5)"),
    Case("loss-bce", "dense 8 tanh\ndense 1 sigmoid", loss="binary_crossentropy",
         optimizer="sgd(lr=0.5, momentum=0.5)"),
    Case("loss-bce-smoothing", "dense 8 tanh\ndense 1 sigmoid",
         loss="binary_crossentropy(label_smoothing=0.2)", optimizer="adam(lr=0.02)"),
    Case("loss-cce", "dense 8 relu\ndense 4 softmax", loss="categorical_crossentropy",
         optimizer="sgd(lr=0.3)", n_out=4),
    Case("loss-cce-smoothing", "dense 8 relu\ndense 4 softmax",
         loss="categorical_crossentropy(label_smoothing=0.1)", optimizer="adam(lr=0.02)",
         n_out=4),
    # the same run as loss-cce but for the lr (log_softmax + cce is softmax + cce)
    Case("loss-cce-log_softmax", "dense 8 relu\ndense 4 log_softmax",
         loss="categorical_crossentropy", optimizer="sgd(lr=0.2)", n_out=4),
    Case("loss-cce-log_softmax-smoothing", "dense 8 tanh\ndense 3\nactivation log_softmax",
         loss="categorical_crossentropy(label_smoothing=0.2)", optimizer="rmsprop(lr=0.01)",
         n_out=3),
    Case("loss-cce-activation-softmax", "dense 8 elu\ndense 3\nactivation softmax",
         loss="categorical_crossentropy", optimizer="sgd(lr=0.3)", n_out=3),
    # activations
    *[_act(a) for a in ["relu", "tanh", "sigmoid", "selu", "gelu", "silu", "linear"]],
    _act("leaky_relu", "leaky_relu(0.2)"),
    _act("elu", "elu(alpha=0.7)"),
    _act("gelu-tanh", "gelu(approximate=tanh)"),
    # shapes: an image-shaped sample through an elementwise layer, dropout-free, flattened
    Case("flatten-image", "activation tanh\nflatten\ndense 5 relu\ndense 1", input=(2, 2, 3),
         optimizer="sgd(lr=0.05, momentum=0.5)"),
    _act("softplus", "softplus(beta=2, threshold=1.5)"),
    # batchnorm (train mode) in a network, batch sizes with and without a short batch
    Case("batchnorm", "dense 8\nbatchnorm\nactivation relu\ndense 1",
         optimizer="sgd(lr=0.1, momentum=0.9)"),
    Case("batchnorm-options", "dense 8 tanh\nbatchnorm(momentum=0.3, eps=0.001, affine=false)"
         "\ndense 3 softmax", loss="categorical_crossentropy", optimizer="adam(lr=0.01)",
         n_out=3, batch="15"),
    Case("batchnorm-input", "batchnorm\ndense 6 silu\nbatchnorm(momentum=0.5)\ndense 1",
         optimizer="adamw(lr=0.01)", batch="full"),
    # batching
    Case("batch-divides", MLP, batch="15"),
    Case("batch-full", MLP, batch="full", epochs=6),
    Case("batch-1", MLP, batch="1", epochs=2, optimizer="sgd(lr=0.02)"),
    Case("drop_last", MLP, extra="drop_last true"),
    Case("dropout", "dense 8 relu\ndropout 0.3\ndense 6 tanh\ndropout 0.5\ndense 1",
         optimizer="adam(lr=0.01)"),
    # graphs: fan-out, concat (an identity branch too), add, residual, heads with a loss weight
    Case("graph-concat", "dense 6 tanh\nconcat {\n    branch { dense 4 relu }\n"
         "    branch { dense 3 sigmoid; dense 4 }\n    branch {}\n}\ndense 1",
         optimizer="sgd(lr=0.05, momentum=0.9)"),
    Case("graph-residual-add", "dense 5 tanh\nresidual { dense 4 gelu; dense 5 }\n"
         "add {\n    branch { dense 3 }\n    branch { dense 3 tanh }\n}\ndense 2",
         loss="huber(delta=0.5)", optimizer="adam(lr=0.01)", n_out=2),
    Case("graph-head-softmax", "dense 8 relu\nhead aux weight=0.3 { dense 6 tanh; dense 4 softmax }"
         "\nbatchnorm\ndropout 0.2\ndense 4 softmax", loss="categorical_crossentropy",
         optimizer="sgd(lr=0.2, momentum=0.5)", n_out=4),
    Case("graph-two-heads-bce", "dense 6 tanh\nhead early weight=0.5 { dense 1 sigmoid }\n"
         "residual { dense 6 relu }\nhead late weight=0.2 { dense 3 relu; dense 1 sigmoid }\n"
         "dense 1 sigmoid", loss="binary_crossentropy", optimizer="rmsprop(lr=0.01)"),
    Case("deep-mixed", "dense 10 gelu\nbatchnorm\ndense 8 leaky_relu\ndropout 0.2\n"
         "dense 6 selu\ndense 1 sigmoid", loss="binary_crossentropy",
         optimizer="adamw(lr=0.01)", clip="norm=1.0", schedule="warmup(1) then cosine",
         epochs=5),
    # next-token prediction (Bengio et al., 2003): nn.Embedding + Flatten + Linear + Tanh +
    # Linear with cross_entropy on index targets; ids repeat within samples and batches
    Case("embedding-next-token-adam", "embedding 4 vocab=6\nflatten\ndense 8 tanh\n"
         "dense 6 softmax", loss="sparse_categorical_crossentropy", optimizer="adam(lr=0.01)",
         n_out=6, vocab=6, epochs=5),
    Case("embedding-next-token-sgd", "embedding 3 vocab=9\nflatten\ndense 5 tanh\n"
         "dense 9 softmax", loss="sparse_categorical_crossentropy(label_smoothing=0.1)",
         optimizer="sgd(lr=0.3, momentum=0.5)", n_out=9, vocab=9, input=(4,), epochs=5),
]

# images (C, H, W), trained on the reference and cpu backends (the cuda engine's image
# kernels are checked against the cpu engine's in tests/cuda): a LeNet-like chain, an
# inception module (conv branches concatenated, an auxiliary head with loss weight 0.3), a
# residual conv block with batchnorm per channel and dropout on an image, strides, dilation
# and [h, w] options
CASES += [
    Case("conv-lenet", "conv2d 4 3 relu padding=same\nmaxpool 2\nconv2d 6 3 tanh\n"
         "avgpool 2\nflatten\ndense 8 relu\ndense 3 softmax", loss="categorical_crossentropy",
         optimizer="sgd(lr=0.1, momentum=0.9)", n_out=3, input=(1, 8, 8)),
    Case("conv-inception-head", "conv2d 4 3 relu padding=1\nconcat {\n"
         "    branch { conv2d 2 1 relu }\n"
         "    branch { conv2d 2 1 relu; conv2d 3 3 relu padding=same }\n"
         "    branch { maxpool 3 stride=1 padding=1; conv2d 2 1 relu }\n}\n"
         "head aux weight=0.3 { avgpool 2; flatten; dense 3 softmax }\n"
         "maxpool 2\nconv2d 4 [2, 3] elu stride=[1, 2] padding=[0, 1]\nglobal_avgpool\n"
         "dense 3 softmax", loss="categorical_crossentropy", optimizer="adam(lr=0.01)",
         n_out=3, input=(3, 6, 6)),
    Case("conv-residual-bn", "conv2d 4 3 padding=1\nbatchnorm\nactivation relu\n"
         "residual { conv2d 4 3 relu padding=same; conv2d 4 3 padding=same; "
         "batchnorm(momentum=0.3) }\nactivation relu\ndropout 0.2\nglobal_avgpool\ndense 2",
         optimizer="sgd(lr=0.05, momentum=0.9)", n_out=2, input=(2, 5, 5)),
    Case("conv-strides-dilation", "conv2d 4 3 relu stride=2 dilation=2 padding=2\n"
         "avgpool 3 stride=1 padding=1\nmaxpool [2, 3] stride=[2, 1] padding=[1, 1]\n"
         "conv2d 3 [2, 1] bias=false\nflatten\ndense 1 sigmoid", loss="binary_crossentropy",
         optimizer="rmsprop(lr=0.01)", input=(3, 7, 7), batch="15"),
]

# The float32 subset (cpu backend against torch float32).
FLOAT32 = ["sgd-nesterov", "rmsprop-centered", "adam-amsgrad", "adamw", "adagrad-options",
           "clip-both", "schedule-warmup-cosine", "schedule-one_cycle", "loss-huber",
           "loss-bce", "loss-cce-smoothing", "loss-cce-log_softmax", "act-tanh",
           "act-sigmoid", "act-gelu", "act-silu", "act-softplus",
           "batchnorm", "batchnorm-options", "dropout", "deep-mixed",
           "conv-lenet", "conv-inception-head", "conv-residual-bn", "conv-strides-dilation"]
