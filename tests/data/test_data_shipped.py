"""The data files in specs/data: contents against scikit-learn's copies, reproducibility of
make_data.py, size limits, and the example specs loading through the real front end."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris

from nnspec.data import load_spec_data, task_of
from nnspec.pipeline import load_spec

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "specs" / "data"
SHIPPED = ["iris.csv", "digits.csv", "reg.npz", "reg_init.npz"]
BUILTIN_DIGITS = ROOT / "nnspec" / "data" / "builtin" / "digits.npz"


def _make_data():
    spec = importlib.util.spec_from_file_location("make_data", DATA / "make_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_iris_matches_sklearn():
    with (DATA / "iris.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    iris = load_iris()
    assert len(rows) == 151
    np.testing.assert_array_equal(np.array([r[:4] for r in rows[1:]], float), iris.data)
    assert [r[4] for r in rows[1:]] == [iris.target_names[t] for t in iris.target]


def test_digits_matches_sklearn():
    with (DATA / "digits.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    digits = load_digits()
    assert len(rows) == 1798 and rows[0][-1] == "digit" and len(rows[0]) == 65
    values = np.array(rows[1:], dtype=np.int64)
    np.testing.assert_array_equal(values[:, :64], digits.data)
    np.testing.assert_array_equal(values[:, 64], digits.target)


def test_reg_npz():
    z = np.load(DATA / "reg.npz")
    x, y = z["x"], z["y"]
    assert x.shape == (1000, 8) and y.shape == (1000, 1)
    assert x.dtype == np.float64 and y.dtype == np.float64
    resid = y[:, 0] - _make_data().reg_target(x)
    assert resid.std() == pytest.approx(0.05, rel=0.1) and abs(resid.mean()) < 0.01
    assert y.std() > 0.5  # the signal dominates the noise


def test_reg_init_npz_fits_regression_spec():
    spec, diags = load_spec(ROOT / "specs" / "regression.nn")
    assert spec is not None, diags
    z = np.load(DATA / "reg_init.npz")
    shapes = [(32, 8), (16, 32), (1, 16)]
    assert sorted(z.files) == sorted([f"layers.{i}.{k}" for i in range(3)
                                      for k in ("weight", "bias")])
    for i, (n_out, n_in) in enumerate(shapes):
        w, b = z[f"layers.{i}.weight"], z[f"layers.{i}.bias"]
        assert w.shape == (n_out, n_in) and b.shape == (n_out,)
        assert w.dtype == np.float64 and b.dtype == np.float64
        a = np.sqrt(6 / (n_in + n_out))
        assert np.abs(w).max() <= a and np.abs(w).max() > 0.8 * a
        assert np.abs(b).max() <= 0.1 and np.any(b != 0)
        assert spec.model.layers[i].units == n_out


def test_make_data_is_deterministic(tmp_path, monkeypatch):
    mod = _make_data()
    monkeypatch.setattr(mod, "HERE", tmp_path)
    monkeypatch.setattr(mod, "BUILTIN", tmp_path / "builtin")
    mod.main()
    for name in SHIPPED:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
    assert (tmp_path / "builtin" / "digits.npz").read_bytes() == BUILTIN_DIGITS.read_bytes()


def test_builtin_digits_match_sklearn():
    digits = load_digits()
    with np.load(BUILTIN_DIGITS) as z:
        assert z["x"].dtype == np.uint8 and z["y"].dtype == np.uint8
        np.testing.assert_array_equal(z["x"], digits.data)
        np.testing.assert_array_equal(z["y"], digits.target)
    assert BUILTIN_DIGITS.stat().st_size < 100_000


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_are_small(name):
    assert (DATA / name).stat().st_size < 300_000


def test_readme_names_every_file():
    readme = (DATA / "README.md").read_text()
    for name in [*SHIPPED, "nnspec/data/builtin/digits.npz"]:
        assert f"`{name}`" in readme
    assert readme.count("CC BY 4.0") >= 2


@pytest.mark.parametrize("name, task, sizes, dtype", [
    ("iris", "multiclass", (105, 30, 15), np.float32),
    ("moons", "binary", (800, 200, 0), np.float32),
    ("linear", "regression", (200, 0, 0), np.float32),
    ("regression", "regression", (1000, 0, 0), np.float64),
])
def test_example_specs_load(name, task, sizes, dtype):
    spec, diags = load_spec(ROOT / "specs" / f"{name}.nn", require_data=True)
    assert spec is not None, diags
    assert task_of(spec) == task
    ds = load_spec_data(spec)
    got = tuple(0 if p is None else len(p) for p in (ds.train, ds.val, ds.test))
    assert got == sizes and ds.train.x.dtype == dtype
    assert ds.n_features == spec.model.features and not ds.warnings
    if name == "iris":
        assert ds.classes == ["setosa", "versicolor", "virginica"]
        assert set(ds.class_counts(ds.test).values()) == {5}
    for f in ds.files:
        assert Path(f.resolved).is_file()
