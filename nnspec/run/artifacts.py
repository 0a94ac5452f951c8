"""run.artifacts: history rows, final metrics, run facts -> history.csv/json, metrics.json,
manifest.json, curves.png (all written atomically, see run/atomic.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.run.atomic import write_bytes, write_json, write_text
from nnspec.run.history import columns, to_csv, to_json

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
    # A bare Figure (Agg, PNG) rather than pyplot: no backend switch in the caller's process,
    # no global figure registry, and ~40 ms less to import. Imported here, when the curves
    # are drawn (once, at the end), so nothing else pays for matplotlib.
    from matplotlib.figure import Figure

    names = [k for k in columns(rows)
             if k not in ("epoch", "time", "lr") and not k.startswith(("val_", "test_"))]
    for key in columns(rows):  # a val-only quantity still gets a panel
        base = key.split("_", 1)[1] if key.startswith(("val_", "test_")) else None
        if base and base not in names:
            names.append(base)
    epochs = [r["epoch"] for r in rows]
    fig = Figure(figsize=(4.2 * len(names), 3.4))
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for prefix, label in (("", "train"), ("val_", "val"), ("test_", "test")):
            ys = [_num(r.get(prefix + name)) for r in rows]
            if any(np.isfinite(y) for y in ys):
                ax.plot(epochs, ys, label=label, marker="." if len(rows) < 30 else None)
        if marked_epoch is not None:
            ax.axvline(marked_epoch, color="grey", linestyle="--", linewidth=1,
                       label=f"best epoch {marked_epoch}")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return write_bytes(folder / "curves.png", buf.getvalue())


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)
