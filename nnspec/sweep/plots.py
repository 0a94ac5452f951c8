"""sweep.plots: the trials' rows and histories -> curves.png and final.png (matplotlib).

- `curves.png`: every point's training and validation loss per epoch, overlaid, one colour
  per point, labelled by what differs; with `seeds K` the line is the mean over the seeds and
  the band their range. A point whose loss diverged is drawn dashed and named so.
- `final.png`: the ranking metric at the end of training against the swept setting (the
  learning-rate picture: too low, good, too high, diverged). Diverged and failed trials are
  not dropped: they are drawn as red crosses at the top edge, labelled.

matplotlib is imported only here, only when a sweep draws (`pip install "nnspec[pictures]"`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.sweep.spec import Sweep, Trial, point_label, short_names
from nnspec.sweep.table import history_of, mode_of

NICE = {"loss": "loss", "val_loss": "validation loss", "accuracy": "accuracy",
        "val_accuracy": "validation accuracy"}
KNOWN = {"lr": "learning rate", "batch": "batch size", "momentum": "momentum",
         "optimizer": "optimizer", "units": "units", "seed": "seed", "epochs": "epochs",
         "weight_decay": "weight decay", "rate": "dropout rate"}


def nice(metric: str) -> str:
    if metric in NICE:
        return NICE[metric]
    return ("validation " + metric[4:]) if metric.startswith("val_") else metric


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r[key]) if r.get(key) is not None else np.nan for r in rows],
                    dtype=float)


def _groups(trials: list[Trial]) -> dict[int, list[Trial]]:
    out: dict[int, list[Trial]] = {}
    for t in trials:
        out.setdefault(t.point, []).append(t)
    return out


def _log_y(values: list[np.ndarray]) -> bool:
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    return bool(finite.size) and finite.min() > 0 and finite.max() / finite.min() >= 100


def draw_curves(path: Path, sweep_dir: Path, sweep: Sweep, trials: list[Trial],
                rows: dict[str, dict[str, Any]]) -> Path | None:
    plt = _pyplot()
    if plt is None:
        return None
    groups = _groups(trials)
    histories = {t.name: history_of(sweep_dir / t.name) for t in trials}
    panels = [("train_loss", "training loss"), ("val_loss", "validation loss")]
    have = {k for h in histories.values() for r in h for k in r}
    if "train_loss" not in have:
        panels[0] = ("loss", "training loss (batch mean)")
    panels = [(k, title) for k, title in panels if k in have]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.8), squeeze=False)
    colours = plt.get_cmap("viridis" if len(groups) > 10 else "tab10")
    seeded = sweep.seeds > 1
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        drawn: list[np.ndarray] = []
        for n, (_, members) in enumerate(groups.items()):
            colour = colours(n / max(len(groups) - 1, 1) if len(groups) > 10 else n % 10)
            series = [_series(histories[t.name], key) for t in members]
            series = [s for s in series if s.size]
            if not series:
                continue
            length = max(s.size for s in series)
            stack = np.full((len(series), length), np.nan)
            for i, s in enumerate(series):
                stack[i, :s.size] = s
            stack[~np.isfinite(stack)] = np.nan
            with np.errstate(all="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmean(stack, axis=0)
                    lo, hi = np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)
            epochs = np.arange(1, length + 1)
            diverged = any(rows[t.name]["status"] == "diverged" for t in members)
            label = point_label(members[0], sweep, trials) + (" (diverged)" if diverged else "")
            ax.plot(epochs, mean, color=colour, lw=1.6, ls="--" if diverged else "-",
                    label=label)
            if seeded and len(series) > 1:
                ax.fill_between(epochs, lo, hi, color=colour, alpha=0.18, lw=0)
            drawn.append(mean)
        log = _log_y(drawn)
        if log:
            ax.set_yscale("log")
        ax.set_title(title + (" (log scale)" if log else ""))
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.grid(True, alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5),
                   fontsize=8, title="trial" + (" (mean and range of seeds)" if seeded else ""))
    fig.suptitle(_what(sweep, trials) + ": loss per epoch"
                 + (f", {sweep.seeds} seeds each" if seeded else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _what(sweep: Sweep, trials: list[Trial]) -> str:
    varied = [p for p in sweep.paths() if len({t.settings[p] for t in trials}) > 1]
    names = short_names(varied)
    words = [KNOWN.get(names[p], names[p]) for p in varied]
    return "sweep of " + (" and ".join(words) if words else "seeds")


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def draw_final(path: Path, sweep: Sweep, trials: list[Trial], rows: dict[str, dict[str, Any]],
               metric: str) -> Path | None:
    plt = _pyplot()
    if plt is None:
        return None
    varied = [p for p in sweep.paths() if len({t.settings[p] for t in trials}) > 1]
    if not varied:
        return None
    # x: the first numeric setting (a learning rate), one line per value of the others
    numeric_paths = [p for p in varied
                     if all(_number(t.settings[p]) is not None for t in trials)]
    x_path = numeric_paths[0] if numeric_paths else varied[0]
    rest = [p for p in varied if p != x_path]
    names = short_names(varied)
    values = list(dict.fromkeys(t.settings[x_path] for t in trials))
    numeric = all(_number(v) is not None for v in values)
    xs: dict[str, float] = {v: ((_number(v) or 0.0) if numeric else float(i))
                            for i, v in enumerate(values)}
    positive = numeric and all(xs[v] > 0 for v in values)
    log_x = positive and max(xs.values()) / min(xs.values()) >= 100
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    series: dict[str, list[Trial]] = {}
    for t in trials:
        key = ", ".join(f"{names[p]}={t.settings[p]}" for p in rest) or "all"
        series.setdefault(key, []).append(t)
    good: list[float] = []
    bad: list[tuple[float, str]] = []
    colours = plt.get_cmap("tab10")
    for n, (key, members) in enumerate(series.items()):
        pts: dict[Any, list[float]] = {}
        for t in members:
            row = rows[t.name]
            v = row.get(f"final_{metric}")
            x = xs[t.settings[x_path]]
            if row["status"] in ("completed",) and isinstance(v, float) and math.isfinite(v):
                pts.setdefault(x, []).append(v)
            elif row["status"] in ("diverged", "failed", "completed"):
                bad.append((x, "diverged" if row["status"] != "failed" else "failed"))
        if not pts:
            continue
        order = sorted(pts)
        mean = [float(np.mean(pts[x])) for x in order]
        good += [v for x in order for v in pts[x]]
        colour = colours(n % 10)
        label = key if len(series) > 1 else f"final {nice(metric)}"
        if sweep.seeds > 1:
            err = [[m - min(pts[x]) for x, m in zip(order, mean, strict=True)],
                   [max(pts[x]) - m for x, m in zip(order, mean, strict=True)]]
            ax.errorbar(order, mean, yerr=err, color=colour, marker="o", capsize=3,
                        label=label + f" (mean, range of {sweep.seeds} seeds)")
        else:
            ax.plot(order, mean, color=colour, marker="o", label=label)
    if log_x:
        ax.set_xscale("log")
    log_y = bool(good) and min(good) > 0 and max(good) / min(good) >= 100
    if log_y:
        ax.set_yscale("log")
        lo, hi = min(good), max(good)
        top = hi * 3 if mode_of(metric) == "min" else lo / 3
        ax.set_ylim(min(lo / 2, top / 2), max(hi * 2, top * 2))
    elif good:
        lo, hi = min(good), max(good)
        pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1.0
        top = hi + pad if mode_of(metric) == "min" else lo - pad
        ax.set_ylim(min(lo - pad, top - pad), max(hi + pad, top + pad))
    else:
        top = 1.0
    if bad:
        ax.scatter([x for x, _ in bad], [top] * len(bad), marker="x", s=80, color="red",
                   zorder=5, label="diverged or failed (off the scale, or no value)", clip_on=False)
        for x, word in dict(bad).items():
            ax.annotate(word, (x, top), textcoords="offset points", xytext=(0, 8),
                        ha="center", color="red", fontsize=8)
    if not numeric:
        ax.set_xticks(list(range(len(values))))
        ax.set_xticklabels(values, rotation=20, ha="right", fontsize=8)
    x_name = KNOWN.get(names[x_path], names[x_path])
    ax.set_xlabel(f"{x_name} ({x_path})" + (", log scale" if log_x else ""))
    better = "higher" if mode_of(metric) == "max" else "lower"
    ax.set_ylabel(f"final {nice(metric)} ({better} is better)" + (", log scale" if log_y else ""))
    ax.set_title(f"final {nice(metric)} by {x_name}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_all(sweep_dir: Path, sweep: Sweep, trials: list[Trial], rows: list[dict[str, Any]],
             metric: str) -> list[Path]:
    """The pictures that apply; none (and no error) without matplotlib."""
    by_name = {r["name"]: r for r in rows}
    made = [draw_curves(sweep_dir / "curves.png", sweep_dir, sweep, trials, by_name),
            draw_final(sweep_dir / "final.png", sweep, trials, by_name, metric)]
    return [p for p in made if p is not None]
