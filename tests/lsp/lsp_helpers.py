"""Shared helpers of the language-server tests."""

from __future__ import annotations

from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.nn"))

FAMILY_NAMES = {
    "activation": set(ACTIVATIONS),
    "initializer": set(INITIALIZERS),
    "layer": set(LAYERS),
    "loss": set(LOSSES),
    "metric": set(METRICS),
    "optimizer": set(OPTIMIZERS),
    "schedule": set(SCHEDULES),
    "source": set(SOURCES),
}
KEYWORDS = {block: {s.keyword for s in docs} for block, docs in BLOCKS.items()}


def cursor(marked: str) -> tuple[str, int]:
    """`text with a | at the cursor` -> (text, code-point offset of the cursor)."""
    assert marked.count("|") == 1, marked
    return marked.replace("|", ""), marked.index("|")
