"""pictures.paths: run directories of a two-parameter model -> paths.png, the exact loss
surface over its two parameters with each run's path on it (`nnspec paths DIR...`).

A two-parameter model is one with exactly two trainable values: one input and `dense 1`
with its bias, i.e. linear regression y = w x + b (mse) or a one-input logistic regression
(sigmoid + binary_crossentropy); any activation and loss are drawn the same way. The surface
is the loss of the whole training split (made again by the run's own data pipeline, scaler
applied) at every point of a grid over (w, b), evaluated in float64 by the reference backend's
forward pass, which is the executable definition of every op (its value at a run's final
weights is the run's final training loss, up to the run's float32 rounding). The grid covers
every path with a margin; a path that diverged (non-finite, or ending above its start) is
labelled so and cut at the picture's edge instead of stretching it. Each run's path is its
recorded trajectory (`output { trajectory }`), one point per recorded step, labelled by what
its spec sets differently from the others (`optimizer=adam(lr=0.01)`, `batch=1`), its start
and end marked. Runs whose surfaces differ
(another model, loss or data) are drawn on the first run's surface with warning W116.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.diagnostics import Diagnostic, DiagnosticError, error, warning
from nnspec.pictures.runs import Run, differences, label_of, need_trajectory, training_arrays


@dataclass
class Surface:
    """The loss over a grid of the two parameters: loss[j, i] at (w[i], b[j])."""

    w: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    names: tuple[str, str]  # the two parameters' tensor names (layers.0.weight, ...)
    loss_name: str


@dataclass
class Paths:
    surface: Surface
    runs: list[Run]
    points: list[np.ndarray]  # each run's (n, 2) path
    labels: list[str]
    title: str
    warnings: list[Diagnostic]


class LossAt:
    """The training loss of a two-parameter model at any (w, b): the reference backend."""

    def __init__(self, run: Run):
        from nnspec.backends import compile as compile_plan
        from nnspec.lower import lower

        spec = run.spec.model_copy(update={"train": run.spec.train.model_copy(
            update={"dtype": "float64"})})
        self.plan = lower(spec)
        if self.plan.n_params != 2:
            raise not_two_parameters(run, self.plan.n_params)
        self.exe = compile_plan(self.plan, "reference", initial_weights=False)
        self.x, self.y = training_arrays(run.spec, self.plan)
        slots = [t for t in self.plan.tensors if getattr(t, "buffer", "params") == "params"]
        self.names = tuple(_name(t) for t in slots[:2]) if len(slots) >= 2 else (
            "parameter 0", "parameter 1")

    def __call__(self, w: float, b: float) -> float:
        self.exe.set_params(np.array([w, b], dtype=np.float64))
        return float(self.exe.evaluate(self.x, self.y))

    def grid(self, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([[self(wi, bj) for wi in w] for bj in b])


def _name(slot: Any) -> str:
    return str(getattr(slot, "key", None) or getattr(slot, "name", "parameter"))


def not_two_parameters(run: Run, n: int) -> DiagnosticError:
    return DiagnosticError(error(
        "E436", f"`{run.path}` trains a model with {n:,} parameters; `nnspec paths` draws the "
        "loss surface over exactly two", path=str(run.path / "spec.nn"),
        notes=["a two-parameter model: `input 1` and `dense 1` with its bias (linear "
               "regression, or `dense 1 sigmoid` with binary_crossentropy)"],
        hints=[f"`nnspec landscape {run.path}` draws the loss landscape of any network"]))


def _same_surface(runs: list[Run]) -> list[Diagnostic]:
    """W116 for each run whose model, data or loss differ from the first run's."""
    from nnspec.run.specdiff import changes, comparable

    def key(run: Run) -> dict[str, Any]:
        c = comparable(run.spec)
        return {"model": c["model"], "data": c["data"], "loss": c["train"]["loss"]}

    first = key(runs[0])
    out = []
    for run in runs[1:]:
        diff = changes(first, key(run))
        if diff:
            out.append(warning(
                "W116", f"`{run.path}` has another loss surface than `{runs[0].path}`; its "
                "path is drawn on the first run's surface", path=str(run.path),
                notes=diff[:5], hints=["compare runs that differ only in how they train "
                                       "(optimizer, batch, learning rate, seed)"]))
    return out


def compute(runs: list[Run], resolution: int = 61, margin: float = 0.25) -> Paths:
    """The surface and the paths (see the module docstring)."""
    loss_at = LossAt(runs[0])
    for run in runs[1:]:
        n = sum(int(np.prod(t.shape)) for t in _params_of(run))
        if n != 2:
            raise not_two_parameters(run, n)
    points = [need_trajectory(r)["params"].astype(np.float64) for r in runs]
    diverged = [_diverged(pts, loss_at) for pts in points]
    lo, hi = _extent(points, diverged)
    span = np.maximum(hi - lo, 0.1 * np.maximum(np.abs(hi), 1.0))
    lo, hi = lo - margin * span, hi + margin * span
    w, b = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    surface = Surface(w, b, loss_at.grid(w, b), loss_at.names, loss_at.plan.loss_name)
    diffs = differences([r.spec for r in runs])
    labels = [(label_of(d) or r.path.name) + (" (diverged)" if gone else "")
              for d, r, gone in zip(diffs, runs, diverged, strict=True)]
    model = runs[0].spec.model.name
    title = f"{model}: the {surface.loss_name} loss over its two parameters, and how each " \
            "run moved on it"
    return Paths(surface, runs, points, labels, title, _same_surface(runs))


def _diverged(pts: np.ndarray, loss_at: LossAt) -> bool:
    """A path that leaves the finite numbers, or ends higher than it started."""
    if not np.all(np.isfinite(pts)):
        return True
    start, end = loss_at(*pts[0]), loss_at(*pts[-1])
    return not np.isfinite(end) or end > start


def _extent(points: list[np.ndarray], diverged: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """The box the grid covers: every point of the paths that did not diverge; a diverged
    path adds only its points near the others (its start, and what lies within the others'
    box grown by its own size on every side), so that one blow-up does not shrink the rest
    to a dot. A path that leaves the box is cut at the picture's edge."""
    kept = [p for p, gone in zip(points, diverged, strict=True) if not gone]
    if kept:
        every = np.concatenate(kept)
    else:
        every = np.array([p[0] for p in points])
    lo, hi = every.min(axis=0), every.max(axis=0)
    grow = np.maximum(hi - lo, 0.5 * np.maximum(np.abs(hi), 1.0))
    near_lo, near_hi = lo - grow, hi + grow
    for p, gone in zip(points, diverged, strict=True):
        if gone:
            ok = p[np.all(np.isfinite(p) & (p >= near_lo) & (p <= near_hi), axis=1)]
            if len(ok):
                lo, hi = np.minimum(lo, ok.min(axis=0)), np.maximum(hi, ok.max(axis=0))
    return lo, hi


def _params_of(run: Run) -> list[Any]:
    from nnspec.lower import lower

    plan = lower(run.spec)
    return [t for t in plan.tensors if getattr(t, "buffer", "params") == "params"]


def draw(p: Paths) -> bytes:
    """paths.png: filled contours of the surface, each path on it, start and end marked."""
    from nnspec.pictures.runs import pyplot

    plt = pyplot("paths.png")

    s = p.surface
    fig, ax = plt.subplots(figsize=(8.5, 6.5), dpi=110)
    try:
        lo, hi = float(np.nanmin(s.loss)), float(np.nanmax(s.loss))
        # contour levels spaced evenly in log(loss - min): a bowl shows rings near the bottom
        excess = np.geomspace(max((hi - lo) * 1e-4, 1e-12), max(hi - lo, 1e-12), 18)
        levels = np.unique(lo + np.concatenate([[0.0], excess]))
        filled = ax.contourf(s.w, s.b, s.loss, levels=levels, cmap="viridis", alpha=0.85)
        ax.contour(s.w, s.b, s.loss, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
        bar = fig.colorbar(filled, ax=ax, format="%.3g")
        bar.set_label(f"training loss ({s.loss_name}) at (w, b)")
        colours = plt.get_cmap("tab10")
        for i, (pts, label) in enumerate(zip(p.points, p.labels, strict=True)):
            c = colours(i % 10)
            ax.plot(pts[:, 0], pts[:, 1], "-", color=c, lw=1.6, label=label,
                    marker="." if len(pts) <= 200 else None, ms=3)
            ax.plot(pts[0, 0], pts[0, 1], "o", mfc="white", mec=c, ms=8, mew=2)
            ax.plot(pts[-1, 0], pts[-1, 1], "*", color=c, mec="black", ms=13, mew=0.6)
        j, i = np.unravel_index(int(np.nanargmin(s.loss)), s.loss.shape)
        ax.plot(s.w[i], s.b[j], "P", color="white", mec="black", ms=8, zorder=1.5,
                label=f"lowest loss on the grid ({s.loss[j, i]:.4g})")
        ax.plot([], [], "o", mfc="white", mec="black", ms=8, mew=2, label="start")
        ax.plot([], [], "*", color="grey", mec="black", ms=13, label="end")
        ax.set_xlim(s.w[0], s.w[-1])
        ax.set_ylim(s.b[0], s.b[-1])
        ax.set_xlabel(f"w, the weight ({s.names[0]})")
        ax.set_ylabel(f"b, the bias ({s.names[1]})")
        ax.set_title(p.title, fontsize=10)
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
        fig.tight_layout()
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def write_png(path: Path, png: bytes) -> Path:
    from nnspec.run.atomic import write_bytes

    return write_bytes(path, png)  # E503 when it cannot be written
