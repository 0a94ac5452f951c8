"""oracle: a spec's model as nested torch modules, as a PyTorch user writes branches.

Also the oracle of image models (nn.Conv2d from the spec's own options, `padding="same"`
included, nn.MaxPool2d, nn.AvgPool2d, adaptive average pooling, BatchNorm2d), chains or not.

`concat`/`add` hold `branches` (a ModuleList of Sequentials), `residual` and `head` a
`body` (a Sequential), the model its statements in `layers` (a Sequential): so the state_dict
keys are `layers.2.branches.1.0.weight`, `layers.3.body.0.weight`, exactly nnspec's saved
names. The weights are loaded BY NAME with load_state_dict, which checks that naming.
Heads record their outputs on the way; the objective is main + weight * head loss, each
output's activation left to the loss where nnspec fuses it (logits into cross_entropy /
BCE-with-logits), as one writes it in torch.
"""

from __future__ import annotations

import numpy as np

from nnspec import ir
from nnspec.lower.plan import FUSED_NONE, L_CCE, Plan
from nnspec.ops import layers as L


def build(torch, model: ir.Model, plan: Plan, dropout, activation_of):  # noqa: ANN001
    """(the torch model, the list its heads write their outputs to). `dropout(rate)` makes
    the mask-matched dropout module; `activation_of(op)` the torch activation module."""
    nn = torch.nn
    fused_nodes = {plan.layers[o.node].name for o in plan.outputs if o.fused != FUSED_NONE}
    head_out: list = []

    class Seq(nn.Sequential):
        pass

    class Concat(nn.Module):
        def __init__(self, branches):  # noqa: ANN001
            super().__init__()
            self.branches = nn.ModuleList(branches)

        def forward(self, x):  # noqa: ANN001
            return torch.cat([b(x) for b in self.branches], dim=1)

    class Add(nn.Module):
        def __init__(self, branches):  # noqa: ANN001
            super().__init__()
            self.branches = nn.ModuleList(branches)

        def forward(self, x):  # noqa: ANN001
            out = self.branches[0](x)
            for b in self.branches[1:]:
                out = out + b(x)
            return out

    class Residual(nn.Module):
        def __init__(self, body):  # noqa: ANN001
            super().__init__()
            self.body = body

        def forward(self, x):  # noqa: ANN001
            return x + self.body(x)

    class Head(nn.Module):
        def __init__(self, body):  # noqa: ANN001
            super().__init__()
            self.body = body

        def forward(self, x):  # noqa: ANN001
            head_out.append(self.body(x))
            return x

    class Affine(nn.Module):
        """nn.Linear or nn.Conv2d (`inner`), then the activation (left out where the loss
        takes logits)."""

        def __init__(self, inner, activation, fused: bool):  # noqa: ANN001
            super().__init__()
            self.inner = inner
            self.act = nn.Identity() if fused else activation_of(activation)

        def forward(self, x):  # noqa: ANN001
            return self.act(self.inner(x))

        def _load_from_state_dict(self, state, prefix, *args):  # noqa: ANN001
            # nnspec names the inner module's tensors at the statement: layers.0.weight
            for name in ("weight", "bias"):
                if prefix + name in state:
                    state[prefix + "inner." + name] = state.pop(prefix + name)
            super()._load_from_state_dict(state, prefix, *args)

    def chain(layers, x_shape, prefix):  # noqa: ANN001
        mods = []
        for k, op in enumerate(layers):
            mods.append(one(op, x_shape, f"{prefix}.{k}"))
            x_shape = op.out_shape(x_shape)
        return Seq(*mods)

    def one(op, x_shape, name):  # noqa: ANN001
        if isinstance(op, L.Dense):
            return Affine(nn.Linear(x_shape[0], op.units, bias=op.bias), op.activation,
                          name in fused_nodes)
        if isinstance(op, L.Conv2D):
            conv = nn.Conv2d(x_shape[0], op.filters, op.kernel, stride=op.stride,
                             padding=op.padding, dilation=op.dilation, bias=op.bias)
            return Affine(conv, op.activation, name in fused_nodes)
        if isinstance(op, L.MaxPool2D):
            return nn.MaxPool2d(op.kernel, stride=op.stride, padding=op.padding)
        if isinstance(op, L.AvgPool2D):  # count_include_pad=True, torch's default
            return nn.AvgPool2d(op.kernel, stride=op.stride, padding=op.padding)
        if isinstance(op, L.GlobalAvgPool):
            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        if isinstance(op, L.ActivationLayer):
            return nn.Identity() if name in fused_nodes else activation_of(op.activation)
        if isinstance(op, L.Dropout):
            return dropout(op.rate)
        if isinstance(op, L.BatchNorm):
            cls = nn.BatchNorm2d if len(x_shape) == 3 else nn.BatchNorm1d
            return cls(x_shape[0], eps=op.eps, momentum=op.momentum, affine=op.affine)
        if isinstance(op, L.Flatten):
            return nn.Flatten()
        if isinstance(op, (L.Concat, L.Add)):
            cls = Concat if isinstance(op, L.Concat) else Add
            return cls([chain(b.layers, x_shape, f"{name}.branches.{j}")
                        for j, b in enumerate(op.branches)])
        if isinstance(op, L.Residual):
            return Residual(chain(op.body, x_shape, f"{name}.body"))
        if isinstance(op, L.Head):
            return Head(chain(op.body, x_shape, f"{name}.body"))
        raise AssertionError(op.kind)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = chain(model.layers, model.input, "layers")

        def forward(self, x):  # noqa: ANN001
            head_out.clear()
            return self.layers(x.reshape(x.shape[0], *model.input))

    return Model(), head_out


def load(torch, net, plan: Plan, params: np.ndarray, buffers: np.ndarray, dtype) -> None:
    """nnspec's flat weights into the torch model by their saved names (every key used)."""
    state = {}
    for slot in plan.tensors:
        flat = params if slot.buffer == "params" else buffers
        state[slot.key] = torch.tensor(flat[slot.offset:slot.offset + slot.size],
                                       dtype=dtype).reshape(slot.shape)
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)


def flat(net, plan: Plan, buffer: str) -> np.ndarray:
    """The torch model's tensors back in nnspec's flat layout (by name)."""
    named = {k: v for k, v in net.state_dict().items()}
    for k in list(named):
        if ".inner." in k:
            named[k.replace(".inner.", ".")] = named.pop(k)
    n = plan.n_params if buffer == "params" else plan.n_buffers
    out = np.zeros(n)
    for slot in plan.tensors:
        if slot.buffer == buffer:
            out[slot.offset:slot.offset + slot.size] = (
                named[slot.key].detach().double().numpy().ravel())
    return out


def objective(torch, plan: Plan, loss_for, main, heads, y):  # noqa: ANN001
    """(main loss, the objective main + sum of weight * head loss)."""
    first = loss_for(plan.outputs[0].fused)(main, y)
    total = first
    for o, out in zip(plan.heads, heads, strict=True):
        total = total + o.weight * loss_for(o.fused)(out, y)
    return first, total


__all__ = ["build", "flat", "load", "objective", "L_CCE"]
