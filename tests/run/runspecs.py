"""Tiny specs for end-to-end `nnspec run` tests (CPU backend; a few epochs on ~100 samples).

A plain module (not conftest.py) so tests import it by a name no other folder uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TINY = """\
model tiny {{
    input 2
    dense 6 tanh
    dropout 0.1
    dense 1 sigmoid
}}
data {{
    source {source}
    split validation=0.25, test=0.2
    standardize
}}
train {{
    loss binary_crossentropy
    optimizer adam(lr=0.05)
    schedule {schedule}
    epochs {epochs}
    batch 16
    metrics accuracy, f1
    seed 3
    {extra}
}}
"""


def write_spec(folder: Path, name: str = "tiny.nn", *, epochs: int = 4,
               source: str = "moons(samples=120, noise=0.2)", schedule: str = "constant",
               extra: str = "") -> Path:
    path = folder / name
    path.write_text(TINY.format(epochs=epochs, source=source, schedule=schedule, extra=extra))
    return path


def write_csv(path: Path, n: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = np.where(x[:, 0] * x[:, 1] > 0, "yes", "no")
    lines = ["a,b,label"] + [f"{a:.6f},{b:.6f},{c}" for (a, b), c in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path
