"""data.dataset: the boundary types of the data stage: Table (what a reader read) -> Dataset.

A `Dataset` is what training consumes: scaled features and encoded targets per split, the
fitted scaler, the class names and the hashes of the files read (for the run manifest).
`Dataset.schema()` is the JSON-ready part a run directory keeps so that `load_features()` can
read new inputs exactly as the training data was read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from nnspec.data.scaling import Scaler
from nnspec.diagnostics import Diagnostic

TASKS = ("regression", "binary", "multiclass")


@dataclass(frozen=True)
class FileInfo:
    """A data file that was read: as written in the spec, as resolved, and its sha256."""

    role: str  # "source", "validation", "test" or "input"
    path: str
    resolved: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "path": self.path, "resolved": self.resolved,
                "sha256": self.sha256, "bytes": self.size}


class Locator(Protocol):
    """Where a sample of a Table came from, for messages (data.csvfile.CsvLocator)."""

    def target(self, i: int) -> str: ...

    def feature(self, i: int, j: int) -> str: ...

    def features(self, cells: Iterable[tuple[int, int]]) -> list[str]: ...


@dataclass
class Table:
    """One source as read, before target encoding, splitting and scaling.

    x: float64 (N, F), finite (float32 when an npz stored it so: data.readers).
    y: float64 (N,) / (N, K), or str (N,) class labels.
    `locate(i)` says where target i came from (`file:line:col`), `locate_feature(i, j)`
    where feature j of sample i did, for messages (the `locator` finds the line only when
    asked: nothing per row is kept for it).
    `layout` records how a CSV was read (for predict); None for other sources.
    `shape`: the (C, H, W) of one sample when the source gives images (its rows are that
    shape, row-major), else None.
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    file: FileInfo | None = None
    locator: Locator | None = None
    layout: dict[str, Any] | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _where(self) -> str:
        return self.file.resolved if self.file else "generated data"

    def locate(self, i: int) -> str:
        if self.locator is not None:
            return self.locator.target(i)
        return f"{self._where()}: row {i} (0-based)"

    def locate_feature(self, i: int, j: int) -> str:
        if self.locator is not None:
            return self.locator.feature(i, j)
        return f"{self._where()}: sample {i}, feature {j} (0-based)"

    def locate_features(self, cells: Iterable[tuple[int, int]]) -> list[str]:
        """locate_feature() of several cells, in one pass over the file."""
        if self.locator is not None:
            return self.locator.features(cells)
        return [self.locate_feature(i, j) for i, j in cells]


@dataclass(frozen=True, eq=False)
class Part:
    """One split. x: (N, F) of the run's dtype, scaled. y: (N, K) float for regression and
    binary, int64 (N,) class indices for multiclass. rows: indices of these samples in the
    source they came from (sorted: file order is kept within a split)."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True, eq=False)
class Dataset:
    """train / val / test splits (val and test are None when not requested), the scaler
    fitted on train, and what is needed to read new data the same way."""

    train: Part
    val: Part | None
    test: Part | None
    scaler: Scaler
    task: str
    n_outputs: int
    feature_names: list[str]
    target_names: list[str]
    classes: list[str] | None
    files: tuple[FileInfo, ...] = ()
    layout: dict[str, Any] | None = None
    warnings: tuple[Diagnostic, ...] = ()
    input_shape: tuple[int, ...] | None = None  # the model's `input` (C, H, W for images)

    @property
    def n_features(self) -> int:
        return int(self.train.x.shape[1])

    @property
    def hashes(self) -> dict[str, str]:
        """{path as written in the spec: sha256} of every file read."""
        return {f.path: f.sha256 for f in self.files}

    def class_counts(self, part: Part) -> dict[str, int]:
        """Samples per class in one split (classification only)."""
        labels = part.y if self.task == "multiclass" else part.y[:, 0].astype(np.int64)
        k = self.n_outputs if self.task == "multiclass" else 2
        counts = np.bincount(labels, minlength=k)
        names = self.classes or [str(i) for i in range(len(counts))]
        return {names[i] if i < len(names) else str(i): int(c) for i, c in enumerate(counts)}

    def summary(self) -> list[str]:
        """A few human lines about the data, for `nnspec run` output."""
        sizes = ", ".join(f"{n} {len(p)}" for n, p in
                          (("train", self.train), ("val", self.val), ("test", self.test))
                          if p is not None)
        f = self.n_features
        lines = [f"data: {sizes} samples, {f} feature{'s' if f != 1 else ''}, task {self.task}, "
                 f"scaling {self.scaler.kind}"]
        if self.task == "multiclass" or (self.task == "binary" and self.n_outputs == 1):
            counts = self.class_counts(self.train)
            lines.append("train classes: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return lines

    def schema(self) -> dict[str, Any]:
        """JSON-ready description of how the data was read and transformed; save it in the
        run directory and pass it to `load_features()`."""
        return {
            "task": self.task,
            "n_features": self.n_features,
            "n_outputs": self.n_outputs,
            "feature_names": list(self.feature_names),
            "target_names": list(self.target_names),
            "classes": None if self.classes is None else list(self.classes),
            "scaler": self.scaler.to_dict(),
            "layout": self.layout,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
        }

    def manifest(self) -> dict[str, Any]:
        """Schema plus split sizes and file hashes, for the run manifest."""
        out = self.schema()
        out["sizes"] = {n: (0 if p is None else len(p))
                        for n, p in (("train", self.train), ("val", self.val),
                                     ("test", self.test))}
        out["files"] = [f.to_dict() for f in self.files]
        return out
