"""pictures.trajectory: the parameters after every N optimizer steps -> trajectory.npz.

`output { trajectory every=N }` makes the training loop (train/loop.py) stop its compiled
chunks at every N-th optimizer step and hand the parameters over; nothing is approximated:
record k holds exactly the weights after step k*N. Record 0 is the initial weights (step 0),
and a completed run also records its last step when that is not a multiple of N.

While the run trains the records are appended to `trajectory.bin` in the run folder (one
write per record, fsynced before every checkpoint, as history.csv is): a header of 4 float64
[MAGIC, VERSION, width, every], then records of `width` = 4 + P float64 values
[step, epoch, batch, loss, params...]. A kill leaves at most a torn last record, which is
dropped. A resume keeps the records up to its checkpoint's step and appends from there, so a
resumed run's trajectory is the one an uninterrupted run records, bit for bit. When the run
ends (completed or interrupted) the records become `trajectory.npz`:

    step    int64 (n,)     optimizer steps taken (0: the initial weights)
    epoch   int64 (n,)     the epoch (1-based) the step belongs to; 0 for the initial weights
    batch   int64 (n,)     batches done in that epoch after the step
    loss    float64 (n,)   the mean training batch loss of the steps since the previous record,
                           each measured before its update (every=1: that step's batch loss);
                           NaN for the initial weights
    params  float64 (n, P) the flat parameter vector (lower/plan.py's layout), exact copies of
                           the run's dtype
    every   int64 ()       N

and trajectory.bin is removed. The npz is built in memory: E435 (check/output.py) keeps the
recorded values per step small.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nnspec.run.folder import Folder

LOG, NPZ = "trajectory.bin", "trajectory.npz"
MAGIC, VERSION = 1.5e12 + 15.0, 1.0  # arbitrary floats that no record starts with
HEAD = 4  # step, epoch, batch, loss before the parameters
KEYS = ("step", "epoch", "batch", "loss", "params")


def _header(width: int, every: int) -> bytes:
    return np.array([MAGIC, VERSION, width, every], dtype=np.float64).tobytes()


def parse_log(data: bytes) -> tuple[np.ndarray, int] | None:
    """(records (n, width) float64, every) of a trajectory.bin's bytes; None when it is not
    one. A torn last record is dropped."""
    if len(data) < 32:
        return None
    magic, version, width, every = np.frombuffer(data[:32], dtype=np.float64)
    if magic != MAGIC or version != VERSION or width < HEAD + 1 or width != int(width):
        return None
    body = np.frombuffer(data[32:], dtype=np.float64)
    n = body.size // int(width)
    return body[: n * int(width)].reshape(n, int(width)), int(every)


def as_arrays(records: np.ndarray, every: int) -> dict[str, np.ndarray]:
    return {"step": records[:, 0].astype(np.int64), "epoch": records[:, 1].astype(np.int64),
            "batch": records[:, 2].astype(np.int64), "loss": records[:, 3].copy(),
            "params": records[:, HEAD:].copy(), "every": np.array(every, dtype=np.int64)}


def as_records(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    cols = [np.asarray(arrays[k], dtype=np.float64).reshape(len(arrays["step"]), -1)
            for k in KEYS]
    return np.concatenate(cols, axis=1)


def read_npz(source: str | os.PathLike[str] | BinaryIO) -> dict[str, np.ndarray]:
    with np.load(source, allow_pickle=False) as npz:
        missing = [k for k in (*KEYS, "every") if k not in npz.files]
        if missing:
            raise ValueError(f"it lacks {', '.join(missing)}")
        return {k: np.asarray(npz[k]) for k in npz.files}


def read(folder: Folder) -> dict[str, np.ndarray] | None:
    """The trajectory of a run folder: trajectory.npz, or the log of a run that has not
    ended; None when it has neither. Raises ValueError for a damaged file."""
    if folder.exists(NPZ):
        with folder.open_read(NPZ) as f:
            return read_npz(io.BytesIO(f.read()))
    if folder.exists(LOG):
        parsed = parse_log(folder.read_bytes(LOG))
        if parsed is None:
            raise ValueError(f"{LOG} is not a trajectory log")
        return as_arrays(*parsed)
    return None


class TrajectoryLog:
    """The appended records of one run (see the module docstring)."""

    def __init__(self, folder: Folder, n_params: int, every: int,
                 upto_step: int | None = None):
        """Open the log holding the folder's records with step <= upto_step (None: none, a
        run starting from step 0)."""
        self.folder, self.every = folder, every
        self.width = HEAD + n_params
        self.path = Path(folder.path) / LOG
        kept = np.zeros((0, self.width))
        if upto_step is not None:
            try:
                old = read(folder)
            except (OSError, ValueError):
                old = None
            if old is not None and old["params"].shape[1] == n_params:
                records = as_records(old)
                kept = records[records[:, 0] <= upto_step]
        folder.write_bytes(LOG, _header(self.width, every) + kept.tobytes())
        folder.remove(NPZ)  # the log is the trajectory until the run ends
        self.last_step = int(kept[-1, 0]) if len(kept) else -1
        self._file: Any = folder.open_append(LOG).detach()

    def append(self, record: Mapping[str, Any]) -> None:
        """One record: {"step", "epoch", "batch", "loss", "params"} (train/loop.py on_step)."""
        row = np.empty(self.width, dtype=np.float64)
        row[:HEAD] = (record["step"], record["epoch"], record["batch"], record["loss"])
        row[HEAD:] = record["params"]
        self._file.write(row.tobytes())
        self._file.flush()
        self.last_step = int(record["step"])

    def sync(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None

    def finish(self) -> None:
        """trajectory.npz from the log, then the log removed (a kill in between leaves both:
        the npz is written again from the log)."""
        self.close()
        parsed = parse_log(self.folder.read_bytes(LOG))
        assert parsed is not None
        self.folder.write_npz(NPZ, as_arrays(*parsed))
        self.folder.remove(LOG)
