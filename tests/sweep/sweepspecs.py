"""Tiny sweep specs for tests/sweep (a plain module: tests import it by a unique name)."""

from __future__ import annotations

from pathlib import Path

BASE = """\
model tiny {
    input 2
    dense 6 relu
    dense 1 sigmoid
}
data {
    source moons(samples=120, noise=0.2)
    split validation=0.25
}
train {
    loss binary_crossentropy
    optimizer sgd(lr=0.1)
    epochs EPOCHS
    batch 16
    metrics accuracy
    seed 3
}
"""


def write(folder: Path, sweep: str, *, epochs: int = 4, name: str = "tiny.nn") -> Path:
    path = folder / name
    path.write_text(BASE.replace("EPOCHS", str(epochs)) + sweep, encoding="utf-8")
    return path
