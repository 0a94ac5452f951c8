"""sweep.spec: the `sweep { ... }` block's IR -> the list of trials it stands for.

A sweep is a set of settings over the dotted paths `--set` takes (run/overrides.py):
`grid` axes (every combination of their values), `random` axes (drawn per point, seeded, so
that a rerun draws the same points), each point repeated with `seeds` seeds. check/sweep.py
builds a `Sweep` from the block with positions; `expand()` makes the trials; nnspec/sweep/run.py
runs them. A trial is an ordinary run of the spec with its settings applied as `--set`
assignments: its run folder is the run contract, unchanged.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nnspec.diagnostics import Span

RANDOM_KINDS = ("uniform", "loguniform", "choice")
DEFAULT_TRIALS = 8
SEED_PATH = "train.seed"


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Grid(_Node):
    """`grid PATH = [VALUE, ...]`."""

    path: str = Field(description="the dotted path of the setting, as `--set` takes it")
    values: tuple[str, ...] = Field(description="each value as `--set` text")
    spans: tuple[Span | None, ...] = Field((), exclude=True)
    span: Span | None = Field(None, exclude=True)


class Random(_Node):
    """`random PATH = uniform(LOW, HIGH) | loguniform(LOW, HIGH) | choice(VALUE, ...)`."""

    path: str
    kind: Literal["uniform", "loguniform", "choice"]
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    integer: bool = Field(False, description="the setting takes whole numbers: draws are "
                          "rounded")
    span: Span | None = Field(None, exclude=True)


class Sweep(_Node):
    """`sweep { grid PATH = [...]; random PATH = DIST; trials N; seeds K; parallel P; metric
    NAME }`: `nnspec sweep SPEC` runs the spec once per point into a sweep folder and compares
    the runs (docs/runs.md, *Sweeps*); `nnspec run` ignores the block. PATH is a setting's
    dotted path, as `--set` takes it. Every point is checked before anything runs."""

    grid: tuple[Grid, ...] = ()
    random: tuple[Random, ...] = ()
    trials: int | None = Field(None, gt=0, description="random points per grid point")
    seeds: int = Field(1, gt=0, description="seeds per point")
    parallel: int | None = Field(None, gt=0, description="trials at once")
    metric: str | None = Field(None, description="what ranks the trials")
    span: Span | None = Field(None, exclude=True)

    @property
    def n_random(self) -> int:
        return (self.trials or DEFAULT_TRIALS) if self.random else 1

    def paths(self) -> list[str]:
        return [g.path for g in self.grid] + [r.path for r in self.random]


class Trial(_Node):
    """One run of the sweep."""

    index: int = Field(description="0-based, in the order the sweep lists them")
    name: str = Field(description="the trial's run folder inside the sweep folder")
    point: int = Field(description="the point (settings without the seed); seeds share it")
    settings: dict[str, str] = Field(description="path -> value (`--set` text) of the point")
    seed: int = Field(description="train.seed of this trial")
    label: str = Field(description="what differs from the other trials, for legends")

    @property
    def sets(self) -> list[str]:
        return [f"{p}={v}" for p, v in self.settings.items()] + [f"{SEED_PATH}={self.seed}"]


def short_names(paths: list[str]) -> dict[str, str]:
    """A path's last key (`lr`), or the whole path where two paths share the last key."""
    last = [p.rsplit(".", 1)[-1] for p in paths]
    return {p: (k if last.count(k) == 1 else p) for p, k in zip(paths, last, strict=True)}


def draw(r: Random, rng: Any) -> str:
    """One value of a random axis, as `--set` text (4 significant digits: readable labels,
    and the value run is exactly the one shown)."""
    if r.kind == "choice":
        return r.choices[int(rng.integers(len(r.choices)))]
    assert r.low is not None and r.high is not None
    if r.kind == "loguniform":
        v = math.exp(rng.uniform(math.log(r.low), math.log(r.high)))
    else:
        v = rng.uniform(r.low, r.high)
    if r.integer:
        return str(int(round(v)))
    return f"{float(f'{v:.4g}')!r}"


def points(sweep: Sweep, base_seed: int) -> list[dict[str, str]]:
    """Every point: the grid's combinations, each with `n_random` random draws. The draws
    come from a generator seeded by the spec's seed alone, so a rerun gets the same points."""
    import numpy as np  # not at import: `nnspec check` imports this module, and no numpy

    combos = list(itertools.product(*[[(g.path, v) for v in g.values] for g in sweep.grid]))
    rng = np.random.default_rng([base_seed, 0x5EED])
    out = []
    for combo in combos:
        for _ in range(sweep.n_random):
            p = dict(combo)
            for r in sweep.random:
                p[r.path] = draw(r, rng)
            out.append(p)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", text).strip("_")[:60]


def expand(sweep: Sweep, base_seed: int) -> list[Trial]:
    """The trials in order: point by point, seed by seed (seeds base_seed, +1, ...)."""
    pts = points(sweep, base_seed)
    varied = [p for p in sweep.paths() if len({pt[p] for pt in pts}) > 1]
    names = short_names(varied)
    trials: list[Trial] = []
    for i, pt in enumerate(pts):
        for k in range(sweep.seeds):
            seed = base_seed + k
            parts = [f"{names[p]}={pt[p]}" for p in varied]
            if sweep.seeds > 1:
                parts.append(f"seed={seed}")
            label = ", ".join(parts) or "base spec"
            index = len(trials)
            trials.append(Trial(index=index, name=f"{index:03d}-{_slug(label)}".rstrip("-"),
                                point=i, settings=pt, seed=seed, label=label))
    return trials


def point_label(trial: Trial, sweep: Sweep, trials: list[Trial]) -> str:
    """A point's label without the seed (the legend of a mean over seeds)."""
    varied = [p for p in sweep.paths() if len({t.settings[p] for t in trials}) > 1]
    names = short_names(varied)
    return ", ".join(f"{names[p]}={trial.settings[p]}" for p in varied) or "base spec"
