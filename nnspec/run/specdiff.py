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
        return _list_changes(before, after, path)
    if before != after or type(before) is not type(after) and not _same_number(before, after):
        return [f"{path}: {_shown(before)} -> {_shown(after)}"]
    return []


def _list_changes(before: list[Any], after: list[Any], path: str) -> list[str]:
    """Equal leading and trailing items are skipped, so a layer inserted or removed is named
    as such instead of as a change of every layer after it."""
    if len(before) == len(after):
        return [c for i, (a, b) in enumerate(zip(before, after, strict=True))
                for c in changes(a, b, f"{path}[{i}]")]
    short = min(len(before), len(after))
    head = 0
    while head < short and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < short - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    old, new = before[head:len(before) - tail], after[head:len(after) - tail]
    items = "item" if len(before) == 1 else "items"
    out = [f"{path}: {len(before)} {items} -> {len(after)} "
           f"{'item' if len(after) == 1 else 'items'}"]
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        out += changes(a, b, f"{path}[{head + i}]")
    for i in range(len(new), len(old)):
        out.append(f"{path}[{head + i}]: {_shown(old[i])} -> (absent)")
    for i in range(len(old), len(new)):
        out.append(f"{path}[{head + i}]: (absent) -> {_shown(new[i])}")
    return out


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
        and not isinstance(b, bool) and a == b
