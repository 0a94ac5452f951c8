"""unparse: ir.Spec -> `.nn` text with every default written out.

What `nnspec run` saves as `spec.nn`: the spec exactly as it was understood, so that a run can
be reproduced even if a later version changes a default. `check(parse(unparse(s)))` gives
back an IR equal to `s` (compare `model_dump()`; tests/check/test_unparse.py).

Forms: an op with options is always written as a call with all of them
(`relu`, `leaky_relu(alpha=0.01)`); free text (paths, column names) is always quoted;
values of a fixed set of words (`float32`, `auto`) are bare names.
"""

from __future__ import annotations

from typing import Any, Literal, get_origin

from nnspec import ir
from nnspec.ops.base import Op
from nnspec.ops.layers import Add, Composite, Concat, Dense, Head

INDENT = "    "
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quote(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _is_word(annotation: Any) -> bool:
    """A Literal-typed field: its strings are written as bare names."""
    stack = [annotation]
    while stack:
        tp = stack.pop()
        if get_origin(tp) is Literal:
            return True
        stack.extend(getattr(tp, "__args__", ()) or ())
    return False


def value(v: Any, word: bool = False) -> str:
    if isinstance(v, Op):
        return op(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return v if word and v.isidentifier() else quote(v)
    if isinstance(v, tuple):
        return "[" + ", ".join(value(x, word) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as .nn text")


def options(o: Op, skip: tuple[str, ...] = ()) -> list[str]:
    """`key=value` for every option that has a value (None means "not given")."""
    out = []
    for name, field in type(o).model_fields.items():
        if name in ("span", "kind", *skip):
            continue
        v = getattr(o, name)
        if v is None:
            continue
        word = _is_word(field.annotation) or name == "monitor"
        out.append(f"{field.alias or name}={value(v, word)}")
    return out


def op(o: Op) -> str:
    """`relu`, `adam(lr=0.001, betas=[0.9, 0.999], ...)`."""
    opts = options(o)
    return f"{o.kind}({', '.join(opts)})" if opts else o.kind  # type: ignore[attr-defined]


def layer_lines(lay: Op) -> list[str]:
    """A layer statement as lines; a branch, merge or head with its body, indented."""
    if isinstance(lay, Composite):
        if isinstance(lay, Head):
            header = f"head {lay.name} weight={value(float(lay.weight))}"
        else:
            header = lay.kind  # type: ignore[attr-defined]
        if isinstance(lay, (Concat, Add)):
            inner = []
            for b in lay.branches:
                body = [line for x in b.layers for line in layer_lines(x)]
                inner += ["branch {}"] if not body else [
                    "branch {", *(INDENT + line for line in body), "}"]
        else:
            inner = [line for x in lay.parts()[0][1] for line in layer_lines(x)]
        return [f"{header} {{", *(INDENT + line for line in inner), "}"]
    return [layer(lay)]


def layer(lay: Op) -> str:
    if isinstance(lay, Dense):
        rest = " ".join(options(lay, skip=("units", "activation")))
        return f"dense {lay.units} {op(lay.activation)} {rest}"
    if lay.kind == "dropout":  # type: ignore[attr-defined]
        return f"dropout {value(lay.rate)}"  # type: ignore[attr-defined]
    if lay.kind == "activation":  # type: ignore[attr-defined]
        return f"activation {op(lay.activation)}"  # type: ignore[attr-defined]
    return " ".join([lay.kind, *options(lay)])  # type: ignore[attr-defined]


def _block(header: str, lines: list[str]) -> str:
    return header + " {\n" + "".join(f"{INDENT}{line}\n" for line in lines) + "}\n"


def unparse(spec: ir.Spec) -> str:
    m = spec.model
    model = ["input " + " ".join(str(d) for d in m.input) + (" tokens" if m.tokens else "")]
    if m.init_from is not None:
        model.append(f"init from {quote(m.init_from)}")
    model += [line for lay in m.layers for line in layer_lines(lay)]
    parts = [_block(f"model {m.name}", model)]
    if spec.data is not None:
        parts.append(_block("data", _data(spec.data)))
    parts.append(_block("train", _train(spec.train)))
    parts.append(_block("output", _output(spec.output)))
    return "\n".join(parts)


def _data(d: ir.Data) -> list[str]:
    lines = [f"source {op(d.source)}", "split " + ", ".join(options(d.split))]
    if d.scale != "none":
        lines.append(d.scale)
    for part in ("validation", "test"):
        src = getattr(d, part)
        if src is not None:
            lines.append(f"{part} {op(src)}")
    return lines


def _train(t: ir.Train) -> list[str]:
    schedule = op(t.schedule)
    if t.warmup is not None:
        schedule = f"{op(t.warmup)} then {schedule}"
    lines = [f"loss {op(t.loss)}", f"optimizer {op(t.optimizer)}", f"schedule {schedule}"]
    if t.clip is not None:
        lines.append("clip " + " ".join(options(t.clip)))
    lines += [f"epochs {t.epochs}", f"batch {value(t.batch)}" if t.batch != "full" else
              "batch full", f"shuffle {value(t.shuffle)}", f"drop_last {value(t.drop_last)}",
              f"dtype {t.dtype}", f"seed {t.seed}", f"device {t.device}"]
    if t.early_stop is not None:
        lines.append(f"early_stop({', '.join(options(t.early_stop))})")
    if t.metrics:
        lines.append("metrics " + ", ".join(op(x) for x in t.metrics))
    return lines


def _output(o: ir.Output) -> list[str]:
    lines = [] if o.dir is None else [f"dir {quote(o.dir)}"]
    if o.checkpoint_every == 0:
        lines.append("checkpoint off")
    elif o.checkpoint_every is not None:
        lines.append(f"checkpoint every={o.checkpoint_every}")
    elif o.checkpoint_seconds is not None:
        lines.append(f"checkpoint seconds={value(o.checkpoint_seconds)}")
    # unset: by wall time (ir.CHECKPOINT_SECONDS), which a later default may improve on
    lines.append("artifacts " + ", ".join(o.artifacts))
    if o.trajectory_every is not None:
        lines.append(f"trajectory every={o.trajectory_every}")
    return lines
