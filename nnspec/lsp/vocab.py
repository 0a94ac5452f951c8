"""lsp.vocab: op registry + IR fields -> what may be written where, with its documentation.

Nothing here is stated twice: the statements of each block, their syntax and one-line docs
come from the checker's table (`nnspec.check.statements.BLOCKS`), which positional values an op
takes from the checker too (`nnspec.check.options.positional`), longer statement docs and
defaults from the IR's `Field(description=...)` (`nnspec/ir.py`), op and option docs from the op
registry (`nnspec/ops/*.py`: docstrings, fields, defaults, ranges). This module only adds what
kind of value goes in each place (a registry family, a fixed word, a number), so that
completion and hover can offer the right names in the right places.
"""

from __future__ import annotations

import inspect
import types as pytypes
import typing
from dataclasses import dataclass, field

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from nnspec import ir
from nnspec.check.options import positional as positional_options
from nnspec.check.statements import BLOCKS
from nnspec.ops import (
    ACTIVATIONS,
    INITIALIZERS,
    LAYERS,
    LOSSES,
    METRICS,
    OPTIMIZERS,
    SCHEDULES,
    SOURCES,
)
from nnspec.ops.base import Op
from nnspec.ops.optimizers import Clip
from nnspec.sweep.spec import Sweep

FAMILIES: dict[str, dict[str, type[Op]]] = {
    "activation": ACTIVATIONS,
    "initializer": INITIALIZERS,
    "layer": LAYERS,
    "loss": LOSSES,
    "metric": METRICS,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "source": SOURCES,
}

_BLOCK_NODES: dict[str, type[BaseModel]] = {
    "model": ir.Model, "data": ir.Data, "train": ir.Train, "output": ir.Output, "sweep": Sweep,
}
BLOCK_DOCS: dict[str, str] = {b: _BLOCK_NODES[b].__doc__ or "" if b in _BLOCK_NODES else ""
                              for b in BLOCKS}

# A value slot is either a registry family (a key of FAMILIES) or a tuple of literal words.
Slot = str | tuple[str, ...]
BOOLS = ("true", "false")
# Fields of an options class that are written positionally or are internal, never `key=`.
_NOT_OPTIONS = {"span", "kind"}


@dataclass(frozen=True)
class Statement:
    """One statement keyword of a block."""

    name: str
    doc: str
    default: str | None = None
    syntax: str = ""
    # Value slots of the positional arguments, in order; the last one repeats when `repeat`.
    positional: tuple[Slot, ...] = ()
    repeat: bool = False
    # The class whose fields are the statement's `key=value` options (or its call options).
    options: type[BaseModel] | None = None
    skip_options: frozenset[str] = field(default_factory=frozenset)
    # Options whose name in the language differs from the IR field (`checkpoint every=`).
    renamed: tuple[tuple[str, str], ...] = ()


def statement(block: str | None, keyword: str | None) -> Statement | None:
    if block is None or keyword is None:
        return None
    return STATEMENTS.get(block, {}).get(keyword)


def positional_slot(stmt: Statement, index: int) -> Slot | None:
    if index < len(stmt.positional):
        return stmt.positional[index]
    if stmt.repeat and stmt.positional:
        return stmt.positional[-1]
    return None


# ---------------------------------------------------------------------------------------------
# Options of a class (an op or an IR node): names, slots, documentation.


def options(cls: type[BaseModel] | None, stmt: Statement | None = None) -> dict[str, str]:
    """The `key=` names a user may write for `cls`, mapped to the field name behind each."""
    if cls is None:
        return {}
    skip = set(_NOT_OPTIONS) | set(getattr(cls, "nested", ()))  # filled from a `{ }` body
    renamed: dict[str, str] = {}
    if stmt is not None and stmt.options is cls:
        skip |= stmt.skip_options
        renamed = dict(stmt.renamed)
    out = {}
    for name, info in cls.model_fields.items():
        if name in skip:
            continue
        out[info.alias or name] = name
    for written, name in renamed.items():
        out.pop(name, None)
        out[written] = name
    return out


def families_of(annotation: typing.Any) -> list[str]:
    """Registry families named by a field's type (`AnyInitializer | None` -> ['initializer'])."""
    found: list[str] = []
    if inspect.isclass(annotation) and issubclass(annotation, Op):
        fam = getattr(annotation, "family", "op")
        return [fam] if fam in FAMILIES else []
    for arg in typing.get_args(annotation):
        for fam in families_of(arg):
            if fam not in found:
                found.append(fam)
    return found


def value_slot(cls: type[BaseModel] | None, key: str, stmt: Statement | None = None) -> Slot:
    """What may follow `key=` in an options list of `cls`."""
    name = options(cls, stmt).get(key)
    if cls is None or name is None:
        return ()
    info = cls.model_fields[name]
    fams = families_of(info.annotation)
    if fams:
        return fams[0]
    if cls is ir.EarlyStop and name == "monitor":
        return ("loss", "val_loss") + tuple(METRICS) + tuple(f"val_{m}" for m in METRICS)
    return _literal_words(info.annotation)


def _literal_words(annotation: typing.Any) -> tuple[str, ...]:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return BOOLS
    if origin is typing.Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    words: list[str] = []
    for arg in typing.get_args(annotation):
        if arg is type(None):
            continue
        words += [w for w in _literal_words(arg) if w not in words]
    return tuple(words)


def slot_names(slot: Slot | None) -> dict[str, str]:
    """The words a slot accepts, each with a one-line summary."""
    if slot is None or slot == "":
        return {}
    if isinstance(slot, tuple):
        return {w: "" for w in slot}
    return {name: first_line(cls.__doc__) for name, cls in FAMILIES[slot].items()}


def call_positional(cls: type[BaseModel] | None) -> tuple[str, ...]:
    """The fields an op takes without `key=`, in order (as the checker matches them)."""
    if cls is None or not issubclass(cls, Op):
        return ()
    try:
        return tuple(positional_options(cls))
    except Exception:  # an IR node without a `kind`
        return ()


def op_for(slot: Slot | None, name: str) -> type[Op] | None:
    if isinstance(slot, str) and slot in FAMILIES:
        return FAMILIES[slot].get(name)
    return None


# ---------------------------------------------------------------------------------------------
# Documentation text (Markdown).


def first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").split("\n\n")[0].replace("\n", " ")


def type_text(annotation: typing.Any) -> str:
    fams = families_of(annotation)
    if fams:
        text = " | ".join(fams)
        return text + " | none" if type(None) in typing.get_args(annotation) else text
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, pytypes.UnionType):
        return " | ".join(type_text(a) for a in typing.get_args(annotation))
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {type_text(args[0])}"
        return "(" + ", ".join(type_text(a) for a in args) + ")"
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def default_text(info: FieldInfo) -> str | None:
    """The default as a user would write it; None when the field is required."""
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return None
    else:
        value = info.default
    return value_text(value)


def value_text(value: typing.Any) -> str:
    if isinstance(value, Op) and "kind" in type(value).model_fields:
        return str(value.kind)  # type: ignore[attr-defined]
    if isinstance(value, BaseModel):
        return "(defaults)"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(value_text(v) for v in value) if value else "none"
    return str(value)


_BOUNDS = ((at.Gt, "gt", ">"), (at.Ge, "ge", ">="), (at.Lt, "lt", "<"), (at.Le, "le", "<="))


def range_text(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for kind, attr, sym in _BOUNDS:
            if isinstance(meta, kind):
                parts.append(f"{sym} {getattr(meta, attr)}")
    return ", ".join(parts)


def option_doc(cls: type[BaseModel], name: str, written: str | None = None) -> str:
    """`lr` (float, > 0.0, default 0.001): learning rate."""
    info = cls.model_fields[name]
    bits = [type_text(info.annotation)]
    if rng := range_text(info):
        bits.append(rng)
    default = default_text(info)
    bits.append("required" if default is None else f"default {default}")
    return f"`{written or info.alias or name}` ({', '.join(bits)}): {info.description or ''}"


def op_summary(cls: type[BaseModel]) -> str:
    return inspect.cleandoc(cls.__doc__ or "")


def op_doc(cls: type[Op]) -> str:
    """Markdown for an op: name and family, formula docstring, options."""
    kind = cls.model_fields["kind"].default
    out = [f"**{kind}** ({cls.family})", "", "```text", op_summary(cls), "```"]
    opts = options(cls)
    if opts:
        out += ["", "Options:"] + [f"- {option_doc(cls, f, w)}" for w, f in opts.items()]
    return "\n".join(out)


def statement_doc(block: str, stmt: Statement) -> str:
    syntax = ["", f"`{stmt.syntax}`"] if stmt.syntax else []
    if block == "model" and stmt.name in LAYERS:
        head, _, rest = op_doc(LAYERS[stmt.name]).partition("\n")
        return "\n".join([head, *syntax, rest])
    out = [f"**{stmt.name}** (`{block}` statement)", *syntax, "", stmt.doc]
    if stmt.default is not None:
        out += ["", f"Default: `{stmt.default}`"]
    if stmt.options is not None:
        opts = options(stmt.options, stmt)
        if opts:
            out += ["", "Options:"]
            out += [f"- {option_doc(stmt.options, f, w)}" for w, f in opts.items()]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# The statement table: the checker's list, plus the IR field behind each statement and what
# kind of value goes where.

# keyword -> (IR node, field) whose description and default document the statement.
_IR_FIELDS: dict[str, dict[str, tuple[type[BaseModel], str]]] = {
    "model": {"input": (ir.Model, "input"), "init": (ir.Model, "init_from")},
    "data": {"source": (ir.Data, "source"), "standardize": (ir.Data, "scale"),
             "normalize": (ir.Data, "scale"), "validation": (ir.Data, "validation"),
             "test": (ir.Data, "test")},
    "train": {name: (ir.Train, name) for name in ir.Train.model_fields},
    "output": {"dir": (ir.Output, "dir"), "checkpoint": (ir.Output, "checkpoint_every"),
               "artifacts": (ir.Output, "artifacts"),
               "trajectory": (ir.Output, "trajectory_every")},
}


def _literals(cls: type[BaseModel], name: str) -> tuple[str, ...]:
    return _literal_words(cls.model_fields[name].annotation)


def _artifacts() -> tuple[str, ...]:
    return typing.get_args(ir.Artifact)


# keyword -> the values it takes (Statement fields other than name/doc/default/syntax).
_VALUES: dict[str, dict[str, dict[str, typing.Any]]] = {
    "model": {"input": {"positional": ("",)}, "init": {"positional": (("from",), "")}},
    "data": {
        "source": {"positional": ("source",)},
        "split": {"options": ir.Split},
        "validation": {"positional": ("source",)},
        "test": {"positional": ("source",)},
    },
    "train": {
        "loss": {"positional": ("loss",)},
        "optimizer": {"positional": ("optimizer",)},
        "schedule": {"positional": ("schedule", ("then",), "schedule")},
        "clip": {"options": Clip},
        "epochs": {"positional": ("",)},
        "batch": {"positional": (("full",),)},
        "shuffle": {"positional": (BOOLS,)},
        "drop_last": {"positional": (BOOLS,)},
        "dtype": {"positional": (_literals(ir.Train, "dtype"),)},
        "seed": {"positional": ("",)},
        "device": {"positional": (_literals(ir.Train, "device"),)},
        "early_stop": {"options": ir.EarlyStop},
        "metrics": {"positional": ("metric",), "repeat": True},
    },
    "output": {
        "dir": {"positional": ("",)},
        "checkpoint": {"options": ir.Output, "renamed": (("every", "checkpoint_every"),
                                                         ("seconds", "checkpoint_seconds")),
                       "skip_options": frozenset(set(ir.Output.model_fields)
                                                 - {"checkpoint_every", "checkpoint_seconds"})},
        "artifacts": {"positional": (_artifacts(),), "repeat": True},
        "trajectory": {"options": ir.Output, "renamed": (("every", "trajectory_every"),),
                       "skip_options": frozenset(set(ir.Output.model_fields)
                                                 - {"trajectory_every"})},
    },
    # `grid PATH = [...]`, `random PATH = DIST`: a setting's path, any value
    "sweep": {"grid": {"positional": ("",)}, "random": {"positional": ("",)},
              "trials": {"positional": ("",)}, "seeds": {"positional": ("",)},
              "parallel": {"positional": ("",)}, "metric": {"positional": ("",)}},
}


def field_slot(cls: type[BaseModel], name: str) -> Slot:
    """What kind of value field `name` of `cls` takes: a family, fixed words, or "" (any)."""
    info = cls.model_fields[name]
    fams = families_of(info.annotation)
    return fams[0] if fams else (_literal_words(info.annotation) or "")


def _layer_values(kind: str) -> dict[str, typing.Any]:
    cls = LAYERS[kind]
    return {"positional": tuple(field_slot(cls, f) for f in positional_options(cls)),
            "options": cls}


def _statement(block: str, keyword: str, syntax: str, short: str) -> Statement:
    values = _layer_values(keyword) if block == "model" and keyword in LAYERS else \
        _VALUES.get(block, {}).get(keyword, {})
    text, default = short, None
    if keyword in LAYERS and block == "model":
        text = op_summary(LAYERS[keyword])
    elif (where := _IR_FIELDS.get(block, {}).get(keyword)) is not None:
        info = where[0].model_fields[where[1]]
        default = default_text(info)
        text = _merge(short, info.description or "")
    elif values.get("options") is not None:
        text = _merge(short, first_line(values["options"].__doc__))
    return Statement(keyword, text, default, syntax, **values)


def _merge(short: str, long: str) -> str:
    """The checker's one-liner and the IR's description, without saying the same twice."""
    a, b = short.rstrip(". "), long.rstrip(". ")
    if not b or b.lower() in a.lower():
        return short
    if a.lower() in b.lower():
        return long
    return f"{short}; {long}"


STATEMENTS: dict[str, dict[str, Statement]] = {
    block: {sd.keyword: _statement(block, sd.keyword, sd.syntax, sd.doc) for sd in docs}
    for block, docs in BLOCKS.items()
}
