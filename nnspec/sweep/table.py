"""sweep.table: trial run folders -> rows (`sweep.csv`, `sweep.json`) and the summary table.

A row is read back from the trial's run folder (manifest, history, metrics), never from what
the worker said: a trial finished by an earlier, interrupted sweep reads the same as one run
now. Status: `completed`, `diverged` (the loss blew up: W109, or a non-finite loss, E411),
`failed` (any other error), `interrupted`, `pending` (not run yet).

A too-high learning rate often wrecks the network in its first epoch (dead ReLUs, saturated
outputs) and then sits at a huge but finite loss, which the run's own rule (W109: the loss
grew 100x above where it had been) cannot see. Within a sweep there is a yardstick: a trial
whose final training loss is FAR (100) times the best trial's is marked `diverged` too, and
its `error` column says why.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from nnspec.sweep.spec import Sweep, Trial, short_names

MAX_MODES = ("accuracy", "precision", "recall", "f1", "r2")
FAR = 100.0


def mode_of(metric: str) -> str:
    """min or max: which way is better (as early_stop's `mode=auto`)."""
    base = metric.removeprefix("val_").removeprefix("test_")
    return "max" if base in MAX_MODES else "min"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def history_of(run_dir: Path) -> list[dict[str, Any]]:
    """The run's rows (history.json, or the history.csv log when that is all there is)."""
    rows = _read_json(run_dir / "history.json")
    if isinstance(rows, list):
        return rows
    try:
        text = (run_dir / "history.csv").read_text(encoding="utf-8")
    except OSError:
        return []
    text = text[:text.rfind("\n") + 1]  # a line still being written (a live run) is left out
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for k, v in r.items():
            try:
                row[k] = float(v) if v not in ("", None) else None
            except ValueError:
                row[k] = v
        out.append(row)
    return out


def _num(v: Any) -> float:
    try:
        return float("nan") if v is None else float(v)
    except (TypeError, ValueError):
        return float("nan")


def status_of(manifest: dict[str, Any] | None) -> str:
    if not manifest:
        return "pending"
    status = manifest.get("status", "pending")
    codes = {d.get("code") for d in manifest.get("diagnostics") or [] if isinstance(d, dict)}
    if status == "completed":
        return "diverged" if "W109" in codes else "completed"
    if status == "failed":
        return "diverged" if "E411" in codes else "failed"
    if status in ("running", "finishing"):
        return "interrupted"
    return str(status)


def row_of(trial: Trial, sweep_dir: Path, metric: str) -> dict[str, Any]:
    """One row of sweep.csv for a trial, from its run folder."""
    run_dir = sweep_dir / trial.name
    manifest = _read_json(run_dir / "manifest.json")
    history = history_of(run_dir) if manifest else []
    status = status_of(manifest)
    row: dict[str, Any] = {"trial": trial.index, "name": trial.name, "point": trial.point,
                           **trial.settings, "seed": trial.seed, "status": status,
                           "epochs": len(history)}
    manifest = manifest or {}
    row["time_s"] = manifest.get("elapsed_s")
    row["best_epoch"] = manifest.get("best_epoch")
    if history:
        last = history[-1]
        for key in last:
            if key not in ("epoch", "time", "lr"):
                row[f"final_{key}"] = _num(last[key])
        values = [_num(r.get(metric)) for r in history]
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            best = max(finite) if mode_of(metric) == "max" else min(finite)
            row[f"best_{metric}"] = best
            row["best_epoch"] = row["best_epoch"] or values.index(best) + 1
    metrics = _read_json(run_dir / "metrics.json")
    if isinstance(metrics, dict):
        for split, values in metrics.items():
            if isinstance(values, dict):
                for k, v in values.items():
                    row[f"{split}_{k}" if split != "train" else f"train_{k}"] = _num(v)
    errors = [d for d in manifest.get("diagnostics") or [] if isinstance(d, dict)
              and str(d.get("code", "")).startswith("E")]
    row["error"] = f"{errors[0].get('code')}: {errors[0].get('message')}" if errors else ""
    return row


def train_loss(row: dict[str, Any]) -> float:
    return _num(row.get("final_train_loss", row.get("final_loss")))


def mark_far(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Completed trials whose final training loss is FAR times the best one's: diverged."""
    losses = [train_loss(r) for r in rows if r["status"] == "completed"]
    finite = [v for v in losses if math.isfinite(v) and v > 0]
    if not finite:
        return rows
    best = min(finite)
    out = []
    for r in rows:
        v = train_loss(r)
        if r["status"] == "completed" and (not math.isfinite(v) or v >= FAR * best):
            r = {**r, "status": "diverged",
                 "error": f"final training loss {v:.4g} is {FAR:g}x or more the best trial's "
                 f"({best:.4g})" if math.isfinite(v) else "the final training loss is not "
                 "finite"}
        out.append(r)
    return out


def score(row: dict[str, Any], metric: str) -> float:
    """The row's value of the ranking metric: the final epoch's (NaN when missing)."""
    return _num(row.get(f"final_{metric}"))


def ranked(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Best first; diverged, failed and unfinished trials last."""
    sign = -1.0 if mode_of(metric) == "max" else 1.0

    def key(r: dict[str, Any]) -> tuple:
        v = score(r, metric)
        ok = r["status"] == "completed" and math.isfinite(v)
        return (not ok, sign * v if ok else 0.0, r["trial"])

    return sorted(rows, key=key)


def columns(rows: list[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    return list(keys)


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return out.getvalue()


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return "" if v is None else str(v)


def summary(rows: list[dict[str, Any]], sweep: Sweep, metric: str) -> str:
    """The table printed at the end (and saved as summary.txt), best first by `metric`."""
    paths = [p for p in sweep.paths() if len({r.get(p) for r in rows}) > 1]
    names = short_names(paths)
    cols = [("#", "trial"), *[(names[p], p) for p in paths]]
    if sweep.seeds > 1:
        cols.append(("seed", "seed"))
    cols += [("status", "status"), ("epochs run", "epochs"), (metric, f"final_{metric}"),
             (f"best {metric}", f"best_{metric}"), ("time s", "time_s")]
    table = [[h for h, _ in cols]]
    for r in ranked(rows, metric):
        table.append([_cell(r.get(k)) for _, k in cols])
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in table]
    better = "higher" if mode_of(metric) == "max" else "lower"
    return "\n".join([f"trials ranked by the final {metric} ({better} is better):", *lines])
