"""ops.sources: where the data comes from: files (csv, npz) and seeded built-in generators.

Relative paths resolve against the spec file's folder. A built-in's `seed` defaults to the
spec's seed. `declared_features()` / `declared_target()` state what the source declares before any data is
read, so check/ can compare them with the model's `input` and output layer.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nnspec.ops.base import Op, registry, union

# declared_target(): ("binary", 2) | ("multiclass", K) | ("regression", n_targets) | None (unknown)
Target = tuple[str, int]


class Source(Op):
    family: ClassVar[str] = "source"
    is_file: ClassVar[bool] = False

    def declared_features(self) -> int | None:
        return None

    def declared_target(self) -> Target | None:
        return None


class Csv(Source):
    """A CSV file: one row per sample; the target column by name (header) or 0-based index;
    features: the listed columns, default all others. Non-numeric targets are class labels,
    mapped to indices in sorted order (the mapping is saved with the run)."""

    kind: Literal["csv"] = "csv"
    is_file: ClassVar[bool] = True
    path: str = Field(description="path to the file, relative to the spec")
    target: str | int = Field(description="target column: name (with a header) or 0-based index")
    features: tuple[str | int, ...] | None = Field(None, description="feature columns "
                                                   "(default: every column but the target)")
    header: bool = Field(True, description="whether the first row holds column names")
    delimiter: str = Field(",", min_length=1, max_length=1, description="field separator")


class Npz(Source):
    """A NumPy .npz archive with a feature matrix (N x F) and a target array (N or N x K)."""

    kind: Literal["npz"] = "npz"
    is_file: ClassVar[bool] = True
    path: str = Field(description="path to the file, relative to the spec")
    x: str = Field("x", description="name of the feature array")
    y: str = Field("y", description="name of the target array")


class _Builtin(Source):
    samples: int = Field(1000, gt=0, description="number of samples")
    noise: float = Field(0.1, ge=0.0, description="standard deviation of added Gaussian noise")
    seed: int | None = Field(None, ge=0, description="generator seed (default: the spec's seed)")


class Xor(_Builtin):
    """Points around the four corners (+-1, +-1); class 1 where x0*x1 < 0 (2 features)."""

    kind: Literal["xor"] = "xor"
    samples: int = Field(200, gt=0, description="number of samples")

    def declared_features(self) -> int:
        return 2

    def declared_target(self) -> Target:
        return ("binary", 2)


class Moons(_Builtin):
    """Two interleaving half circles (as sklearn make_moons), 2 features, 2 classes."""

    kind: Literal["moons"] = "moons"

    def declared_features(self) -> int:
        return 2

    def declared_target(self) -> Target:
        return ("binary", 2)


class Circles(_Builtin):
    """A small circle inside a large one (as sklearn make_circles), 2 features, 2 classes."""

    kind: Literal["circles"] = "circles"
    noise: float = Field(0.05, ge=0.0, description="standard deviation of added Gaussian noise")
    factor: float = Field(0.5, gt=0.0, lt=1.0, description="inner radius / outer radius")

    def declared_features(self) -> int:
        return 2

    def declared_target(self) -> Target:
        return ("binary", 2)


class Spirals(_Builtin):
    """`classes` interleaved spiral arms, 2 features."""

    kind: Literal["spirals"] = "spirals"
    classes: int = Field(2, ge=2, description="number of arms (classes)")
    turns: float = Field(1.0, gt=0.0, description="revolutions of each arm")

    def declared_features(self) -> int:
        return 2

    def declared_target(self) -> Target:
        return ("binary", 2) if self.classes == 2 else ("multiclass", self.classes)


class Blobs(_Builtin):
    """Gaussian clusters around random centres in [-10, 10]^features; noise is the cluster
    standard deviation."""

    kind: Literal["blobs"] = "blobs"
    noise: float = Field(1.0, ge=0.0, description="cluster standard deviation")
    classes: int = Field(3, ge=2, description="number of clusters (classes)")
    n_features: int = Field(2, gt=0, alias="features", description="number of features")

    model_config = {"populate_by_name": True, "frozen": True, "extra": "forbid"}

    def declared_features(self) -> int:
        return self.n_features

    def declared_target(self) -> Target:
        return ("binary", 2) if self.classes == 2 else ("multiclass", self.classes)


class Linear(_Builtin):
    """x ~ U(-1, 1)^features; y = slope * sum_j x_j + intercept + noise (regression)."""

    kind: Literal["linear"] = "linear"
    samples: int = Field(200, gt=0, description="number of samples")
    slope: float = Field(1.0, description="slope of the line")
    intercept: float = Field(0.0, description="value at x = 0")
    n_features: int = Field(1, gt=0, alias="features", description="number of features")

    model_config = {"populate_by_name": True, "frozen": True, "extra": "forbid"}

    def declared_features(self) -> int:
        return self.n_features

    def declared_target(self) -> Target:
        return ("regression", 1)


class Sine(_Builtin):
    """x ~ U(-pi, pi); y = amplitude * sin(frequency * x) + noise (regression, 1 feature)."""

    kind: Literal["sine"] = "sine"
    samples: int = Field(500, gt=0, description="number of samples")
    frequency: float = Field(1.0, gt=0.0, description="angular frequency")
    amplitude: float = Field(1.0, gt=0.0, description="amplitude")

    def declared_features(self) -> int:
        return 1

    def declared_target(self) -> Target:
        return ("regression", 1)


SOURCES = registry(Csv, Npz, Xor, Moons, Circles, Spirals, Blobs, Linear, Sine)
AnySource = union(SOURCES)
