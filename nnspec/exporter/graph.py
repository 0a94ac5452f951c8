"""exporter.graph: a Plan + its trained tensors + the run's scaler -> an ONNX ModelProto.

Built with the `onnx` package's helper API (imported here only: the caller checks that it is
installed first), in float32, at opset `OPSET`:

- one input, `features`, of shape [batch, *input_shape] (a flat row [batch, F], or images
  [batch, C, H, W] in PyTorch's NCHW layout), raw values as `nnspec predict` reads them;
  for a model whose input is token ids (an `embedding` reads it): int64 ids [batch, context],
  the vocabulary's (data.json), unscaled;
- the scaler of the run's data.json as the graph's first nodes: (x - shift) / scale with the
  training split's statistics (per feature, or per channel for images), so the model takes
  the same raw values as `nnspec predict`; none when the data block says `scale none`;
- one node (or a few) per layer, in the Plan's order: dense -> Gemm (transB=1: the weight is
  stored (out, in) as PyTorch), conv2d -> Conv, maxpool / avgpool -> MaxPool / AveragePool
  (count_include_pad=1), global_avgpool -> GlobalAveragePool + Flatten, flatten -> Flatten,
  embedding -> Gather(axis=0) of the table's rows,
  batchnorm -> BatchNormalization with the running statistics (evaluation mode), dropout ->
  nothing (the identity at evaluation), concat -> Concat(axis=1), add and residual -> Add;
  the activation after it (gelu, silu and softplus with beta or threshold are spelled out
  with elementary ops);
- auxiliary heads (`head`) are left out: only the nodes the main output reads are exported;
- one output, named for what it holds: `probabilities` for a classifier (after log_softmax
  an Exp is appended, as `nnspec predict` does) and `prediction` for regression,
  [batch, n_outputs]. The batch dimension is symbolic (`batch`): any batch size runs.

Weights keep their `.npz` / state_dict names (`layers.0.weight`); a layer's output is named
after its modules' path (`layers.3.body.0`). A kind with no ONNX form here (a layer added
after this exporter) is an E512 naming the layer at its statement, and nothing is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nnspec.diagnostics import Diagnostic, error
from nnspec.lower.plan import INPUT, LAYER_NAMES, LayerPlan, Plan

OPSET = 17  # ai.onnx: BatchNormalization-15, Softmax-13 (axis semantics), Gemm-13
INPUT_NAME = "features"


class Builder:
    """Nodes and initializers of one graph, with unique tensor names."""

    def __init__(self, helper: Any, numpy_helper: Any) -> None:
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.taken: set[str] = {INPUT_NAME}

    def _fresh(self, name: str) -> str:
        out, k = name, 1
        while out in self.taken:
            k += 1
            out = f"{name}_{k}"
        self.taken.add(out)
        return out

    def const(self, name: str, value: Any) -> str:
        name = self._fresh(name)
        arr = np.asarray(value, dtype=np.float32)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str, **attrs: Any) -> str:
        out = self._fresh(out)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


# ---------------------------------------------------------------------------------------------
# Activations: z -> act(z), named `out`.
# ---------------------------------------------------------------------------------------------

def _gelu(g: Builder, z: str, out: str, node: LayerPlan) -> str:
    half = g.const(f"{out}.half", 0.5)
    one = g.const(f"{out}.one", 1.0)
    if node.act_p0 == 1.0:  # tanh form: z/2 * (1 + tanh(sqrt(2/pi) * (z + 0.044715 z^3)))
        cube = g.op("Mul", [z, g.op("Mul", [z, z], f"{out}.z2")], f"{out}.z3")
        inner = g.op("Add", [z, g.op("Mul", [cube, g.const(f"{out}.c", 0.044715)],
                                     f"{out}.cz3")], f"{out}.poly")
        u = g.op("Mul", [inner, g.const(f"{out}.k", math.sqrt(2.0 / math.pi))], f"{out}.u")
        t = g.op("Tanh", [u], f"{out}.tanh")
    else:  # exact: z/2 * (1 + erf(z / sqrt 2))
        t = g.op("Erf", [g.op("Mul", [z, g.const(f"{out}.k", 1.0 / math.sqrt(2.0))],
                              f"{out}.u")], f"{out}.erf")
    return g.op("Mul", [g.op("Mul", [z, half], f"{out}.halfz"),
                        g.op("Add", [t, one], f"{out}.1p")], out)


def _softplus(g: Builder, z: str, out: str, node: LayerPlan) -> str:
    beta, threshold = node.act_p0, node.act_p1
    bz = z if beta == 1.0 else g.op("Mul", [z, g.const(f"{out}.beta", beta)], f"{out}.bz")
    sp = g.op("Softplus", [bz], f"{out}.sp")
    if beta != 1.0:
        sp = g.op("Div", [sp, g.const(f"{out}.beta", beta)], f"{out}.spb")
    # linear above the threshold, as torch.nn.Softplus and nnspec's kernels
    above = g.op("Greater", [bz, g.const(f"{out}.threshold", threshold)], f"{out}.above")
    return g.op("Where", [above, z, sp], out)


ACTIVATIONS: dict[str, Callable[[Builder, str, str, LayerPlan], str]] = {
    "relu": lambda g, z, out, n: g.op("Relu", [z], out),
    "leaky_relu": lambda g, z, out, n: g.op("LeakyRelu", [z], out, alpha=n.act_p0),
    "elu": lambda g, z, out, n: g.op("Elu", [z], out, alpha=n.act_p0),
    "selu": lambda g, z, out, n: g.op("Selu", [z], out, alpha=1.6732632423543772,
                                      gamma=1.0507009873554805),
    "gelu": _gelu,
    "silu": lambda g, z, out, n: g.op("Mul", [z, g.op("Sigmoid", [z], f"{out}.sigmoid")], out),
    "softplus": _softplus,
    "tanh": lambda g, z, out, n: g.op("Tanh", [z], out),
    "sigmoid": lambda g, z, out, n: g.op("Sigmoid", [z], out),
    "softmax": lambda g, z, out, n: g.op("Softmax", [z], out, axis=1),
    "log_softmax": lambda g, z, out, n: g.op("LogSoftmax", [z], out, axis=1),
}


# ---------------------------------------------------------------------------------------------
# Layers: (builder, node, its input names, its tensors) -> its output name (before the
# activation). `pre` is the name the layer's own op writes.
# ---------------------------------------------------------------------------------------------

Tensors = dict[str, np.ndarray]


def _param(g: Builder, node: LayerPlan, tensors: Tensors, name: str) -> str | None:
    slot = node.slot(name)
    return None if slot is None else g.const(slot.key, tensors[slot.key])


def _window(node: LayerPlan, dilations: bool) -> dict[str, Any]:
    w = node.window
    attrs: dict[str, Any] = {"kernel_shape": [w.kh, w.kw], "strides": [w.sh, w.sw],
                             "pads": [w.pt, w.pl, w.pb, w.pr]}
    if dilations:
        attrs["dilations"] = [w.dh, w.dw]
    return attrs


def _dense(g: Builder, node: LayerPlan, x: list[str], tensors: Tensors, pre: str) -> str:
    inputs = [x[0], _param(g, node, tensors, "weight") or ""]
    bias = _param(g, node, tensors, "bias")
    return g.op("Gemm", [*inputs, bias] if bias else inputs, pre, transB=1)


def _conv2d(g: Builder, node: LayerPlan, x: list[str], tensors: Tensors, pre: str) -> str:
    inputs = [x[0], _param(g, node, tensors, "weight") or ""]
    bias = _param(g, node, tensors, "bias")
    return g.op("Conv", [*inputs, bias] if bias else inputs, pre, **_window(node, True))


def _batchnorm(g: Builder, node: LayerPlan, x: list[str], tensors: Tensors, pre: str) -> str:
    c = node.channels
    scale = _param(g, node, tensors, "weight") or g.const(f"{node.name}.ones", np.ones(c))
    shift = _param(g, node, tensors, "bias") or g.const(f"{node.name}.zeros", np.zeros(c))
    mean = _param(g, node, tensors, "running_mean") or ""
    var = _param(g, node, tensors, "running_var") or ""
    return g.op("BatchNormalization", [x[0], scale, shift, mean, var], pre,
                epsilon=node.bn_eps)


def _add(g: Builder, node: LayerPlan, x: list[str], tensors: Tensors, pre: str) -> str:
    total = x[0]
    for k, other in enumerate(x[1:], start=1):
        total = g.op("Add", [total, other], pre if k == len(x) - 1 else f"{pre}.sum{k}")
    return total


def _embedding(g: Builder, node: LayerPlan, x: list[str], tensors: Tensors, pre: str) -> str:
    """Rows of the table at the ids: [batch, context] int64 -> [batch, context, dim]."""
    return g.op("Gather", [_param(g, node, tensors, "weight") or "", x[0]], pre, axis=0)


def _global_avgpool(g: Builder, node: LayerPlan, x: list[str], tensors: Tensors,
                    pre: str) -> str:
    pooled = g.op("GlobalAveragePool", [x[0]], f"{pre}.pool")
    return g.op("Flatten", [pooled], pre, axis=1)


LAYERS: dict[str, Callable[[Builder, LayerPlan, list[str], Tensors, str], str]] = {
    "dense": _dense,
    "conv2d": _conv2d,
    "batchnorm": _batchnorm,
    "activation": lambda g, node, x, t, pre: x[0],  # its activation is applied below
    "dropout": lambda g, node, x, t, pre: x[0],  # the identity at evaluation
    "flatten": lambda g, node, x, t, pre: g.op("Flatten", [x[0]], pre, axis=1),
    "maxpool": lambda g, node, x, t, pre: g.op("MaxPool", [x[0]], pre, **_window(node, False)),
    "avgpool": lambda g, node, x, t, pre: g.op("AveragePool", [x[0]], pre,
                                               count_include_pad=1, **_window(node, False)),
    "global_avgpool": _global_avgpool,
    "concat": lambda g, node, x, t, pre: g.op("Concat", x, pre, axis=1),
    "add": _add,
    "embedding": _embedding,
}


def op_kind(node: LayerPlan) -> str:
    """The node's op (a `residual` statement's node is an `add`; kind_name is the
    statement's own kind, for messages)."""
    return LAYER_NAMES[node.kind]


def main_nodes(plan: Plan) -> list[int]:
    """The nodes the main output reads (directly or not), in Plan order: heads left out."""
    last = plan.outputs[0].node if plan.outputs else len(plan.layers) - 1
    needed, todo = set(), [last]
    while todo:
        i = todo.pop()
        if i == INPUT or i in needed:
            continue
        needed.add(i)
        todo.extend(plan.layers[i].inputs)
    return sorted(needed)


def unsupported(plan: Plan) -> list[Diagnostic]:
    """E512 for every exported node whose kind or activation has no ONNX form here."""
    out = []
    for i in main_nodes(plan):
        node = plan.layers[i]
        what = None
        if op_kind(node) not in LAYERS:
            what = f"`{node.kind_name}` layers"
        elif node.act_name != "linear" and node.act_name not in ACTIVATIONS:
            what = f"the activation `{node.act_name}`"
        if what is not None:
            out.append(error(
                "E512", f"{node.label} cannot be exported to ONNX: the exporter has no ONNX "
                f"form for {what} yet", node.span, path=plan.spec_path,
                label="no ONNX form",
                notes=["nothing was written"],
                hints=["layers that export: " + ", ".join(sorted(LAYERS)) + "; run the model "
                       "with `nnspec predict` meanwhile"]))
    return out


def output_name(plan: Plan) -> str:
    return "prediction" if plan.task == "regression" else "probabilities"


def build(plan: Plan, tensors: Tensors, scaler: Any, schema: dict[str, Any],
          metadata: dict[str, str]) -> Any:
    """The ModelProto (not yet checked). `scaler`: nnspec.data.scaling.Scaler; `tensors`:
    {state_dict key: array}; call `unsupported(plan)` first."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = Builder(helper, numpy_helper)
    # token ids (an embedding reads the input) are int64 and never scaled
    x = INPUT_NAME if plan.token_input else _scaler_nodes(g, scaler, plan.input_shape)
    names: dict[int, str] = {INPUT: x}
    for i in main_nodes(plan):
        node = plan.layers[i]
        inputs = [names[j] for j in node.inputs]
        linear = node.act_name == "linear"
        pre = node.name if linear else f"{node.name}.pre"
        y = LAYERS[op_kind(node)](g, node, inputs, tensors, pre)
        if not linear:
            y = ACTIVATIONS[node.act_name](g, y, node.name, node)
        names[i] = y
    last = names[main_nodes(plan)[-1]]
    if plan.task == "multiclass" and plan.layers[main_nodes(plan)[-1]].act_name == \
            "log_softmax":
        last = g.op("Exp", [last], "probabilities.exp")  # as `nnspec predict`
    out = output_name(plan)
    g.nodes.append(helper.make_node("Identity", [last], [out], name=out))
    batch = "batch"
    graph = helper.make_graph(
        g.nodes, plan.model_name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.INT64 if plan.token_input
                                       else TensorProto.FLOAT,
                                       [batch, *plan.input_shape])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [batch, plan.n_outputs])],
        g.initializers)
    model = helper.make_model(graph, producer_name="nnspec",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(model.ir_version, 8)  # IR 8 goes with opset 17: older runtimes
    model.doc_string = (f"{plan.model_name}, exported by nnspec: input `{INPUT_NAME}` "
                        f"[batch, {', '.join(map(str, plan.input_shape))}] (raw values, "
                        f"scaled inside; token ids for an embedding), output `{out}` "
                        f"[batch, {plan.n_outputs}]")
    onnx.helper.set_model_props(model, {**metadata, **_schema_props(schema)})
    return model


def _scaler_nodes(g: Builder, scaler: Any, shape: tuple[int, ...]) -> str:
    """x' = (x / unit - shift_u) / scale_u (data/scaling.py), each constant shaped as one
    sample so that it broadcasts over the batch."""
    if scaler.kind == "none":
        return INPUT_NAME
    x = INPUT_NAME
    if not np.all(scaler.unit == 1.0):  # columns beyond 2^480: a power of two, exact
        x = g.op("Mul", [x, g.const("scaler.inv_unit", (1.0 / scaler.unit).reshape(shape))],
                 "scaler.unit")
    x = g.op("Sub", [x, g.const("scaler.shift", scaler.shift_u.reshape(shape))],
             "scaler.centred")
    return g.op("Div", [x, g.const("scaler.scale", scaler.scale_u.reshape(shape))], "scaled")


def _schema_props(schema: dict[str, Any]) -> dict[str, str]:
    """The data facts a user of the file needs, as metadata_props (JSON strings)."""
    keys = ("task", "feature_names", "target_names", "classes", "scaler")
    return {f"nnspec.{k}": json.dumps(schema.get(k)) for k in keys}
