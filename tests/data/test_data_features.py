"""load_features (nnspec predict / eval): new inputs read and scaled exactly like training."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from data_helpers import fails, load, write

from nnspec import ir
from nnspec.data import load_features
from nnspec.ops.sources import Csv, Moons, Npz

IRIS = ("sepal_length,sepal_width,petal_length,petal_width,species\n"
        "5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n"
        "6.4,3.2,4.5,1.5,versicolor\n6.3,3.3,6.0,2.5,virginica\n5.8,2.7,5.1,1.9,virginica\n")


@pytest.fixture
def iris(tmp_path):
    write(tmp_path, "iris.csv", IRIS)
    ds = load(Csv(path="iris.csv", target="species"), folder=tmp_path, n_inputs=4,
              n_outputs=3, task="multiclass", scale="standardize")
    # The run directory keeps the schema as JSON.
    return ds, json.loads(json.dumps(ds.schema()))


def test_training_file_reads_back_identically(tmp_path, iris):
    ds, schema = iris
    f = load_features(tmp_path / "iris.csv", schema, dtype=np.float64)
    np.testing.assert_array_equal(f.x, ds.train.x)
    np.testing.assert_array_equal(f.y, ds.train.y)
    assert f.file.sha256 == ds.files[0].sha256 and f.file.role == "input"


def test_columns_by_name_in_any_order_without_target(tmp_path, iris):
    ds, schema = iris
    write(tmp_path, "new.csv", "id,petal_width,sepal_length,petal_length,sepal_width\n"
                               "a,0.2,5.1,1.4,3.5\nb,1.9,5.8,5.1,2.7\n")
    f = load_features(tmp_path / "new.csv", schema, dtype=np.float64)
    np.testing.assert_array_equal(f.x, ds.train.x[[0, 5]])
    np.testing.assert_array_equal(f.raw, [[5.1, 3.5, 1.4, 0.2], [5.8, 2.7, 5.1, 1.9]])
    assert f.y is None


@pytest.mark.parametrize("text, y", [
    ("5.1,3.5,1.4,0.2\n5.8,2.7,5.1,1.9\n", None),
    ("5.1,3.5,1.4,0.2,setosa\n5.8,2.7,5.1,1.9,virginica\n", [0, 2]),
])
def test_headerless_by_position(tmp_path, iris, text, y):
    ds, schema = iris
    write(tmp_path, "p.csv", text)
    f = load_features(tmp_path / "p.csv", schema, dtype=np.float64)
    np.testing.assert_array_equal(f.x, ds.train.x[[0, 5]])
    assert (f.y is None) if y is None else f.y.tolist() == y


def test_headerless_training_layout_is_reused(tmp_path):
    # Trained on a headerless file with the target first: the same layout reads back.
    write(tmp_path, "t.csv", "1,0.5,2.0\n0,1.5,3.0\n1,2.5,1.0\n")
    ds = load(Csv(path="t.csv", target=0, header=False), folder=tmp_path, n_inputs=2,
              task="binary", scale="normalize")
    f = load_features(tmp_path / "t.csv", ds.schema(), dtype=np.float64)
    np.testing.assert_array_equal(f.x, ds.train.x)
    np.testing.assert_array_equal(f.y, ds.train.y)
    # A features-only file (2 columns) is read as the features.
    write(tmp_path, "p.csv", "0.5,2.0\n")
    np.testing.assert_array_equal(load_features(tmp_path / "p.csv", ds.schema()).x,
                                  ds.train.x[:1].astype(np.float32))


def test_generated_training_data_and_npz_input(tmp_path):
    ds = load(Moons(samples=50), n_inputs=2, task="binary", scale="standardize",
              split=ir.Split(validation=0.2))
    raw = ds.scaler.invert(ds.val.x)
    buf = io.BytesIO()
    np.savez(buf, x=raw, y=ds.val.y)
    write(tmp_path, "v.npz", buf.getvalue())
    f = load_features(tmp_path / "v.npz", ds.schema(), dtype=np.float64)
    np.testing.assert_allclose(f.x, ds.val.x, atol=1e-12)
    np.testing.assert_array_equal(f.y, ds.val.y)
    write(tmp_path, "v.csv", "x0,x1\n" + "".join(f"{a!r},{b!r}\n" for a, b in raw.tolist()))
    np.testing.assert_allclose(load_features(tmp_path / "v.csv", ds.schema(),
                                             dtype=np.float64).x, ds.val.x, atol=1e-12)


def test_npz_training_array_names_are_reused(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, feats=np.arange(6.0).reshape(3, 2), out=np.arange(3.0))
    write(tmp_path, "d.npz", buf.getvalue())
    ds = load(Npz(path="d.npz", x="feats", y="out"), folder=tmp_path, n_inputs=2)
    f = load_features(tmp_path / "d.npz", ds.schema(), dtype=np.float64)
    np.testing.assert_array_equal(f.x, ds.train.x)
    np.testing.assert_array_equal(f.y, ds.train.y)


def test_errors_point_at_the_input_file(tmp_path, iris):
    _, schema = iris
    write(tmp_path, "bad.csv", "sepal_length,sepal_width,petal_length,petal_width\n1,2,x,4\n")
    d = fails("E403", load_features, tmp_path / "bad.csv", schema)
    assert d.path == (tmp_path / "bad.csv").as_posix() and d.span is None
    assert f"{(tmp_path / 'bad.csv').as_posix()}:2:3:" in d.message
    write(tmp_path, "wide.csv", "1,2,3,4,5,6\n")
    fails("E405", load_features, tmp_path / "wide.csv", schema)
