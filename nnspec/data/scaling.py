"""data.scaling: training features -> a fitted Scaler that every split (and predict) reuses.

standardize: x' = (x - mean) / std, mean and std (population, ddof=0) of the training split;
a constant column gets std 1 (so it becomes 0, never NaN).
normalize: x' = (x - min) / (max - min), min and max of the training split (so training values
land in [0, 1]; other splits may fall outside); a constant column gets range 1.
none: x' = x.
Per channel (images, `channels=C`): a row holds C channels of H*W values each (C, H, W
row-major); the statistics are taken per channel over every pixel of every training sample
(as torchvision's Normalize(mean, std) per channel), saved as C values, and each pixel is
scaled with its channel's. A flat row is channels=None: per column, as above.
Statistics are computed in float64 and saved with the run (`to_dict`), so `nnspec predict`
applies exactly the transformation the model was trained with.

Finite input always gives finite statistics: a column whose magnitude is beyond 2^480 (or
below 2^-480) is first divided by a power of two (exact), its statistics computed there and
multiplied back, so `x**2` never overflows (the std of values up to 1e308 is finite). Applying
the scaler divides by the same kind of power of two (`unit`) where the statistics need it, so
`max - min` beyond the float64 range still normalizes. For every other column the unit is 1
and the arithmetic is the plain formula, bit for bit. What a scaled value cannot be in the
run's dtype (1e39 in float32) comes out as inf: `unrepresentable()` finds it, the caller
names the cell (E415). No numpy warning escapes: each computation that may overflow runs under
a local `np.errstate` and its outcome is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

ScaleKind = Literal["none", "standardize", "normalize"]

# Columns whose magnitude is within [2^-SAFE, 2^SAFE] are computed without rescaling: the sum
# of N squares of (2 * 2^480) stays below float64's 2^1024 up to N = 2^60 rows.
SAFE = 480


@dataclass(frozen=True, eq=False)
class Scaler:
    """x' = (x / unit - shift_u) / scale_u, column by column: the same as (x - shift) / scale,
    with shift_u = shift / unit and scale_u = scale / unit kept finite. All float64 (F,)."""

    kind: ScaleKind
    shift_u: np.ndarray
    scale_u: np.ndarray
    unit: np.ndarray  # a power of two per column; 1 for ordinary magnitudes
    # The fitted statistics by their usual names, for to_dict() and for people reading it:
    # (F,) per column, or (C,) per channel when `channels` is set.
    stats: dict[str, np.ndarray]
    channels: int | None = None

    @staticmethod
    def fit(kind: ScaleKind, x: np.ndarray, channels: int | None = None) -> Scaler:
        """Fit on training rows x (N, F); `channels`: F is C channels of F/C pixels each,
        and the statistics are per channel."""
        f = np.shape(x)[1]
        if channels is not None and (channels <= 0 or f % channels):
            raise ValueError(f"{f} features are not {channels} equal channels")
        if kind == "none":  # no statistics: x is not even converted (a large set's copy)
            return Scaler._make(kind, {}, f)
        x = np.asarray(x, dtype=np.float64)
        if channels is not None:
            # (N, C, P) -> (N * P, C): a channel's every pixel is one column.
            x = x.reshape(len(x), channels, f // channels).transpose(0, 2, 1).reshape(-1,
                                                                                    channels)
        if kind == "standardize":
            mean, std = mean_std(x)
            return Scaler._make(kind, {"mean": mean, "std": std}, f, channels)
        if kind == "normalize":
            return Scaler._make(kind, {"min": x.min(axis=0), "max": x.max(axis=0)}, f,
                                channels)
        raise ValueError(f"unknown scaling {kind!r}")

    def stat(self, name: str, j: int) -> float:
        """The statistic `name` that applies to feature column j."""
        values = self.stats[name]
        if self.channels is not None:
            return float(values[j // (self.n_features // self.channels)])
        return float(values[j])

    @staticmethod
    def _make(kind: str, stats: dict[str, Any], f: int, channels: int | None = None
              ) -> Scaler:
        stats = {k: np.asarray(v, np.float64) for k, v in stats.items()}
        if channels is not None and kind != "none":
            per_column = {k: np.repeat(v, f // channels) for k, v in stats.items()}
            made = Scaler._make(kind, per_column, f)
            return Scaler(made.kind, made.shift_u, made.scale_u, made.unit, stats, channels)
        if kind == "none":
            ones = np.ones(f)
            return Scaler(kind, np.zeros(f), ones, ones.copy(), stats)  # type: ignore[arg-type]
        if kind == "standardize":
            mean, std = stats["mean"], stats["std"]
            unit = _unit(np.maximum(np.abs(mean), std))
            return Scaler(kind, mean / unit, _nonzero(std / unit), unit,  # type: ignore[arg-type]
                          stats)
        if kind == "normalize":
            lo, hi = stats["min"], stats["max"]
            unit = _unit(np.maximum(np.abs(lo), np.abs(hi)))
            with np.errstate(over="ignore"):  # only where unit is 1, and then checked
                span = hi / unit - lo / unit
            return Scaler(kind, lo / unit, _nonzero(span), unit, stats)  # type: ignore[arg-type]
        raise ValueError(f"unknown scaling {kind!r}")

    @property
    def n_features(self) -> int:
        return int(self.shift_u.shape[0])

    @property
    def shift(self) -> np.ndarray:
        return self.shift_u * self.unit

    @property
    def finite(self) -> bool:
        """Whether every statistic is finite (a scaler saved by an older nnspec may not be)."""
        return all(bool(np.isfinite(v).all()) for v in self.stats.values())

    def apply(self, x: np.ndarray, dtype: Any = None) -> np.ndarray:
        """The scaled copy of x (N, F), in `dtype` (default: x's floating dtype or float64).
        A value beyond `dtype`'s range comes out as inf (see `unrepresentable`)."""
        x = np.asarray(x)
        if dtype is None:
            dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (N, {self.n_features}) features, got {x.shape}")
        if self.kind == "none":  # (x / 1 - 0) / 1 is x: only the conversion (one copy)
            with np.errstate(over="ignore"):
                return x.astype(dtype)
        x = x.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            out = (x / self.unit - self.shift_u) / self.scale_u
            bad = ~np.isfinite(out) & np.isfinite(x)
            if bad.any():
                # x - shift overflowed where the quotient may not: halve both first.
                i, j = np.nonzero(bad)
                out[i, j] = ((x[i, j] / self.unit[j] * 0.5 - self.shift_u[j] * 0.5)
                             / self.scale_u[j]) * 2.0
            return out.astype(dtype, copy=False)

    def invert(self, x: np.ndarray) -> np.ndarray:
        """The unscaled values (float64) of scaled features."""
        return (np.asarray(x, np.float64) * self.scale_u + self.shift_u) * self.unit

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"kind": ..., "mean": [...], "std": [...]} or min/max or just kind."""
        out: dict[str, Any] = {"kind": self.kind, "n_features": self.n_features}
        if self.channels is not None:
            out["channels"] = self.channels  # the statistics below are per channel
        out.update({k: v.tolist() for k, v in self.stats.items()})
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Scaler:
        kind = d["kind"]
        if kind == "standardize":
            stats = {"mean": _floats(d["mean"]), "std": _floats(d["std"])}
        elif kind == "normalize":
            stats = {"min": _floats(d["min"]), "max": _floats(d["max"])}
        elif kind == "none":
            return Scaler._make(kind, {}, int(d["n_features"]))
        else:
            raise ValueError(f"unknown scaling {kind!r}")
        if d.get("channels") is not None:
            return Scaler._make(kind, stats, int(d["n_features"]), int(d["channels"]))
        return Scaler._make(kind, stats, len(next(iter(stats.values()))))


def unrepresentable(out: np.ndarray) -> tuple[int, int] | None:
    """The first (row, column) of a scaled array that is not finite, or None."""
    bad = ~np.isfinite(out)
    if not bad.any():
        return None
    i, j = np.argwhere(bad)[0]
    return int(i), int(j)


def mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and population std of finite float64 x (N, F), finite whatever the
    magnitudes: columns beyond 2^SAFE (or below 2^-SAFE) are computed on x / 2^k (exact)."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    unit = _unit(np.maximum(np.abs(lo), np.abs(hi)))
    scaled = x if (unit == 1.0).all() else x / unit
    mean_u = scaled.mean(axis=0)
    std_u = scaled.std(axis=0)
    if (unit == 1.0).all():
        return mean_u, std_u
    # The sum's rounding can leave the mean a hair outside [min, max]: keep it inside, so
    # that multiplying back never overflows; the std of values within [-m, m] is at most m.
    # (Only for rescaled columns: the others keep numpy's own figures, bit for bit.)
    big = unit != 1.0
    with np.errstate(over="ignore"):
        mean = np.where(big, np.clip(mean_u * unit, lo, hi), mean_u)
        std = np.where(big, np.minimum(std_u * unit, np.maximum(np.abs(lo), np.abs(hi))),
                       std_u)
    return mean, std


def dominant_rows(x: np.ndarray, *, most: int | None = None, factor: float = 10.0
                  ) -> list[tuple[int, np.ndarray, float, float]]:
    """Columns of finite float64 x (N, F) whose std falls more than `factor`-fold when at most
    `most` rows (default: a tenth of N, 1 to 5) are left out, the rest not being constant:
    [(column, those rows sorted, std, std without them)]. N < 10 gives nothing.

    Cheap when nothing is found: a set of k rows can only carry 99% of a column's variance if
    one of them lies sqrt(0.99 (N - k) / k) standard deviations from the mean, so only
    columns with such a value are looked at row by row.
    """
    n = x.shape[0]
    if n < 10:
        return []
    k = most if most is not None else min(5, max(1, n // 10))
    mean, std = mean_std(x)
    out = []
    reach = np.sqrt((1.0 - 1.0 / factor**2) * (n - k) / k)
    with np.errstate(over="ignore"):
        far = np.maximum(x.max(axis=0) - mean, mean - x.min(axis=0)) >= std * reach
    for j in np.flatnonzero(far & (std > 0)):
        col = x[:, j]
        unit = _unit(np.array([np.abs(col).max()]))[0]
        dist = np.abs(col / unit - mean[j] / unit)
        far_rows = np.argpartition(dist, n - k)[n - k:]
        order = far_rows[np.argsort(dist[far_rows], kind="stable")[::-1]]
        keep = np.ones(n, dtype=bool)
        for m in range(1, k + 1):
            keep[order[m - 1]] = False
            _, rest = mean_std(col[keep][:, None])
            if rest[0] > 0 and rest[0] * factor < std[j]:
                out.append((int(j), np.sort(order[:m]), float(std[j]), float(rest[0])))
                break
    return out


def _unit(magnitude: np.ndarray) -> np.ndarray:
    """1 where 2^-SAFE <= magnitude <= 2^SAFE (or 0), else the power of two that brings the
    magnitude into [1, 2)."""
    m = np.asarray(magnitude, np.float64)
    _, e = np.frexp(m)
    ordinary = (m == 0) | ((m >= 2.0**-SAFE) & (m <= 2.0**SAFE)) | ~np.isfinite(m)
    return np.where(ordinary, 1.0, np.ldexp(1.0, e - 1))


def _floats(values: Any) -> np.ndarray:
    # None (JSON null, from a scaler an older nnspec saved) becomes NaN: `finite` says so.
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _nonzero(scale: np.ndarray) -> np.ndarray:
    # A constant column has nothing to scale; dividing by 1 keeps it finite.
    return np.where(scale > 0, scale, 1.0)
