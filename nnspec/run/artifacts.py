"""run.artifacts: history rows, final metrics, run facts -> history.csv/json, metrics.json,
manifest.json, curves.png (all written atomically, see run/atomic.py).
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.run.atomic import write_bytes, write_json, write_text
from nnspec.run.history import columns, to_csv, to_json  # noqa: F401 - columns re-exported

history_csv = to_csv  # the whole history.csv of `rows` (the run appends it row by row)


def write_history(folder: Path, rows: Sequence[dict[str, Any]]) -> None:
    write_text(folder / "history.csv", history_csv(rows))
    write_text(folder / "history.json", to_json(rows))


def write_metrics(folder: Path, metrics: dict[str, dict[str, float]]) -> None:
    write_json(folder / "metrics.json", metrics)


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    import numba

    import nnspec

    return {"nnspec": nnspec.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "platform": sys.platform}


def data_hashes(paths: Iterable[str]) -> dict[str, str]:
    """sha256 of each data file the spec reads (built-in generators have none)."""
    return {p: sha256_file(p) for p in paths if os.path.isfile(p)}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    write_json(folder / "manifest.json", manifest)


def write_curves(folder: Path, rows: Sequence[dict[str, Any]], marked_epoch: int | None,
                 title: str = "") -> Path | None:
    """curves.png: loss and each metric, train vs val (and test when present), one panel per
    quantity; a dashed vertical line at `marked_epoch` (the epoch early stopping kept)."""
    if not rows:
        return None
    from nnspec.run.curves import png  # Pillow, imported only when the curves are drawn

    return write_bytes(folder / "curves.png", png(rows, marked_epoch, title))

