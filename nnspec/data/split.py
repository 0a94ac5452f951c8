"""data.split: N samples + split fractions + seed -> train / validation / test row indices.

Sizes: a fraction f of N samples gives round(f * N) rows (halves round up), and at least one
row when f > 0. Rows are assigned by a seeded random permutation: test takes the first n_test
rows of it, validation the next n_val, training the rest; each split's indices are then sorted,
so samples keep their file order within a split (what `shuffle false` trains on).

stratify=true permutes each class on its own (classes in sorted order, one permutation each
from the same generator) and shares the split sizes out over the classes by largest remainder:
class c gets floor(f * n_c), and the rows still missing to reach the overall size go one each
to the classes with the largest fractional parts f * n_c - floor(f * n_c) (ties: the smaller
class index). The overall sizes are therefore the same as without stratification, and each
class's share differs from f * n_c by less than one row.
"""

from __future__ import annotations

import math

import numpy as np

from nnspec.data.errors import Where


def count(fraction: float, n: int) -> int:
    """Rows held out for a fraction of n samples."""
    if fraction <= 0:
        return 0
    return max(1, math.floor(fraction * n + 0.5))


def split_rows(n: int, validation: float, test: float, rng: np.random.Generator, where: Where,
               strata: np.ndarray | None = None, names: list[str] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) sorted int64 row indices. strata: class id per row (stratify)."""
    n_test, n_val = count(test, n), count(validation, n)
    if n - n_test - n_val < 1:
        where.fail("E409", f"split validation={validation:g}, test={test:g} of {n} "
                   f"sample{'s' if n != 1 else ''} leaves no sample for training",
                   label="invalid data split",
                   notes=[f"held out: {n_val} for validation, {n_test} for test (each split "
                          "that is asked for gets at least one sample)"],
                   hints=["use smaller fractions or more data"])
    if strata is None:
        perm = rng.permutation(n)
        parts = [perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]]
    else:
        parts = _stratified(strata, n_test, n_val, test, validation, rng, where, names)
    test_rows, val_rows, train_rows = (np.sort(p).astype(np.int64) for p in parts)
    return train_rows, val_rows, test_rows


def _shares(total: int, fraction: float, sizes: np.ndarray) -> np.ndarray:
    quota = fraction * sizes
    base = np.floor(quota).astype(np.int64)
    extra = total - int(base.sum())
    # Stable sort on -remainder: larger remainders first, ties to the smaller class index.
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:extra]] += 1
    return base


def _stratified(strata: np.ndarray, n_test: int, n_val: int, test: float, validation: float,
                rng: np.random.Generator, where: Where, names: list[str] | None):
    if strata.ndim == 2 and strata.shape[1] == 1:
        strata = strata[:, 0]  # binary targets (N, 1)
    ids, inverse = np.unique(strata, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    members = [np.flatnonzero(inverse == c) for c in range(len(ids))]
    sizes = np.array([len(m) for m in members])
    t_share = _shares(n_test, test, sizes)
    v_share = _shares(n_val, validation, sizes)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c, rows in enumerate(members):
        perm = rng.permutation(rows)
        t, v = int(t_share[c]), int(v_share[c])
        if len(rows) - t - v < 1:
            label = _class_name(ids[c], names)
            where.fail("E409", f"the stratified split leaves class `{label}` "
                       f"({len(rows)} sample{'s' if len(rows) != 1 else ''}) with no training "
                       "sample", label="invalid data split",
                       notes=[f"it gives {t} to test and {v} to validation"],
                       hints=["use smaller fractions, more data, or stratify=false"])
        parts[0].append(perm[:t])
        parts[1].append(perm[t:t + v])
        parts[2].append(perm[t + v:])
    return [np.concatenate(p) for p in parts]


def _class_name(value: np.ndarray, names: list[str] | None) -> str:
    """A class id as the user knows it: its label name, or the number written in the file."""
    if np.ndim(value) == 0:
        v = float(value)
        if names is not None:
            return names[int(v)]
        return str(int(v)) if v.is_integer() else str(v)
    return str(tuple(float(u) for u in np.ravel(value)))
