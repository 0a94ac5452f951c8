"""run.rundir: a run's facts and RunResult -> the files of its run directory.

Layout (every file written atomically, see run/atomic.py, but the appended history.csv):

    spec.nn         the resolved spec (overrides applied, file paths relative to this folder)
    manifest.json   versions, device, seed, spec and data hashes, times, status, epochs
    data.json       how the data was read and scaled (features, classes, scaler) for predict
    history.csv     one row per epoch: epoch, loss, lr, metrics, val_loss, val_metrics, time
                    (appended as each epoch ends; checkpoint/history.csv without `history`)
    history.json    the same rows as a JSON list
    metrics.json    final {"train"|"val"|"test": {"loss", <metric>...}} with the final weights
    weights.npz     final weights (the best epoch's with restore_best), keys layers.<i>.<name>
    curves.png      loss and metrics per epoch, train vs val, the kept epoch marked
    checkpoint/     the last training state, for `nnspec run --resume` (train/cadence.py
                    says when it is written)

`manifest.json` is written first with status `running`, then `completed`, `interrupted` or
`failed` at the end. `history.csv` only grows: each epoch appends its row (run/history.py);
it is fsynced before every checkpoint, and `history.json` is rewritten at checkpoints (at most
once per 30 s, and never taking more than 2% of the time) and at the end. A checkpoint holds
the training state, not the history: a resume rebuilds the rows from the log. So no epoch
costs more than the first, and a run killed outright still leaves its progress up to the last
checkpoint.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.diagnostics import DiagnosticError, error
from nnspec.ir import CHECKPOINT_SECONDS
from nnspec.run import artifacts, checkpoint, history
from nnspec.run.atomic import write_json, write_npz, write_text
from nnspec.train.loop import RunResult

CHECKPOINT_DIR = "checkpoint"


def default_dir(model_name: str, root: str | os.PathLike[str] = "runs") -> Path:
    """runs/<model>-<YYYYmmdd-HHMMSS>, with -2, -3... if that second is taken."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{model_name}-{stamp}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


class RunDir:
    """Writes one run's artifacts; `artifacts` is the spec's `output.artifacts` selection."""

    def __init__(self, path: str | os.PathLike[str], artifacts_wanted: tuple[str, ...] = (
            "weights", "history", "metrics", "curves", "checkpoint")):
        self.path = Path(path)
        self.wanted = set(artifacts_wanted)
        self.manifest: dict[str, Any] = {}
        self.log: history.HistoryLog | None = None
        self._json_at, self._json_cost = time.monotonic(), 0.0

    # -- creation and reading -------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], wanted: tuple[str, ...]) -> RunDir:
        """A new run directory; one holding a previous run is refused (E503)."""
        p = Path(path)
        if (p / "manifest.json").exists():
            raise DiagnosticError(error(
                "E503", f"`{p}` already holds a run", path=str(p),
                hints=[f"continue it with `nnspec run --resume {p}`, or pick another --out"]))
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DiagnosticError(error("E503", f"cannot create `{p}`: {exc.strerror or exc}",
                                        path=str(p))) from exc
        return cls(p, wanted)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """An existing run directory (for resume, predict, eval)."""
        p = Path(path)
        try:
            manifest = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DiagnosticError(error(
                "E504", f"`{p}` is not a run directory (no manifest.json)", path=str(p),
                hints=["pass the folder `nnspec run` printed, e.g. runs/<model>-<time>"],
            )) from None
        except (OSError, ValueError) as exc:
            raise DiagnosticError(error("E504", f"cannot read `{p / 'manifest.json'}`: {exc}",
                                        path=str(p))) from exc
        rd = cls(p, tuple(manifest.get("artifacts", ())))
        rd.manifest = manifest
        return rd

    def read_json(self, name: str) -> Any:
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DiagnosticError(error("E504", f"cannot read `{self.path / name}`: {exc}",
                                        path=str(self.path))) from exc

    # -- writing ------------------------------------------------------------------------

    def write_manifest(self, **updates: Any) -> None:
        self.manifest.update(updates)
        artifacts.write_manifest(self.path, self.manifest)

    def write_spec(self, text: str) -> None:
        write_text(self.path / "spec.nn", text)

    def write_data_schema(self, schema: dict[str, Any]) -> None:
        write_json(self.path / "data.json", schema)

    # -- history and checkpoints ------------------------------------------------------------

    @property
    def history_path(self) -> Path:
        """The appended rows: the `history.csv` artifact, or a copy kept with the checkpoint
        when that artifact is not selected (a resume needs the rows either way)."""
        if "history" in self.wanted:
            return self.path / "history.csv"
        return self.path / CHECKPOINT_DIR / "history.csv"

    def start_history(self, rows: Sequence[dict[str, Any]] = ()) -> None:
        """Open the log holding exactly `rows` (a resume's rows, up to its checkpoint)."""
        self.log = history.HistoryLog(self.history_path, rows)

    def read_history(self, upto_epoch: int) -> list[dict[str, Any]]:
        """The logged rows up to `upto_epoch` (later ones and a torn last line dropped)."""
        return history.read(self.history_path, upto_epoch)

    def append_history(self, row: dict[str, Any]) -> None:
        """Called by the loop as each epoch ends (on_epoch)."""
        if self.log is None:
            self.start_history()
        assert self.log is not None
        self.log.append(row)

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """The training state (called by the loop's on_checkpoint); the history log is
        fsynced first, so every row up to the checkpoint's epoch is on disk with it."""
        if "history" in state:  # a state from before the history log: the rows are logged
            state = {k: v for k, v in state.items() if k != "history"}
        if self.log is not None:
            self.log.sync()
        tag = f"e{int(state['epoch']):05d}-b{int(state['batch']):06d}"
        checkpoint.save(self.path / CHECKPOINT_DIR, state, tag)
        if "history" in self.wanted and self.log is not None and self._json_due():
            t0 = time.monotonic()
            write_text(self.path / "history.json", history.to_json(self.log.rows))
            self._json_at = time.monotonic()
            self._json_cost = self._json_at - t0

    def _json_due(self) -> bool:
        """history.json is rewritten whole, so at most once per CHECKPOINT_SECONDS and never
        more often than keeps it under 2% of the time (a long history on frequent checkpoints)."""
        waited = time.monotonic() - self._json_at
        return waited >= max(CHECKPOINT_SECONDS, 49.0 * self._json_cost)

    def load_checkpoint(self) -> dict[str, Any]:
        return checkpoint.load(self.path / CHECKPOINT_DIR)

    def clean_temporary(self) -> list[Path]:
        """Remove what an interrupted write left behind: `.tmp-*` files (run/atomic.py) and
        checkpoint arrays that state.json no longer names. Returns what was removed."""
        removed = [*checkpoint.prune(self.path / CHECKPOINT_DIR)]
        for folder in (self.path, self.path / CHECKPOINT_DIR):
            for tmp in sorted(folder.glob(".tmp-*")):
                try:
                    tmp.unlink()
                    removed.append(tmp)
                except OSError:
                    pass
        return removed

    def write_weights(self, arrays: dict[str, np.ndarray]) -> None:
        write_npz(self.path / "weights.npz", arrays)

    def write_results(self, result: RunResult, title: str = "") -> None:
        """history, metrics and curves, each only when selected in `output.artifacts`; the
        history log is closed (and rewritten only if it does not hold the run's rows)."""
        if self.log is None or len(self.log.rows) != len(result.history):
            self.start_history(result.history)
        assert self.log is not None
        self.log.close()
        if "history" in self.wanted:
            write_text(self.path / "history.json", history.to_json(result.history))
        elif "checkpoint" not in self.wanted and result.status == "completed":
            # kept for a resume only; a completed run without checkpoints cannot be resumed
            self.log.path.unlink(missing_ok=True)
            _remove_if_empty(self.path / CHECKPOINT_DIR)
        if "metrics" in self.wanted and result.metrics:
            artifacts.write_metrics(self.path, result.metrics)
        if "curves" in self.wanted and result.history:
            marked = result.restored_epoch or result.best_epoch
            artifacts.write_curves(self.path, result.history, marked, title)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
