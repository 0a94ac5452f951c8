"""data.scaling: training features -> a fitted Scaler that every split (and predict) reuses.

standardize: x' = (x - mean) / std, mean and std (population, ddof=0) of the training split;
a constant column gets std 1 (so it becomes 0, never NaN).
normalize: x' = (x - min) / (max - min), min and max of the training split (so training values
land in [0, 1]; other splits may fall outside); a constant column gets range 1.
none: x' = x.
Statistics are computed in float64 and saved with the run (`to_dict`), so `nnspec predict`
applies exactly the transformation the model was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

ScaleKind = Literal["none", "standardize", "normalize"]


@dataclass(frozen=True, eq=False)
class Scaler:
    """x' = (x - shift) / scale, column by column; shift/scale are float64 (F,) arrays."""

    kind: ScaleKind
    shift: np.ndarray
    scale: np.ndarray
    # The fitted statistics by their usual names, for to_dict() and for people reading it.
    stats: dict[str, np.ndarray]

    @staticmethod
    def fit(kind: ScaleKind, x: np.ndarray) -> Scaler:
        x = np.asarray(x, dtype=np.float64)
        f = x.shape[1]
        if kind == "none":
            return Scaler._make(kind, np.zeros(f), np.ones(f), {})
        if kind == "standardize":
            mean = x.mean(axis=0)
            std = x.std(axis=0)
            return Scaler._make(kind, mean, _nonzero(std), {"mean": mean, "std": std})
        if kind == "normalize":
            lo, hi = x.min(axis=0), x.max(axis=0)
            return Scaler._make(kind, lo, _nonzero(hi - lo), {"min": lo, "max": hi})
        raise ValueError(f"unknown scaling {kind!r}")

    @staticmethod
    def _make(kind: str, shift: np.ndarray, scale: np.ndarray, stats: dict) -> Scaler:
        return Scaler(kind, np.asarray(shift, np.float64), np.asarray(scale, np.float64),  # type: ignore[arg-type]
                      {k: np.asarray(v, np.float64) for k, v in stats.items()})

    @property
    def n_features(self) -> int:
        return int(self.shift.shape[0])

    def apply(self, x: np.ndarray, dtype: Any = None) -> np.ndarray:
        """The scaled copy of x (N, F), in `dtype` (default: x's floating dtype or float64)."""
        x = np.asarray(x)
        if dtype is None:
            dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (N, {self.n_features}) features, got {x.shape}")
        out = (x.astype(np.float64) - self.shift) / self.scale
        return out.astype(dtype, copy=False)

    def invert(self, x: np.ndarray) -> np.ndarray:
        """The unscaled values (float64) of scaled features."""
        return np.asarray(x, np.float64) * self.scale + self.shift

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"kind": ..., "mean": [...], "std": [...]} or min/max or just kind."""
        out: dict[str, Any] = {"kind": self.kind, "n_features": self.n_features}
        out.update({k: v.tolist() for k, v in self.stats.items()})
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Scaler:
        kind = d["kind"]
        if kind == "standardize":
            mean, std = np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64)
            return Scaler._make(kind, mean, _nonzero(std), {"mean": mean, "std": std})
        if kind == "normalize":
            lo, hi = np.asarray(d["min"], np.float64), np.asarray(d["max"], np.float64)
            return Scaler._make(kind, lo, _nonzero(hi - lo), {"min": lo, "max": hi})
        if kind == "none":
            f = int(d["n_features"])
            return Scaler._make(kind, np.zeros(f), np.ones(f), {})
        raise ValueError(f"unknown scaling {kind!r}")


def _nonzero(scale: np.ndarray) -> np.ndarray:
    # A constant column has nothing to scale; dividing by 1 keeps it finite.
    return np.where(scale > 0, scale, 1.0)
