"""examples: a spec's `# expect:` comment lines + a run's metrics.json -> broken promises.

A spec promises what its run achieves in header comments such as

    # expect: val_accuracy >= 0.95
    # expect: train_loss <= 0.05

The key is `<split>_<metric>`, read from metrics.json's `{split: {metric: value}}` layout
(splits `train`, `val`, `test`); a bare metric name (`loss`, `r2`) means the training
split, as in the history columns and monitor names (`loss` vs `val_loss`). Operators:
>=, <=, >, <. A line that starts `# expect:` but does not have this form is an error, not
a skipped line, so that a typo can never quietly drop a promise.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

SPLITS = {"train": "train", "val": "val", "test": "test"}
OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_EXPECT = re.compile(r"^\s*#\s*expect\s*:(?P<rest>.*)$")
_CLAUSE = re.compile(r"^\s*(?P<key>[a-z][a-z0-9_]*)\s*(?P<op>>=|<=|>|<)\s*"
                     r"(?P<bound>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


class PromiseError(ValueError):
    """A malformed `# expect:` line, or a key that metrics.json does not have."""


@dataclass(frozen=True)
class Promise:
    key: str
    op: str
    bound: float
    line: int  # 1-based line in the spec

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.bound:g}"


def parse_promises(text: str) -> list[Promise]:
    """Every `# expect:` line of a spec, in order."""
    out = []
    for no, line in enumerate(text.splitlines(), start=1):
        m = _EXPECT.match(line)
        if m is None:
            continue
        clause = _CLAUSE.match(m["rest"])
        if clause is None:
            raise PromiseError(f"line {no}: cannot read promise {m['rest'].strip()!r}; "
                               "expected `# expect: <split>_<metric> <op> <number>` with op "
                               "one of >=, <=, >, <")
        out.append(Promise(clause["key"], clause["op"], float(clause["bound"]), no))
    return out


def flatten(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """metrics.json -> {train_loss: ..., val_accuracy: ..., ...}."""
    return {f"{split}_{name}": float(value)
            for split, values in metrics.items() for name, value in values.items()}


def lookup(metrics: dict[str, dict[str, float]], key: str) -> float:
    split, _, name = key.partition("_")
    if split not in SPLITS or not name:
        split, name = "train", key
    try:
        return float(metrics[SPLITS[split]][name])
    except KeyError:
        known = ", ".join(sorted(flatten(metrics)))
        raise PromiseError(f"`{key}` is not in metrics.json (it has: {known})") from None


def broken(promises: list[Promise], metrics: dict[str, Any]) -> list[str]:
    """One line per promise the metrics do not keep (a NaN keeps none); empty when all hold."""
    out = []
    for p in promises:
        value = lookup(metrics, p.key)
        if not (math.isfinite(value) and OPS[p.op](value, p.bound)):
            out.append(f"line {p.line}: promised {p}, got {p.key} = {value:.6g}")
    return out
