"""run.rundir: a run's facts and RunResult -> the files of its run directory.

Layout (every file written atomically, see run/atomic.py):

    spec.nn         the resolved spec (overrides applied, file paths relative to this folder)
    manifest.json   versions, device, seed, spec and data hashes, times, status, epochs
    data.json       how the data was read and scaled (features, classes, scaler) for predict
    history.csv     one row per epoch: epoch, loss, lr, metrics, val_loss, val_metrics, time
    history.json    the same rows as a JSON list
    metrics.json    final {"train"|"val"|"test": {"loss", <metric>...}} with the final weights
    weights.npz     final weights (the best epoch's with restore_best), keys layers.<i>.<name>
    curves.png      loss and metrics per epoch, train vs val, the kept epoch marked
    checkpoint/     the last training state, for `nnspec run --resume`

`manifest.json` is written first with status `running`, then `completed`, `interrupted` or
`failed` at the end; history and the checkpoint are refreshed at every checkpoint, so a run
killed outright still leaves its progress up to the last checkpoint.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.diagnostics import DiagnosticError, error
from nnspec.run import artifacts, checkpoint
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

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """The training state + the history so far (called by the loop's on_checkpoint)."""
        tag = f"e{int(state['epoch']):05d}-b{int(state['batch']):06d}"
        checkpoint.save(self.path / CHECKPOINT_DIR, state, tag)
        if "history" in self.wanted:
            artifacts.write_history(self.path, state["history"])

    def load_checkpoint(self) -> dict[str, Any]:
        return checkpoint.load(self.path / CHECKPOINT_DIR)

    def write_weights(self, arrays: dict[str, np.ndarray]) -> None:
        write_npz(self.path / "weights.npz", arrays)

    def write_results(self, result: RunResult, title: str = "") -> None:
        """history, metrics and curves, each only when selected in `output.artifacts`."""
        if "history" in self.wanted:
            artifacts.write_history(self.path, result.history)
        if "metrics" in self.wanted and result.metrics:
            artifacts.write_metrics(self.path, result.metrics)
        if "curves" in self.wanted and result.history:
            marked = result.restored_epoch or result.best_epoch
            artifacts.write_curves(self.path, result.history, marked, title)
