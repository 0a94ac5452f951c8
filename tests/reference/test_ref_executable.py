"""The reference Executable: the backends/base.py contract, and training step for step
against PyTorch (float64) on the same initial weights, batches and dropout masks."""

from __future__ import annotations

import numpy as np
import pytest
from plan_nets import LOSS, OPT, data, dense, make_plan
from ref_nets import NETS

from nnspec.backends import compile as compile_backend
from nnspec.backends.base import Executable, as_targets, dropout_rng
from nnspec.backends.reference import compile, network
from nnspec.lower.plan import BATCHNORM, DENSE, DROPOUT
from nnspec.ops.layers import BatchNorm, Dropout


def _order(n, seed=0):
    return np.random.default_rng(seed).permutation(n).astype(np.int64)


def test_is_an_executable_and_registered():
    plan = make_plan(*NETS["tanh-sigmoid-bce"][:2])
    exe = compile(plan)
    assert isinstance(exe, Executable)
    assert type(compile_backend(plan, "reference")) is type(exe)
    assert exe.get_params().dtype == np.float64 and exe.step == 0


def test_float32_plan_still_computes_in_float64():
    plan = make_plan(*NETS["gelu-tanh-mae"][:2], n_in=2, dtype="float32")
    exe = compile(plan)
    x, y = data(plan, 8)
    exe.train_epoch(x, y, _order(8), 0.1, 0, 99, dropout_rng(0))
    assert exe.get_params().dtype == np.float64 and exe.predict(x).dtype == np.float64


@pytest.mark.parametrize("name", list(NETS))
def test_epoch_in_chunks_equals_one_call(name):
    layers, loss, n_in = NETS[name]
    plan = make_plan(layers, loss, n_in=n_in, batch=3)
    x, y = data(plan, 11)
    a, b = compile(plan), compile(plan)
    ra, rb = dropout_rng(0), dropout_rng(0)
    whole = a.train_epoch(x, y, _order(11), 0.05, 0, 100, ra)
    parts = [b.train_epoch(x, y, _order(11), 0.05, s, s + 2, rb) for s in (0, 2)]
    assert whole.n_batches == 4 and whole.n_samples == 11 and whole.ok
    assert sum(p.n_batches for p in parts) == 4
    assert whole.loss_sum == pytest.approx(sum(p.loss_sum for p in parts), rel=1e-14)
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    np.testing.assert_array_equal(a.get_buffers(), b.get_buffers())
    assert a.step == b.step == 4


def test_drop_last_and_full_batch():
    plan = make_plan(*NETS["gelu-tanh-mae"][:2], n_in=2, batch=4, drop_last=True)
    x, y = data(plan, 10)
    chunk = compile(plan).train_epoch(x, y, _order(10), 0.1, 0, 99, dropout_rng(0))
    assert (chunk.n_batches, chunk.n_samples) == (2, 8)
    full = make_plan(*NETS["gelu-tanh-mae"][:2], n_in=2, batch="full")
    exe = compile(full)
    before = exe.evaluate(x, y)  # no dropout/batchnorm: training loss = eval loss
    chunk = exe.train_epoch(x, y, _order(10), 0.1, 0, 99, dropout_rng(0))
    assert chunk.n_batches == 1 and chunk.mean_loss == pytest.approx(before, rel=1e-14)


def test_evaluate_is_the_whole_set_loss_and_predict_is_eval_mode():
    layers, loss, n_in = NETS["relu-bn-dropout-softmax-cce"]
    plan = make_plan(layers, loss, n_in=n_in, batch=4)
    exe = compile(plan)
    x, y = data(plan, 12)
    exe.train_epoch(x, y, _order(12), 0.1, 0, 99, dropout_rng(0))
    p = exe.predict(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)  # softmax probabilities
    np.testing.assert_array_equal(p, exe.predict(x))  # no dropout in eval mode
    t = as_targets(plan, y) * 0.9 + 0.1 / 3  # label smoothing 0.1
    assert exe.evaluate(x, y) == pytest.approx(-np.mean(np.sum(t * np.log(p), axis=1)),
                                               rel=1e-12)
    rmse = make_plan(*NETS["selu-nobias-bn-rmse"][:2], batch=2)
    exe = compile(rmse)
    x, y = data(rmse, 9)
    assert exe.evaluate(x, y) == pytest.approx(
        np.sqrt(np.mean((exe.predict(x) - y) ** 2)), rel=1e-13)


def test_nonfinite_loss_stops_before_the_update():
    plan = make_plan([dense(2)], LOSS["mse"](), n_in=2, batch=2)
    exe = compile(plan)
    x = np.array([[1.0, 2.0], [0.5, 0.1], [np.inf, 0.0], [1.0, 1.0]])
    y = np.zeros((4, 2))
    chunk = exe.train_epoch(x, y, np.arange(4), 0.1, 0, 99, dropout_rng(0))
    assert not chunk.ok and chunk.bad_batch == 1 and chunk.n_batches == 1
    assert exe.step == 1
    after_first = exe.state_dict()
    exe2 = compile(plan)
    exe2.train_epoch(x[:2], y[:2], np.arange(2), 0.1, 0, 99, dropout_rng(0))
    np.testing.assert_array_equal(after_first["params"], exe2.get_params())
    assert np.isnan(exe.evaluate(x, y)) or np.isinf(exe.evaluate(x, y))


def test_state_dict_resume_is_bit_identical():
    layers, loss, n_in = NETS["relu-bn-dropout-softmax-cce"]
    plan = make_plan(layers, loss, n_in=n_in, batch=4,
                     optimizer=OPT["adam"](lr=0.01, amsgrad=True))
    x, y = data(plan, 10)
    a = compile(plan)
    rng = dropout_rng(7)
    for e in range(2):
        a.train_epoch(x, y, _order(10, e), 0.01, 0, 99, rng)
    saved, rng_state = a.state_dict(), rng.bit_generator.state
    a.train_epoch(x, y, _order(10, 2), 0.01, 0, 99, rng)
    b = compile(plan)
    b.load_state_dict(saved)
    rng_b = np.random.default_rng()
    rng_b.bit_generator.state = rng_state
    b.train_epoch(x, y, _order(10, 2), 0.01, 0, 99, rng_b)
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[key])
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict({**saved, "params": np.zeros(3)})


# ---- PyTorch, step for step ------------------------------------------------------------

def _torch_loss(torch, plan, out, z, yt):
    F = torch.nn.functional
    name, s = plan.loss_name, plan.loss_param
    if name == "binary_crossentropy":
        t = yt * (1 - s) + s / 2
        return (F.binary_cross_entropy_with_logits(z, t) if plan.fused
                else F.binary_cross_entropy(out, t))
    if name == "categorical_crossentropy":
        assert plan.fused, "the torch oracle only covers the fused forms"
        return F.cross_entropy(z, yt, label_smoothing=s)
    if name == "mse":
        return F.mse_loss(out, yt)
    if name == "rmse":
        return torch.sqrt(F.mse_loss(out, yt))
    if name == "mae":
        return F.l1_loss(out, yt)
    return F.huber_loss(out, yt, delta=s)


def _torch_activation(torch, act, h):
    F = torch.nn.functional
    k = act.kind
    if k in ("softmax", "log_softmax"):
        return getattr(F, k)(h, dim=1)
    if k in ("leaky_relu", "elu"):
        return getattr(F, k)(h, act.alpha)
    if k == "gelu":
        return F.gelu(h, approximate=act.approximate)
    if k == "softplus":
        return F.softplus(h, act.beta, act.threshold)
    if k in ("tanh", "sigmoid"):
        return getattr(torch, k)(h)
    return h if k == "linear" else getattr(F, k)(h)  # relu, silu, selu


class _TorchNet:
    """The plan as torch tensors; dropout masks drawn from the same Generator, same order."""

    def __init__(self, torch, plan, params):
        self.torch, self.plan = torch, plan
        self.params = []
        self.views = {}
        self.bns = {}
        for layer in plan.layers:
            w, b = network.tensors(layer, params)
            if w is not None:
                pw = torch.nn.Parameter(torch.tensor(w.copy()))
                self.params.append(pw)
                pb = None
                if b is not None:
                    pb = torch.nn.Parameter(torch.tensor(b.copy()))
                    self.params.append(pb)
                self.views[layer.index] = (pw, pb)
            if layer.kind == BATCHNORM:
                bn = torch.nn.BatchNorm1d(layer.n_out, eps=layer.bn_eps,
                                          momentum=layer.bn_momentum, affine=False).double()
                self.bns[layer.index] = bn

    def flat(self):
        return np.concatenate([p.detach().numpy().ravel() for p in self.params])

    def forward(self, x, rng, train=True):
        torch, F = self.torch, self.torch.nn.functional
        h, z = x, None
        for layer in self.plan.layers:
            if layer.kind in (DENSE,):
                pw, pb = self.views[layer.index]
                h = F.linear(h, pw, pb)
            if layer.kind == BATCHNORM:
                bn = self.bns[layer.index]
                bn.train(train)
                h = bn(h)
                if layer.bn_affine:
                    pw, pb = self.views[layer.index]
                    h = h * pw + pb
                continue
            if layer.kind == DROPOUT:
                if train and layer.rate > 0:
                    keep = torch.tensor(rng.random(tuple(h.shape)) >= layer.rate)
                    h = h * keep / (1 - layer.rate)
                continue
            z = h
            h = _torch_activation(torch, network.activation_op(layer), h)
        return h, z


def _torch_opt(torch, plan, params):
    o = plan.optimizer
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, dampening=o.dampening,
                               nesterov=o.nesterov, weight_decay=o.weight_decay, foreach=False)
    if o.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=o.lr, alpha=o.alpha, eps=o.eps,
                                   momentum=o.momentum, centered=o.centered,
                                   weight_decay=o.weight_decay, foreach=False)
    if o.name in ("adam", "adamw"):
        cls = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
        return cls(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps,
                   weight_decay=o.weight_decay, amsgrad=o.amsgrad, foreach=False)
    return torch.optim.Adagrad(params, lr=o.lr, lr_decay=o.lr_decay, eps=o.eps,
                               weight_decay=o.weight_decay,
                               initial_accumulator_value=o.initial_accumulator_value,
                               foreach=False)


TRAININGS = [
    ("tanh-sigmoid-bce", OPT["sgd"](lr=0.5, momentum=0.9, nesterov=True), {}),
    ("relu-bn-dropout-softmax-cce", OPT["adam"](lr=0.01), {"clip": None}),
    ("gelu-silu-huber", OPT["rmsprop"](lr=0.01, centered=True, momentum=0.5), {}),
    ("elu-logsoftmax-cce", OPT["adamw"](lr=0.02, amsgrad=True), {}),
    ("selu-nobias-bn-rmse", OPT["adagrad"](lr=0.1, lr_decay=0.01, weight_decay=0.01), {}),
    ("softplus-leaky-mse", OPT["sgd"](lr=0.05, weight_decay=0.1, momentum=0.5, dampening=0.2),
     {"clip": "norm"}),
    ("gelu-tanh-mae", OPT["adam"](lr=0.05, weight_decay=0.01), {"clip": "value"}),
    ("sigmoid-plain-bce", OPT["sgd"](lr=1.0), {"clip": "both"}),
]


@pytest.mark.torch
@pytest.mark.parametrize(("name", "opt", "extra"), TRAININGS, ids=[t[0] for t in TRAININGS])
def test_training_matches_torch(name, opt, extra):
    torch = pytest.importorskip("torch")
    from nnspec.ops.optimizers import Clip

    clip = {None: None, "norm": Clip(norm=0.05), "value": Clip(value=0.01),
            "both": Clip(norm=0.1, value=0.05)}[extra.get("clip")]
    layers, loss, n_in = NETS[name]
    plan = make_plan(layers, loss, n_in=n_in, optimizer=opt, batch=5, clip=clip)
    exe = compile(plan)
    x, y = data(plan, 13, seed=4)
    yt_all = torch.tensor(y)
    net = _TorchNet(torch, plan, exe.get_params())
    topt = _torch_opt(torch, plan, net.params)
    ours_rng, torch_rng = dropout_rng(3), dropout_rng(3)
    for epoch in range(3):
        lr = plan.optimizer.lr * (1 - 0.2 * epoch)
        order = _order(13, epoch)
        chunk = exe.train_epoch(x, y, order, lr, 0, 99, ours_rng)
        for group in topt.param_groups:
            group["lr"] = lr
        loss_sum = 0.0
        for k in range(plan.n_batches(13)):
            rows = order[k * 5:(k + 1) * 5]
            topt.zero_grad()
            out, z = net.forward(torch.tensor(x[rows]), torch_rng)
            batch_loss = _torch_loss(torch, plan, out, z, yt_all[rows])
            batch_loss.backward()
            if plan.clip_value:
                torch.nn.utils.clip_grad_value_(net.params, plan.clip_value)
            if plan.clip_norm:
                torch.nn.utils.clip_grad_norm_(net.params, plan.clip_norm)
            topt.step()
            loss_sum += batch_loss.item() * len(rows)
        assert chunk.ok and chunk.loss_sum == pytest.approx(loss_sum, rel=1e-10)
        np.testing.assert_allclose(exe.get_params(), net.flat(), rtol=1e-9, atol=1e-12)
    for layer in plan.layers:
        if layer.kind == BATCHNORM:
            bn = net.bns[layer.index]
            buf = exe.get_buffers()
            np.testing.assert_allclose(buf[layer.rm_offset:layer.rm_offset + layer.n_out],
                                       bn.running_mean.numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(buf[layer.rv_offset:layer.rv_offset + layer.n_out],
                                       bn.running_var.numpy(), rtol=1e-9)
    out, _ = net.forward(torch.tensor(x), None, train=False)
    np.testing.assert_allclose(exe.predict(x), out.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_dropout_and_batchnorm_change_training_but_not_eval():
    plan = make_plan([dense(4, "relu"), BatchNorm(), Dropout(rate=0.5), dense(1)], LOSS["mse"](),
                     batch=4)
    exe = compile(plan)
    x, y = data(plan, 8)
    f_train = network.forward(plan, exe.params, exe.buffers, x, True, rng=dropout_rng(0))
    f_eval = network.forward(plan, exe.params, exe.buffers, x, False)
    assert not np.allclose(f_train.out, f_eval.out)
    np.testing.assert_array_equal(exe.predict(x), f_eval.out)


@pytest.mark.parametrize("name", [n for n in NETS if "bn" not in n and "dropout" not in n
                                  and "head" not in n])
def test_executable_update_is_the_gradient(name):
    """End to end through the Executable: one plain full-batch SGD step moves the parameters
    by lr * gradient, and that gradient matches central differences of evaluate(). (Not with
    heads: evaluate() is the main output's loss, the objective adds the heads'.)"""
    from ref_gradcheck import assert_grad

    layers, loss, n_in = NETS[name]
    plan = make_plan(layers, loss, n_in=n_in, batch="full", optimizer=OPT["sgd"](lr=1.0))
    exe = compile(plan)
    x, y = data(plan, 7)
    p0 = exe.get_params()
    exe.train_epoch(x, y, np.arange(7), 1.0, 0, 1, dropout_rng(0))
    grad = p0 - exe.get_params()
    params = p0.copy()

    def f():
        exe.set_params(params)
        return exe.evaluate(x, y)

    assert_grad(f, params, grad)
