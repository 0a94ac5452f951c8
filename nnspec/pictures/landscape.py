"""pictures.landscape: a finished run directory -> landscape.png, the training loss of any
network on a plane through its final weights, with its training path (`nnspec landscape`).

The plane is theta(a, b) = theta* + a d1 + b d2 through the final weights theta* (those of
weights.npz). Two choices of directions (Li et al., "Visualizing the Loss Landscape of Neural
Nets", 2018):

- `random`: two Gaussian directions (seeded: `--seed`), filter-normalized: each filter of d
  (a row of a dense weight, one output unit's weights; a conv2d filter) is rescaled to the
  norm of the same filter of theta*, and biases and batchnorm parameters are not moved
  (d = 0 there). The plane spans a, b in [-1, 1]: a step of 1 changes every filter by its own
  size, so networks of any scale compare. In many dimensions two random directions are
  almost orthogonal to the path, so a path projected on them stays near the centre.
- `pca` (the default when the run recorded a trajectory, `output { trajectory }`): d1, d2
  are the first two principal directions of the path's points relative to theta* (the
  paper's choice for drawing a path). The axes say which share of the path's spread each
  direction holds; the plane spans the path with a margin.

The path's points are projected on the plane (coordinates (theta_i - theta*) . d_k for the
orthonormal PCA directions; a least-squares fit for random ones; a path of more than
MAX_POINTS records is thinned evenly, its first and last kept); the loss drawn is the loss
ON the plane, so a path point off the plane may sit over a different loss than its own.
Every grid point's loss is the training split's loss (made again by the run's data pipeline)
in eval mode, by the cpu engine's forward pass (the reference backend for layers it lacks);
the centre's value is the run's final training loss (metrics.json).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnspec.pictures.runs import Run, load_run, training_arrays

STREAM = 0x5EED_0015  # the directions' Generator: [seed, STREAM]
MAX_POINTS = 2000  # path points used (PCA and drawing): a long path is thinned evenly


@dataclass
class Landscape:
    a: np.ndarray
    b: np.ndarray
    loss: np.ndarray  # loss[j, i] at (a[i], b[j])
    directions: np.ndarray  # (2, P)
    kind: str  # "pca" | "random"
    explained: tuple[float, float] | None  # PCA: share of the path's variance per direction
    path: np.ndarray | None  # (n, 2) the path's projection
    centre_loss: float
    loss_name: str
    title: str
    final: str = "final weights"  # how the centre is named in the legend


def random_directions(plan: Any, theta: np.ndarray, seed: int) -> np.ndarray:
    """Two filter-normalized Gaussian directions (see the module docstring)."""
    rng = np.random.default_rng([seed, STREAM])
    out = np.zeros((2, theta.size))
    for k in range(2):
        d = rng.standard_normal(theta.size)
        for t in plan.tensors:
            if t.buffer != "params":
                continue
            sl = slice(t.offset, t.offset + int(np.prod(t.shape)))
            if not t.key.endswith(".weight") or len(t.shape) < 2:
                d[sl] = 0.0  # biases, batchnorm gamma and beta: not moved
                continue
            rows = d[sl].reshape(t.shape[0], -1)  # one filter (output unit) per row
            ref = theta[sl].reshape(t.shape[0], -1)
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows *= np.linalg.norm(ref, axis=1, keepdims=True) / np.maximum(norms, 1e-12)
            d[sl] = rows.ravel()
        out[k] = d
    return out


def pca_directions(points: np.ndarray, theta: np.ndarray
                   ) -> tuple[np.ndarray, tuple[float, float]]:
    """The first two principal directions of (points - theta) and their variance shares."""
    m = points - theta
    m = m - m.mean(axis=0)
    _, sv, vt = np.linalg.svd(m, full_matrices=False)
    var = sv ** 2
    total = float(var.sum()) or 1.0
    dirs = np.zeros((2, theta.size))
    shares = [0.0, 0.0]
    for k in range(min(2, len(vt))):
        dirs[k] = vt[k]
        shares[k] = float(var[k] / total)
    if len(vt) < 2 or not np.any(dirs[1]):  # a straight path: any orthogonal direction
        e = np.zeros(theta.size)
        e[int(np.argmin(np.abs(dirs[0])))] = 1.0
        e -= dirs[0] * (e @ dirs[0])
        dirs[1] = e / np.linalg.norm(e)
    return dirs, (shares[0], shares[1])


def project(points: np.ndarray, theta: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """(n, 2) plane coordinates of points: least squares (exact projection for orthonormal
    directions)."""
    coef, *_ = np.linalg.lstsq(dirs.T, (points - theta).T, rcond=None)
    return coef.T


def compute(run: Run, exe: Any, *, directions: str = "auto", seed: int = 0,
            resolution: int = 31, margin: float = 0.3) -> Landscape:
    """`exe` holds the run's final weights (run/restore.py)."""
    x, y = training_arrays(run.spec, exe.plan)
    theta = exe.get_params().astype(np.float64)
    traj = run.trajectory
    points = None if traj is None or not len(traj["step"]) else traj["params"].astype(float)
    kind = directions if directions != "auto" else ("pca" if points is not None
                                                     and len(points) >= 2 else "random")
    explained = None
    if points is not None and len(points) > MAX_POINTS:  # evenly spaced, ends kept
        points = points[np.unique(np.linspace(0, len(points) - 1, MAX_POINTS).round()
                                  .astype(np.int64))]
    if kind == "pca":
        if points is None or len(points) < 2:
            from nnspec.pictures.runs import need_trajectory

            need_trajectory(Run(run.path, run.spec, None))
        assert points is not None
        dirs, explained = pca_directions(points, theta)
    else:
        dirs = random_directions(exe.plan, theta, seed)
    path = project(points, theta, dirs) if points is not None else None
    if kind == "pca" and path is not None:
        lo, hi = path.min(axis=0), path.max(axis=0)
        span = np.maximum(hi - lo, 1e-3)
        lo, hi = np.minimum(lo - margin * span, 0), np.maximum(hi + margin * span, 0)
    else:
        lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    a, b = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    dtype = exe.get_params().dtype
    loss = np.empty((len(b), len(a)))
    try:
        for j, bj in enumerate(b):
            for i, ai in enumerate(a):
                exe.set_params((theta + ai * dirs[0] + bj * dirs[1]).astype(dtype))
                loss[j, i] = exe.evaluate(x, y)
        exe.set_params(theta.astype(dtype))
        centre = float(exe.evaluate(x, y))
    finally:
        exe.set_params(theta.astype(dtype))
    how = ("the first two PCA directions of its training path" if kind == "pca" else
           f"two filter-normalized random directions (seed {seed})")
    title = f"{run.spec.model.name}: training loss on a plane through the final weights,\n" \
            f"along {how}"
    kept = (run.manifest or {}).get("restored_epoch")
    final = f"final weights (epoch {kept}'s, kept by early stopping)" if kept else \
        "final weights"
    return Landscape(a, b, loss, dirs, kind, explained, path, centre, exe.plan.loss_name, title,
                     final)


def draw(land: Landscape) -> bytes:
    from nnspec.pictures.runs import pyplot

    plt = pyplot("landscape.png")

    fig, ax = plt.subplots(figsize=(8.5, 6.5), dpi=110)
    try:
        z = np.where(np.isfinite(land.loss), land.loss, np.nan)
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        excess = np.geomspace(max((hi - lo) * 1e-3, 1e-12), max(hi - lo, 1e-12), 20)
        levels = np.unique(lo + np.concatenate([[0.0], excess]))
        filled = ax.contourf(land.a, land.b, z, levels=levels, cmap="viridis", alpha=0.9)
        ax.contour(land.a, land.b, z, levels=levels, colors="white", linewidths=0.4,
                   alpha=0.6)
        bar = fig.colorbar(filled, ax=ax, format="%.3g")
        bar.set_label(f"training loss ({land.loss_name})")
        if land.path is not None:
            p = land.path
            ax.plot(p[:, 0], p[:, 1], "-", color="tab:red", lw=1.5,
                    label="training path (projected on the plane)")
            ax.plot(p[0, 0], p[0, 1], "o", mfc="white", mec="tab:red", ms=8, mew=2,
                    label="start (initial weights)")
        ax.plot(0, 0, "*", color="tab:orange", mec="black", ms=15,
                label=f"{land.final} (loss {land.centre_loss:.4g})")
        if land.path is not None:
            ax.plot(land.path[-1, 0], land.path[-1, 1], "s", mfc="white", mec="tab:red", ms=6,
                    mew=1.5, label="last recorded step")
        if land.kind == "pca" and land.explained is not None:
            ax.set_xlabel(f"1st PCA direction of the path ({land.explained[0]:.1%} of its "
                          "spread)")
            ax.set_ylabel(f"2nd PCA direction ({land.explained[1]:.1%})")
        else:
            ax.set_xlabel("random direction 1 (filter-normalized: 1 = each filter's own size)")
            ax.set_ylabel("random direction 2 (filter-normalized)")
        ax.set_xlim(land.a[0], land.a[-1])
        ax.set_ylim(land.b[0], land.b[-1])
        ax.set_title(land.title, fontsize=10)
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def landscape_of(run_dir: str, sources: dict[str, str], **kwargs: Any) -> Landscape:
    """The run's landscape (restore.py refuses a run that has not ended)."""
    from pathlib import Path

    from nnspec.run.restore import restore

    restored = restore(run_dir, sources)
    try:
        run = load_run(Path(run_dir), sources)
        return compute(run, restored.exe, **kwargs)
    finally:
        restored.rd.close()
