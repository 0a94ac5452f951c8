"""Splits (sizes, disjoint cover, seeded, stratified) and scaling fitted on train only.

Oracles: plain counting for sizes and proportions, scikit-learn's StandardScaler and
MinMaxScaler fitted on the training rows for the scaled values.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from data_helpers import fails, load, write
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from nnspec import ir
from nnspec.data import Scaler
from nnspec.data.errors import Where
from nnspec.data.split import count, split_rows
from nnspec.diagnostics import DiagnosticError
from nnspec.ops.sources import Blobs, Csv, Linear, Moons


def _all(ds):
    return [p for p in (ds.train, ds.val, ds.test) if p is not None]


@pytest.mark.parametrize("n, val, test", [(200, 0.2, 0.0), (200, 0.2, 0.1), (101, 0.15, 0.15),
                                          (10, 0.05, 0.0), (3, 0.3, 0.3), (1000, 0.0, 0.25)])
def test_split_sizes_disjoint_cover(n, val, test):
    ds = load(Linear(samples=n), n_inputs=1, split=ir.Split(validation=val, test=test))
    n_val = 0 if val == 0 else max(1, math.floor(val * n + 0.5))
    n_test = 0 if test == 0 else max(1, math.floor(test * n + 0.5))
    assert (0 if ds.val is None else len(ds.val)) == n_val
    assert (0 if ds.test is None else len(ds.test)) == n_test
    assert len(ds.train) == n - n_val - n_test
    rows = np.concatenate([p.rows for p in _all(ds)])
    assert sorted(rows.tolist()) == list(range(n))  # disjoint and covering
    for p in _all(ds):
        assert np.all(np.diff(p.rows) > 0)  # file order within a split


def test_split_rows_match_the_data():
    from nnspec.data import generate

    src = Linear(samples=50, n_features=2)
    table = generate(src, 9)
    ds = load(src, n_inputs=2, seed=9, split=ir.Split(validation=0.3, test=0.2))
    for p in _all(ds):
        np.testing.assert_array_equal(p.x, table.x[p.rows])
        np.testing.assert_array_equal(p.y, table.y[p.rows])


def test_split_is_random_not_the_last_rows():
    ds = load(Linear(samples=1000), n_inputs=1, split=ir.Split(validation=0.2, test=0.1))
    for p in (ds.val, ds.test):
        assert p.rows.min() < 100 and p.rows.max() > 900
    assert not np.array_equal(ds.test.rows, np.arange(900, 1000))


def test_split_is_seeded():
    split = ir.Split(validation=0.2, test=0.2)
    a = load(Linear(samples=100, seed=1), n_inputs=1, seed=3, split=split)
    b = load(Linear(samples=100, seed=1), n_inputs=1, seed=3, split=split)
    c = load(Linear(samples=100, seed=1), n_inputs=1, seed=4, split=split)
    assert np.array_equal(a.val.rows, b.val.rows) and np.array_equal(a.test.rows, b.test.rows)
    assert not np.array_equal(a.val.rows, c.val.rows)
    # The split's own seed wins over the spec's.
    own = ir.Split(validation=0.2, test=0.2, seed=3)
    d = load(Linear(samples=100, seed=1), n_inputs=1, seed=99, split=own)
    assert np.array_equal(a.val.rows, d.val.rows)


@given(n=st.integers(1, 300), val=st.floats(0, 0.9), test=st.floats(0, 0.9),
       seed=st.integers(0, 2**32))
@settings(max_examples=150, deadline=None)
def test_split_rows_partition_property(n, val, test, seed):
    if val + test >= 1.0 or n - count(val, n) - count(test, n) < 1:
        return
    rng = np.random.Generator(np.random.PCG64(seed))
    tr, va, te = split_rows(n, val, test, rng, Where())
    assert len(va) == count(val, n) and len(te) == count(test, n) and len(tr) >= 1
    assert np.array_equal(np.sort(np.concatenate([tr, va, te])), np.arange(n))


@given(sizes=st.lists(st.integers(1, 40), min_size=2, max_size=6),
       val=st.floats(0, 0.45), test=st.floats(0, 0.45), seed=st.integers(0, 2**32))
@settings(max_examples=150, deadline=None)
def test_stratified_shares_property(sizes, val, test, seed):
    labels = np.repeat(np.arange(len(sizes)), sizes)
    labels = np.random.default_rng(seed).permutation(labels)
    n = len(labels)
    rng = np.random.Generator(np.random.PCG64(seed))
    try:
        tr, va, te = split_rows(n, val, test, rng, Where(), strata=labels)
    except DiagnosticError as e:  # the only allowed failure: a class without training rows
        assert e.diagnostics[0].code == "E409"
        return
    assert len(va) == count(val, n) and len(te) == count(test, n)
    assert np.array_equal(np.sort(np.concatenate([tr, va, te])), np.arange(n))
    for part, frac in ((va, val), (te, test)):
        per = np.bincount(labels[part], minlength=len(sizes))
        # Largest remainder: each class gets its quota rounded down or up.
        floor = np.floor(frac * np.array(sizes))
        assert np.all((per == floor) | (per == floor + 1))
    assert np.all(np.bincount(labels[tr], minlength=len(sizes)) >= 1)


def test_stratified_iris_like_proportions(tmp_path):
    # 3 classes of 50 sorted by class, like iris: every split gets each class equally.
    rows = "\n".join(f"{i},{i % 7},{['a', 'b', 'c'][i // 50]}" for i in range(150))
    write(tmp_path, "s.csv", "u,v,k\n" + rows + "\n")
    ds = load(Csv(path="s.csv", target="k"), folder=tmp_path, n_inputs=2, n_outputs=3,
              task="multiclass", split=ir.Split(validation=0.2, test=0.1, stratify=True))
    assert ds.class_counts(ds.train) == {"a": 35, "b": 35, "c": 35}
    assert ds.class_counts(ds.val) == {"a": 10, "b": 10, "c": 10}
    assert ds.class_counts(ds.test) == {"a": 5, "b": 5, "c": 5}


def test_stratified_binary_unbalanced():
    ds = load(Blobs(samples=1000, classes=2), n_inputs=2, task="binary",
              split=ir.Split(validation=0.25, stratify=True))
    # The generator balances (500 / 500): stratification gives 125 of each to validation.
    assert ds.class_counts(ds.val) == {"0": 125, "1": 125}


@pytest.mark.parametrize("kind, oracle", [("standardize", StandardScaler),
                                          ("normalize", MinMaxScaler)])
def test_scaling_is_fitted_on_train_only(kind, oracle):
    src = Blobs(samples=400, classes=3, n_features=3, noise=2.0)
    raw = load(src, n_inputs=3, n_outputs=3, task="multiclass", seed=5,
               split=ir.Split(validation=0.25, test=0.25))
    ds = load(src, n_inputs=3, n_outputs=3, task="multiclass", seed=5,
              split=ir.Split(validation=0.25, test=0.25), scale=kind)
    fitted = oracle().fit(raw.train.x)
    for p_raw, p in zip(_all(raw), _all(ds), strict=True):
        np.testing.assert_allclose(p.x, fitted.transform(p_raw.x), atol=1e-12)
    if kind == "standardize":
        np.testing.assert_allclose(ds.train.x.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(ds.train.x.std(axis=0), 1.0, atol=1e-12)
        assert np.abs(ds.val.x.mean(axis=0)).max() > 1e-6  # not refitted on validation
    else:
        np.testing.assert_allclose(ds.train.x.min(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(ds.train.x.max(axis=0), 1.0, atol=1e-12)


@pytest.mark.parametrize("kind", ["standardize", "normalize", "none"])
def test_constant_column_and_round_trip(kind):
    x = np.array([[1.0, 7.0, -2.0], [3.0, 7.0, 0.0], [5.0, 7.0, 4.0]])
    s = Scaler.fit(kind, x)
    out = s.apply(x)
    assert np.isfinite(out).all()
    if kind != "none":
        np.testing.assert_array_equal(out[:, 1], 0.0)  # zero spread: shifted, not divided by 0
    back = Scaler.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back.kind == kind
    np.testing.assert_array_equal(back.apply(x), out)
    np.testing.assert_allclose(s.invert(out), x)
    assert s.apply(x, np.float32).dtype == np.float32


def test_moons_spec_data():
    # specs/moons.nn's data block: 1000 moons, 20% validation, standardized, seed 42.
    ds = load(Moons(samples=1000, noise=0.2), n_inputs=2, task="binary", seed=42,
              dtype=np.float32, split=ir.Split(validation=0.2), scale="standardize")
    assert (len(ds.train), len(ds.val), ds.test) == (800, 200, None)
    assert ds.train.x.dtype == np.float32 and ds.train.y.shape == (800, 1)
    assert set(np.unique(ds.train.y)) == {0.0, 1.0}


@pytest.mark.parametrize("labels, name", [("no,yes", "no"), ("0,1", "0")])
def test_stratified_binary_names_the_class(tmp_path, labels, name):
    a, b = labels.split(",")
    write(tmp_path, "b.csv", f"f,y\n1,{a}\n2,{b}\n")
    diag = fails("E409", load, Csv(path="b.csv", target="y"), folder=tmp_path, n_inputs=1,
                 task="binary", split=ir.Split(validation=0.5, stratify=True))
    assert f"class `{name}` (1 sample)" in diag.message


def test_separate_builtin_validation_is_not_a_copy():
    from nnspec import ir as IR
    from nnspec.data import load_data

    data = IR.Data(source=Moons(samples=100), validation=Moons(samples=100))
    ds = load_data(data, spec_dir=".", seed=0, n_inputs=2, n_outputs=1, task="binary")
    assert ds.val is not None and len(ds.val) == 100
    assert not np.allclose(ds.train.x, ds.val.x)
    # With its own seed, the validation source is exactly that generator's output.
    own = IR.Data(source=Moons(samples=100), validation=Moons(samples=100, seed=0))
    ds2 = load_data(own, spec_dir=".", seed=0, n_inputs=2, n_outputs=1, task="binary")
    np.testing.assert_array_equal(ds2.val.x, ds2.train.x)
