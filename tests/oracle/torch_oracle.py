"""oracle: Plan + initial weights + data -> the same training run in idiomatic PyTorch.

An independent second implementation of a whole nnspec run: torch modules (nn.Linear,
nn.BatchNorm1d, torch activations), torch losses, torch.optim optimizers, gradient clipping
with torch.nn.utils and torch.optim.lr_scheduler schedulers stepped once per epoch. Only the
pieces of the contract that torch has no notion of are taken from nnspec's documents:
- the flat parameter layout (lower/plan.py) to copy weights in and out, keyed by
  `layers.<i>.<name>` (= attribute names of the torch modules);
- the epoch loss (backends/base.py): sum_k loss_k * B_k / sum_k B_k in float64;
- dropout masks (backends/base.py): u = rng.random((B, n)), keep = u >= rate, same stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnspec import ir
from nnspec.backends.base import dropout_rng
from nnspec.lower.plan import (
    ACTIVATION,
    AVGPOOL,
    BATCHNORM,
    CONV2D,
    DENSE,
    DROPOUT,
    EMBEDDING,
    FLATTEN,
    FUSED_LOG_SOFTMAX_CCE,
    FUSED_NONE,
    FUSED_SIGMOID_BCE,
    FUSED_SOFTMAX_CCE,
    GLOBAL_AVGPOOL,
    L_BCE,
    L_CCE,
    L_HUBER,
    L_MAE,
    L_MSE,
    L_RMSE,
    MAXPOOL,
    LayerPlan,
    Plan,
)


@dataclass
class TorchRun:
    """What the torch run produced, in nnspec's flat layouts (float64 copies)."""

    losses: list[float]  # per-epoch loss (nnspec's definition)
    lrs: list[float]  # the lr every epoch ran with
    params: np.ndarray
    buffers: np.ndarray


def activation(torch, layer: LayerPlan):
    nn = torch.nn
    name, p0, p1 = layer.act_name, layer.act_p0, layer.act_p1
    table = {
        "linear": lambda: nn.Identity(),
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(negative_slope=p0),
        "elu": lambda: nn.ELU(alpha=p0),
        "selu": lambda: nn.SELU(),
        "gelu": lambda: nn.GELU(approximate="tanh" if p0 == 1.0 else "none"),
        "silu": lambda: nn.SiLU(),
        "softplus": lambda: nn.Softplus(beta=p0, threshold=p1),
        "tanh": lambda: nn.Tanh(),
        "sigmoid": lambda: nn.Sigmoid(),
        "softmax": lambda: nn.Softmax(dim=1),
        "log_softmax": lambda: nn.LogSoftmax(dim=1),
    }
    return table[name]()


class _Dropout:
    """Inverted dropout with nnspec's mask stream (torch's own RNG cannot be matched)."""

    def __init__(self, torch, rate: float, rng: np.random.Generator):
        self.torch, self.rate, self.rng = torch, rate, rng

    def __call__(self, h):
        if self.rate == 0.0:
            return h
        keep = self.rng.random(tuple(h.shape)) >= self.rate
        return h * self.torch.tensor(keep, dtype=h.dtype) / (1.0 - self.rate)


class TorchNet:
    """The plan's layers as torch modules. With a fused output+loss the last activation is
    left to the loss (BCEWithLogits / CrossEntropy on logits), as one writes it in torch."""

    def __init__(self, torch, plan: Plan, params: np.ndarray, buffers: np.ndarray, dtype,
                 rng: np.random.Generator):
        nn = torch.nn
        self.torch, self.plan = torch, plan
        self.modules: dict[int, object] = {}  # layer index -> module holding its tensors
        self.steps: list = []
        last = len(plan.layers) - 1
        for layer in plan.layers:
            i = layer.index
            if layer.kind == DENSE:
                lin = nn.Linear(layer.n_in, layer.n_out, bias=layer.bias, dtype=dtype)
                self.modules[i] = lin
                self.steps.append(lin)
            elif layer.kind == BATCHNORM:
                bn = nn.BatchNorm1d(layer.n_out, eps=layer.bn_eps, momentum=layer.bn_momentum,
                                    affine=layer.bn_affine, dtype=dtype)
                bn.train()
                self.modules[i] = bn
                self.steps.append(bn)
            elif layer.kind == DROPOUT:
                self.steps.append(_Dropout(torch, layer.rate, rng))
            elif layer.kind == FLATTEN:
                self.steps.append(nn.Flatten())
            elif layer.kind == EMBEDDING:
                vocab, dim = layer.tensors[0].shape
                emb = nn.Embedding(vocab, dim, dtype=dtype)
                self.modules[i] = emb
                self.steps.append(lambda h, emb=emb: emb(h.long()))  # ids: exact in float
            if layer.kind in (DENSE, ACTIVATION):
                fused_here = i == plan.layers[last].index and plan.fused in (
                    FUSED_SIGMOID_BCE, FUSED_SOFTMAX_CCE)
                if not fused_here:
                    self.steps.append(activation(torch, layer))
        with torch.no_grad():
            for slot in plan.tensors:
                flat = params if slot.buffer == "params" else buffers
                t = getattr(self.modules[slot.layer], slot.key.split(".")[-1])
                t.copy_(torch.tensor(flat[slot.offset:slot.offset + slot.size])
                        .reshape(slot.shape))

    def parameters(self):
        return [p for m in self.modules.values() for p in m.parameters()]

    def __call__(self, x):
        x = x.reshape(x.shape[0], *self.plan.input_shape)  # nnspec's samples are row-major
        for step in self.steps:
            x = step(x)
        return x

    def flat(self, buffer: str) -> np.ndarray:
        n = self.plan.n_params if buffer == "params" else self.plan.n_buffers
        out = np.zeros(n)
        for slot in self.plan.tensors:
            if slot.buffer == buffer:
                t = getattr(self.modules[slot.layer], slot.key.split(".")[-1])
                out[slot.offset:slot.offset + slot.size] = t.detach().double().numpy().ravel()
        return out


def _images(plan: Plan) -> bool:
    """Whether a node works on (C, H, W) images: built by torch_graph from the spec's ops."""
    return any(layer.kind in (CONV2D, MAXPOOL, AVGPOOL, GLOBAL_AVGPOOL)
               or (layer.kind == BATCHNORM and len(layer.in_shape) > 1) for layer in plan.layers)


def loss_fn(torch, plan: Plan, fused: int | None = None):
    """The batch loss of torch outputs `out` (logits where fused) against targets; `fused`:
    an output's own fused form (default: the main output's)."""
    F = torch.nn.functional
    s = plan.loss_param
    fused = plan.fused if fused is None else fused
    if plan.loss == L_MSE:
        return F.mse_loss
    if plan.loss == L_RMSE:
        return lambda out, y: torch.sqrt(F.mse_loss(out, y))
    if plan.loss == L_MAE:
        return F.l1_loss
    if plan.loss == L_HUBER:
        return lambda out, y: F.huber_loss(out, y, delta=s)
    if plan.loss == L_BCE:
        # torch has no label smoothing for BCE: smooth the targets as nnspec documents.
        if fused == FUSED_SIGMOID_BCE:
            return lambda out, y: F.binary_cross_entropy_with_logits(out, y * (1 - s) + s / 2)
        return lambda out, y: F.binary_cross_entropy(out, y * (1 - s) + s / 2)
    if plan.loss == L_CCE:
        if fused == FUSED_SOFTMAX_CCE:
            return lambda out, y: F.cross_entropy(out, y, label_smoothing=s)
        if fused == FUSED_LOG_SOFTMAX_CCE:
            # log-probabilities are valid logits: log_softmax(log p) = log p.
            return lambda out, y: F.cross_entropy(out, y, label_smoothing=s)
        assert fused == FUSED_NONE
        return lambda out, y: F.nll_loss(torch.log(out), y)
    raise AssertionError(plan.loss_name)


def optimizer(torch, plan: Plan, params):
    o, optim = plan.optimizer, torch.optim
    if o.name == "sgd":
        return optim.SGD(params, lr=o.lr, momentum=o.momentum, dampening=o.dampening,
                         nesterov=bool(o.nesterov), weight_decay=o.weight_decay)
    if o.name == "rmsprop":
        return optim.RMSprop(params, lr=o.lr, alpha=o.alpha, eps=o.eps, momentum=o.momentum,
                             centered=bool(o.centered), weight_decay=o.weight_decay)
    if o.name in ("adam", "adamw"):
        cls = optim.Adam if o.name == "adam" else optim.AdamW
        return cls(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps,
                   weight_decay=o.weight_decay, amsgrad=bool(o.amsgrad))
    if o.name == "adagrad":
        return optim.Adagrad(params, lr=o.lr, lr_decay=o.lr_decay, eps=o.eps,
                             weight_decay=o.weight_decay,
                             initial_accumulator_value=o.initial_accumulator_value)
    raise AssertionError(o.name)


def main_scheduler(torch, opt, op, epochs: int):
    """The torch scheduler equivalent to nnspec schedule `op` (not warmup) over `epochs`
    (also the oracle of tests/schedules)."""
    sched = torch.optim.lr_scheduler
    k = op.kind
    if k == "constant":
        return sched.ConstantLR(opt, factor=1.0, total_iters=0)
    if k == "step":
        return sched.StepLR(opt, step_size=op.every, gamma=op.gamma)
    if k == "multistep":
        return sched.MultiStepLR(opt, milestones=list(op.milestones), gamma=op.gamma)
    if k == "exponential":
        return sched.ExponentialLR(opt, gamma=op.gamma)
    if k == "cosine" and op.restart_every:
        return sched.CosineAnnealingWarmRestarts(opt, T_0=op.restart_every, T_mult=op.mult,
                                                 eta_min=op.min_lr)
    if k == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=op.period or epochs, eta_min=op.min_lr)
    if k == "one_cycle":
        return sched.OneCycleLR(opt, max_lr=op.max_lr, total_steps=epochs,
                                pct_start=op.pct_start, div_factor=op.div_factor,
                                final_div_factor=op.final_div_factor, anneal_strategy="cos",
                                cycle_momentum=False, three_phase=False)
    if k == "reduce_on_plateau":
        mode = "min" if op.mode == "auto" else op.mode  # the oracle cases monitor `loss`
        return sched.ReduceLROnPlateau(opt, mode=mode, factor=op.factor, patience=op.patience,
                                       threshold=op.threshold, threshold_mode="rel",
                                       cooldown=op.cooldown, min_lr=op.min_lr)
    raise AssertionError(k)


def scheduler(torch, train: ir.Train, opt):
    """The torch scheduler for `train`'s schedule (SequentialLR after a warmup)."""
    w = train.warmup
    if w is None:
        return main_scheduler(torch, opt, train.schedule, train.epochs)
    sched = torch.optim.lr_scheduler
    warm = sched.LinearLR(opt, start_factor=w.start_factor, end_factor=1.0,
                          total_iters=w.epochs)
    main = main_scheduler(torch, opt, train.schedule, train.epochs - w.epochs)
    return sched.SequentialLR(opt, [warm, main], milestones=[w.epochs])


def run(torch, spec: ir.Spec, plan: Plan, params0: np.ndarray, buffers0: np.ndarray,
        x: np.ndarray, y: np.ndarray, dtype) -> TorchRun:
    """Train in torch, shuffle off, for spec.train.epochs epochs; y: class indices (int) for
    categorical_crossentropy, else (N, K) floats."""
    if not plan.is_chain or _images(plan):
        return _run_graph(torch, spec, plan, params0, buffers0, x, y, dtype)
    net = TorchNet(torch, plan, params0, buffers0, dtype, dropout_rng(plan.seed))
    params = net.parameters()
    opt = optimizer(torch, plan, params)
    sched = scheduler(torch, spec.train, opt)
    plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    xt = torch.tensor(x, dtype=dtype)
    yt = torch.tensor(y) if plan.loss == L_CCE else torch.tensor(y, dtype=dtype)
    loss_of = loss_fn(torch, plan)
    n = x.shape[0]
    b = plan.batch_size(n)
    losses, lrs = [], []
    for _ in range(spec.train.epochs):
        lrs.append(opt.param_groups[0]["lr"])
        total, count = 0.0, 0
        for k in range(plan.n_batches(n)):
            xb, yb = xt[k * b:(k + 1) * b], yt[k * b:(k + 1) * b]
            opt.zero_grad()
            loss = loss_of(net(xb), yb)
            loss.backward()
            if plan.clip_value:
                torch.nn.utils.clip_grad_value_(params, plan.clip_value)
            if plan.clip_norm:
                torch.nn.utils.clip_grad_norm_(params, plan.clip_norm)
            opt.step()
            total += float(loss.item()) * xb.shape[0]
            count += xb.shape[0]
        losses.append(total / count)
        if plateau:
            sched.step(losses[-1])
        else:
            sched.step()
    return TorchRun(losses, lrs, net.flat("params"), net.flat("buffers"))


def _run_graph(torch, spec: ir.Spec, plan: Plan, params0: np.ndarray, buffers0: np.ndarray,
               x: np.ndarray, y: np.ndarray, dtype) -> TorchRun:
    """run() for a model that branches: nested torch modules (torch_graph.py) loaded by name,
    the objective main + weight * head loss; the reported loss is the main output's."""
    import types

    import torch_graph

    rng = dropout_rng(plan.seed)

    class Dropout(torch.nn.Module):
        def __init__(self, rate):
            super().__init__()
            self.drop = _Dropout(torch, rate, rng)

        def forward(self, h):
            return self.drop(h)

    def activation_of(op):
        p0, p1 = op.params()
        return activation(torch, types.SimpleNamespace(act_name=op.kind, act_p0=p0, act_p1=p1))

    net, heads = torch_graph.build(torch, spec.model, plan, Dropout, activation_of)
    net = net.to(dtype)
    torch_graph.load(torch, net, plan, params0, buffers0, dtype)
    net.train()
    params = list(net.parameters())
    opt = optimizer(torch, plan, params)
    sched = scheduler(torch, spec.train, opt)
    xt = torch.tensor(x, dtype=dtype)
    yt = torch.tensor(y) if plan.loss == L_CCE else torch.tensor(y, dtype=dtype)
    n = x.shape[0]
    b = plan.batch_size(n)
    losses, lrs = [], []
    for _ in range(spec.train.epochs):
        lrs.append(opt.param_groups[0]["lr"])
        total, count = 0.0, 0
        for k in range(plan.n_batches(n)):
            xb, yb = xt[k * b:(k + 1) * b], yt[k * b:(k + 1) * b]
            opt.zero_grad()
            main, objective = torch_graph.objective(
                torch, plan, lambda fused: loss_fn(torch, plan, fused), net(xb), heads, yb)
            objective.backward()
            if plan.clip_value:
                torch.nn.utils.clip_grad_value_(params, plan.clip_value)
            if plan.clip_norm:
                torch.nn.utils.clip_grad_norm_(params, plan.clip_norm)
            opt.step()
            total += float(main.item()) * xb.shape[0]
            count += xb.shape[0]
        losses.append(total / count)
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(losses[-1])
        else:
            sched.step()
    return TorchRun(losses, lrs, torch_graph.flat(net, plan, "params"),
                    torch_graph.flat(net, plan, "buffers"))
