"""run.specdiff: two checked specs -> the fields a resume may not change, with both values.

A run folder keeps the checked spec it started with, as data (`comparable`: the IR as JSON,
which has no comments, layout or positions), in its manifest (`spec.checked`). `--resume`
checks spec.nn again and compares: anything but `train.epochs`, `train.device` and the
`output` block that differs is refused (E508), one note per changed field, e.g.
`model.layers[0].units: 8 -> 32`, `train.optimizer.lr: 0.01 -> 0.5`. Without this a changed
layer width ended in "this is a bug in nnspec", and a changed learning rate resumed silently.
"""

from __future__ import annotations

import json
from typing import Any

from nnspec import ir

# What a resume may change: how long to train, where it runs, what it writes.
FREE = ("train.epochs", "train.device", "output")


def comparable(spec: ir.Spec) -> dict[str, Any]:
    """The checked spec as plain JSON data (positions and the file path left out)."""
    data = json.loads(json.dumps(spec.model_dump(mode="json")))
    assert isinstance(data, dict)
    return data


def restore(data: dict[str, Any]) -> ir.Spec:
    """The Spec back from `comparable` data (to rewrite a missing spec.nn)."""
    return ir.Spec.model_validate(data)


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "kind" in value:
        opts = ", ".join(f"{k}={_shown(v)}" for k, v in value.items() if k != "kind")
        return f"{value['kind']}({opts})"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "))
    return repr(value)


def changes(before: Any, after: Any, path: str = "") -> list[str]:
    """`path: old -> new` for each field that differs (a resume's free fields left out).
    Elements of a different kind are one change, not one per option."""
    if path in FREE:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        if "kind" in before and before.get("kind") != after.get("kind"):
            return [f"{path}: {_shown(before)} -> {_shown(after)}"]
        out: list[str] = []
        for key in [*before, *(k for k in after if k not in before)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in after:
                out.append(f"{sub}: {_shown(before[key])} -> (absent)")
            elif key not in before:
                out.append(f"{sub}: (absent) -> {_shown(after[key])}")
            else:
                out += changes(before[key], after[key], sub)
        return out
    if isinstance(before, list) and isinstance(after, list):
        out = []
        if len(before) != len(after):
            out.append(f"{path}: {len(before)} items -> {len(after)} items")
        for i, (a, b) in enumerate(zip(before, after, strict=False)):
            out += changes(a, b, f"{path}[{i}]")
        return out
    if before != after or type(before) is not type(after) and not _same_number(before, after):
        return [f"{path}: {_shown(before)} -> {_shown(after)}"]
    return []


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
        and not isinstance(b, bool) and a == b
