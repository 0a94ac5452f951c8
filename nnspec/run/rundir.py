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
    .nnspec.lock    while a run or a resume uses the folder: its flock, holding its pid

`manifest.json` is written first, with status `running`, the format marker that makes the
folder nnspec's (run/claim.py) and the checked spec (run/specdiff.py); then spec.nn, the data
facts, and at the end `finishing` (training over, the final checkpoint written) and
`completed`, `interrupted` or `failed` (docs/runs.md has what `--resume` and a rerun do with
each). While a run uses the folder it holds `.nnspec.lock` (run/lock.py), and every entry is
reached through the folder's descriptor, a link inside refused (run/folder.py).
`history.csv` only grows: each epoch appends its row (run/history.py);
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
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.diagnostics import Diagnostic, DiagnosticError, error
from nnspec.ir import CHECKPOINT_SECONDS
from nnspec.run import checkpoint, claim, history
from nnspec.run.atomic import _cannot_write
from nnspec.run.claim import CHECKPOINT_DIR, FORMAT, default_dir  # noqa: F401 - re-exported
from nnspec.run.folder import Folder
from nnspec.run.lock import RunLock
from nnspec.train.loop import RunResult

ALL_ARTIFACTS = ("weights", "history", "metrics", "curves", "checkpoint")


class RunDir:
    """One run folder, open (entries reached through its descriptor, run/folder.py) and, for
    a run or a resume, locked (run/lock.py); `wanted` is `output.artifacts`."""

    def __init__(self, path: str | os.PathLike[str], artifacts_wanted: tuple[str, ...] = (
            ALL_ARTIFACTS), *, folder: Folder | None = None, lock: RunLock | None = None):
        self.path = Path(path)
        self.folder = folder if folder is not None else Folder.open(self.path, create=True)
        self.lock = lock
        self.wanted = set(artifacts_wanted)
        self.manifest: dict[str, Any] = {}
        self.log: history.HistoryLog | None = None
        self.checkpoints_saved = 0
        self.trajectory: Any = None  # pictures.trajectory.TrajectoryLog, when recording
        self._ckpt: Folder | None = None
        self._json_at, self._json_cost = time.monotonic(), 0.0

    # -- claiming, opening, closing -----------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str] | None, wanted: tuple[str, ...], *,
               model_name: str = "run", overwrite: bool = False) -> RunDir:
        """The folder of a new run (run/claim.py says which folders may be used), locked;
        `path` None: a new runs/<model_name>-<time>."""
        folder, lock, _ = claim.claim_new(None if path is None else Path(path), model_name,
                                          overwrite)
        return cls(folder.path, wanted, folder=folder, lock=lock)

    @classmethod
    def resume(cls, path: str | os.PathLike[str]) -> tuple[RunDir, list[Diagnostic]]:
        """A run folder to continue, locked, with its manifest (and W106 for an old one)."""
        folder, lock, found, warnings = claim.claim_resume(Path(path))
        rd = cls(folder.path, tuple(found.manifest.get("artifacts", ALL_ARTIFACTS)),
                 folder=folder, lock=lock)
        rd.manifest = found.manifest
        return rd, warnings

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """An existing run directory, to read (predict, eval): not locked."""
        p = Path(path)
        try:
            folder = Folder.open(p)
        except FileNotFoundError:
            raise claim.not_a_run(p, "it does not exist") from None
        except OSError as exc:
            raise claim.not_a_run(p, exc.strerror or str(exc)) from None
        try:
            manifest = json.loads(folder.read_text("manifest.json"))
        except FileNotFoundError:
            folder.close()
            raise claim.not_a_run(p, "no manifest.json") from None
        except (OSError, ValueError) as exc:
            folder.close()
            raise DiagnosticError(error("E504", f"cannot read `{p / 'manifest.json'}`: {exc}",
                                        path=str(p))) from exc
        rd = cls(p, tuple(manifest.get("artifacts", ())), folder=folder)
        rd.manifest = manifest
        return rd

    def close(self) -> None:
        """Close the history log and the folder; release the lock."""
        for log in (self.log, self.trajectory):
            if log is not None:
                try:
                    log.close()
                except OSError:
                    pass
        if self._ckpt is not None:
            self._ckpt.close()
            self._ckpt = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        self.folder.close()

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.folder.read_text(name))
        except (OSError, ValueError) as exc:
            raise DiagnosticError(error("E504", f"cannot read `{self.path / name}`: {exc}",
                                        path=str(self.path))) from exc

    def has(self, name: str) -> bool:
        return self.folder.exists(name)

    def read_spec(self) -> str | None:
        """spec.nn's text, or None when it is missing."""
        try:
            return self.folder.read_text("spec.nn")
        except FileNotFoundError:
            return None

    # -- writing ------------------------------------------------------------------------

    def write_manifest(self, **updates: Any) -> None:
        self.manifest.update(updates)
        self.folder.write_json("manifest.json", self.manifest)

    def write_spec(self, text: str) -> None:
        self.folder.write_text("spec.nn", text)

    def write_data_schema(self, schema: dict[str, Any]) -> None:
        self.folder.write_json("data.json", schema)

    # -- history and checkpoints ------------------------------------------------------------

    def _checkpoint_folder(self, create: bool) -> Folder | None:
        if self._ckpt is None:
            self._ckpt = self.folder.sub(CHECKPOINT_DIR, create=create)
        return self._ckpt

    @property
    def history_path(self) -> Path:
        """The appended rows: the `history.csv` artifact, or a copy kept with the checkpoint
        when that artifact is not selected (a resume needs the rows either way)."""
        if "history" in self.wanted:
            return self.path / "history.csv"
        return self.path / CHECKPOINT_DIR / "history.csv"

    def _history_place(self, create: bool) -> Folder | None:
        return self.folder if "history" in self.wanted else self._checkpoint_folder(create)

    def start_history(self, rows: Sequence[dict[str, Any]] = ()) -> None:
        """Open the log holding exactly `rows` (a resume's rows, up to its checkpoint)."""
        if self.log is not None:
            self.log.close()
        self.log = history.HistoryLog("history.csv", rows, folder=self._history_place(True))

    def read_history(self, upto_epoch: int) -> list[dict[str, Any]]:
        """The logged rows up to `upto_epoch` (later ones and a torn last line dropped)."""
        place = self._history_place(False)
        return [] if place is None else history.read("history.csv", upto_epoch, folder=place)

    def append_history(self, row: dict[str, Any]) -> None:
        """Called by the loop as each epoch ends (on_epoch)."""
        if self.log is None:
            self.start_history()
        assert self.log is not None
        try:
            self.log.append(row)
        except OSError as exc:  # a full disk, a folder made read-only: named (E503, E510)
            raise _cannot_write(self.log.path, exc) from exc

    def start_trajectory(self, plan: Any, resume: dict[str, Any] | None) -> Any:
        """`output { trajectory every=N }`: open the trajectory log (pictures/trajectory.py)
        holding the records up to the resumed checkpoint's step, and return its append (the
        loop's on_step); None when the plan records none."""
        if not plan.trajectory_every:
            return None
        from nnspec.pictures.trajectory import TrajectoryLog

        upto = None if resume is None else int(np.asarray(resume["executable"]["step"]))
        try:
            self.trajectory = TrajectoryLog(self.folder, plan.n_params, plan.trajectory_every,
                                            upto)
        except OSError as exc:
            raise _cannot_write(self.path / "trajectory.bin", exc) from exc
        log = self.trajectory

        def append(record: dict[str, Any]) -> None:
            try:
                log.append(record)
            except OSError as exc:
                raise _cannot_write(log.path, exc) from exc

        return append

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """The training state (called by the loop's on_checkpoint); the history log is
        fsynced first, so every row up to the checkpoint's epoch is on disk with it."""
        if "history" in state:  # a state from before the history log: the rows are logged
            state = {k: v for k, v in state.items() if k != "history"}
        if self.log is not None:
            self.log.sync()
        if self.trajectory is not None:
            self.trajectory.sync()
        tag = f"e{int(state['epoch']):05d}-b{int(state['batch']):06d}"
        folder = self._checkpoint_folder(True)
        assert folder is not None
        checkpoint.save(folder, state, tag)
        self.checkpoints_saved += 1
        if "history" in self.wanted and self.log is not None and self._json_due():
            t0 = time.monotonic()
            self.folder.write_text("history.json", history.to_json(self.log.rows))
            self._json_at = time.monotonic()
            self._json_cost = self._json_at - t0

    def _json_due(self) -> bool:
        """history.json is rewritten whole, so at most once per CHECKPOINT_SECONDS and never
        more often than keeps it under 2% of the time (a long history on frequent checkpoints)."""
        waited = time.monotonic() - self._json_at
        return waited >= max(CHECKPOINT_SECONDS, 49.0 * self._json_cost)

    def checkpoint_epoch(self) -> int | None:
        """The epoch of the checkpoint on disk (state.json naming an arrays file that is
        there), None when there is none or it cannot be read."""
        folder = self._checkpoint_folder(False)
        if folder is None:
            return None
        try:
            meta = json.loads(folder.read_text("state.json"))
            if folder.kind(str(meta["arrays"])) != "file":
                return None
            return int(meta["state"]["epoch"])
        except (OSError, ValueError, KeyError, TypeError, DiagnosticError):
            return None

    def has_checkpoint(self) -> bool:
        folder = self._checkpoint_folder(False)
        return folder is not None and checkpoint.exists(folder)

    def load_checkpoint(self) -> dict[str, Any]:
        folder = self._checkpoint_folder(False)
        if folder is None:
            return checkpoint.load(self.path / CHECKPOINT_DIR)  # the "missing" diagnostic
        return checkpoint.load(folder)

    def clean_temporary(self) -> list[Path]:
        """Remove what an interrupted write left behind: our `.tmp-*` files and checkpoint
        arrays that state.json does not name. Returns what was removed."""
        folder = self._checkpoint_folder(False)
        removed = [] if folder is None else [*checkpoint.prune(folder)]
        for place in (self.folder, folder):
            if place is None:
                continue
            for name in place.names():
                if claim.is_own_temp(name) and place.remove(name):
                    removed.append(place.path / name)
        return removed

    def drop_checkpoint(self) -> None:
        """Remove the checkpoint (kept only for a resume, when the artifact is not wanted)."""
        folder = self._checkpoint_folder(False)
        if folder is None:
            return
        for name in folder.names():
            if claim.is_checkpoint_file(name) or claim.is_own_temp(name):
                folder.remove(name)
        folder.close()
        self._ckpt = None
        self.folder.rmdir(CHECKPOINT_DIR)

    def write_weights(self, arrays: dict[str, np.ndarray]) -> None:
        self.folder.write_npz("weights.npz", arrays)

    def write_results(self, result: RunResult, title: str = "") -> None:
        """history, metrics and curves, each only when selected in `output.artifacts`; the
        history log is closed (and rewritten only if it does not hold the run's rows)."""
        if self.log is None or len(self.log.rows) != len(result.history):
            self.start_history(result.history)
        assert self.log is not None
        self.log.close()
        if "history" in self.wanted:
            self.folder.write_text("history.json", history.to_json(result.history))
        if "metrics" in self.wanted and result.metrics:
            self.folder.write_json("metrics.json", result.metrics)
        if self.trajectory is not None and result.status != "failed":
            self.trajectory.finish()
            self.trajectory = None
        if "curves" in self.wanted and result.history:
            from nnspec.run.curves import png  # Pillow, imported only when curves are drawn

            marked = result.restored_epoch or result.best_epoch
            self.folder.write_bytes("curves.png", png(result.history, marked, title))
