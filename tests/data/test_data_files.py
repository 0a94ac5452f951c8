"""CSV and npz sources: the variants a spec can write, checked against numpy's own readers."""

from __future__ import annotations

import io

import numpy as np
import pytest
from data_helpers import load, write

from nnspec.data import load_data
from nnspec.ops.sources import Csv, Npz

TABLE = np.array([[5.1, 3.5, 1.4, 0.2, 0], [4.9, 3.0, 1.4, 0.2, 0], [6.2, 2.9, 4.3, 1.3, 1],
                  [5.9, 3.0, 5.1, 1.8, 2], [6.0, 2.2, 5.0, 1.5, 2], [5.5, 2.4, 3.8, 1.1, 1]])
NAMES = ["a", "b", "c", "d", "label"]
SPECIES = ["setosa", "versicolor", "virginica"]


def _csv(table, *, header=True, delimiter=",", labels=None, eol="\n"):
    out = [delimiter.join(NAMES)] if header else []
    for row in table:
        cells = [repr(float(v)) for v in row[:-1]]
        cells.append(labels[int(row[-1])] if labels else str(int(row[-1])))
        out.append(delimiter.join(cells))
    return eol.join(out) + eol


@pytest.mark.parametrize("header, delimiter, target, eol", [
    (True, ",", "label", "\n"),
    (True, ",", 4, "\n"),
    (False, ",", 4, "\n"),
    (True, ";", "label", "\r\n"),
    (False, "\t", 4, "\r\n"),
    (True, "|", "label", "\n"),
])
def test_csv_variants(tmp_path, header, delimiter, target, eol):
    write(tmp_path, "t.csv", _csv(TABLE, header=header, delimiter=delimiter, eol=eol))
    src = Csv(path="t.csv", target=target, header=header, delimiter=delimiter)
    ds = load(src, folder=tmp_path, n_inputs=4, n_outputs=3, task="multiclass")
    oracle = np.loadtxt(tmp_path / "t.csv", delimiter=delimiter, skiprows=int(header))
    np.testing.assert_array_equal(ds.train.x, oracle[:, :4])
    np.testing.assert_array_equal(ds.train.y, oracle[:, 4].astype(np.int64))
    assert ds.train.y.dtype == np.int64 and ds.classes is None
    assert ds.feature_names == (NAMES[:4] if header else ["0", "1", "2", "3"])


@pytest.mark.parametrize("features, cols", [
    (("d", "a"), [3, 0]),
    ((2,), [2]),
    (("b", 3), [1, 3]),
])
def test_csv_feature_subset_in_the_given_order(tmp_path, features, cols):
    write(tmp_path, "t.csv", _csv(TABLE))
    src = Csv(path="t.csv", target="label", features=features)
    ds = load(src, folder=tmp_path, n_inputs=len(cols), n_outputs=3, task="multiclass")
    np.testing.assert_array_equal(ds.train.x, TABLE[:, cols])
    assert ds.feature_names == [NAMES[c] for c in cols]


def test_csv_target_in_the_middle_and_regression(tmp_path):
    write(tmp_path, "t.csv", _csv(TABLE))
    ds = load(Csv(path="t.csv", target="c"), folder=tmp_path, n_inputs=4)
    np.testing.assert_array_equal(ds.train.x, TABLE[:, [0, 1, 3, 4]])
    np.testing.assert_array_equal(ds.train.y, TABLE[:, [2]])
    assert ds.train.y.shape == (6, 1) and ds.target_names == ["c"]


def test_string_classes_map_in_sorted_order(tmp_path):
    labels = ["virginica", "setosa", "versicolor"]  # the file's order of first appearance
    table = TABLE.copy()
    table[:, 4] = [0, 0, 2, 1, 1, 2]
    write(tmp_path, "t.csv", _csv(table, labels=labels))
    ds = load(Csv(path="t.csv", target="label"), folder=tmp_path, n_inputs=4, n_outputs=3,
              task="multiclass")
    assert ds.classes == SPECIES
    expected = [SPECIES.index(labels[int(v)]) for v in table[:, 4]]
    assert ds.train.y.tolist() == expected


@pytest.mark.parametrize("labels, expected_classes, y", [
    (["no", "yes"], ["no", "yes"], [0, 0, 1, 1, 1, 1]),
    (["yes", "no"], ["no", "yes"], [1, 1, 0, 0, 0, 0]),
])
def test_binary_string_labels(tmp_path, labels, expected_classes, y):
    table = TABLE.copy()
    table[:, 4] = [0, 0, 1, 1, 1, 1]
    write(tmp_path, "t.csv", _csv(table, labels=labels))
    ds = load(Csv(path="t.csv", target="label"), folder=tmp_path, n_inputs=4, task="binary")
    assert ds.classes == expected_classes
    assert ds.train.y.shape == (6, 1) and ds.train.y[:, 0].tolist() == y


def test_binary_numeric_labels_and_dtype(tmp_path):
    table = TABLE.copy()
    table[:, 4] = [0, 1, 0, 1, 1, 0]
    write(tmp_path, "t.csv", _csv(table))
    ds = load(Csv(path="t.csv", target=4), folder=tmp_path, n_inputs=4, task="binary",
              dtype=np.float32)
    assert ds.train.x.dtype == np.float32 and ds.train.y.dtype == np.float32
    assert ds.train.y[:, 0].tolist() == [0, 1, 0, 1, 1, 0] and ds.classes is None


def test_csv_quoting_bom_blank_lines_and_spaces(tmp_path):
    text = ('\ufeffname, x ,"y, quoted",target\n'
            '\n'
            '"first, row", 1.5 ,2,a\n'
            '   \n'
            'second,-3e2,"4",b\n')
    write(tmp_path, "q.csv", text)
    src = Csv(path="q.csv", target="target", features=("x", "y, quoted"))
    ds = load(src, folder=tmp_path, n_inputs=2, n_outputs=2, task="multiclass")
    np.testing.assert_array_equal(ds.train.x, [[1.5, 2.0], [-300.0, 4.0]])
    assert ds.feature_names == ["x", "y, quoted"] and ds.classes == ["a", "b"]


def test_file_hash_and_paths(tmp_path):
    import hashlib

    path = write(tmp_path, "sub/t.csv", _csv(TABLE))
    ds = load(Csv(path="sub/t.csv", target="label"), folder=tmp_path, n_inputs=4,
              n_outputs=3, task="multiclass")
    [f] = ds.files
    assert f.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ds.hashes == {"sub/t.csv": f.sha256} and f.role == "source"
    assert f.resolved == (tmp_path / "sub/t.csv").as_posix() and f.size == path.stat().st_size
    # An absolute path is used as it is.
    ds2 = load(Csv(path=str(path), target="label"), folder="/nonexistent", n_inputs=4,
               n_outputs=3, task="multiclass")
    assert ds2.files[0].sha256 == f.sha256


def _npz(tmp_path, name="d.npz", **arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write(tmp_path, name, buf.getvalue())


@pytest.mark.parametrize("y, n_outputs, task, expected", [
    (np.arange(6.0), 1, "regression", np.arange(6.0)[:, None]),
    (np.arange(12.0).reshape(6, 2), 2, "regression", np.arange(12.0).reshape(6, 2)),
    (np.array([0, 1, 1, 0, 1, 0]), 1, "binary", np.array([[0, 1, 1, 0, 1, 0]]).T),
    (np.array([2, 0, 1, 2, 0, 1], np.int32), 3, "multiclass", np.array([2, 0, 1, 2, 0, 1])),
    (np.eye(3)[[2, 0, 1, 2, 0, 1]], 3, "multiclass", np.array([2, 0, 1, 2, 0, 1])),
    (np.array(["b", "a", "c", "b", "a", "c"]), 3, "multiclass", np.array([1, 0, 2, 1, 0, 2])),
])
def test_npz_targets(tmp_path, y, n_outputs, task, expected):
    x = np.arange(18.0).reshape(6, 3)
    _npz(tmp_path, feats=x, tgt=y)
    ds = load(Npz(path="d.npz", x="feats", y="tgt"), folder=tmp_path, n_inputs=3,
              n_outputs=n_outputs, task=task)
    np.testing.assert_array_equal(ds.train.x, x)
    np.testing.assert_array_equal(ds.train.y, expected)
    assert ds.train.y.dtype == (np.int64 if task == "multiclass" else np.float64)


def test_npz_one_dimensional_x_is_one_feature(tmp_path):
    _npz(tmp_path, x=np.linspace(0, 1, 5), y=np.linspace(1, 2, 5))
    ds = load(Npz(path="d.npz"), folder=tmp_path, n_inputs=1)
    assert ds.train.x.shape == (5, 1) and ds.train.y.shape == (5, 1)


def test_separate_validation_and_test_sources_share_the_class_mapping(tmp_path):
    write(tmp_path, "train.csv", "f,cls\n1,b\n2,c\n3,b\n")
    write(tmp_path, "val.csv", "f,cls\n4,a\n5,c\n")
    write(tmp_path, "test.csv", "f,cls\n6,a\n")
    from nnspec import ir

    data = ir.Data(source=Csv(path="train.csv", target="cls"),
                   validation=Csv(path="val.csv", target="cls"),
                   test=Csv(path="test.csv", target="cls"), scale="standardize")
    ds = load_data(data, spec_dir=tmp_path, seed=0, n_inputs=1, n_outputs=3,
                   task="multiclass", dtype=np.float64)
    assert ds.classes == ["a", "b", "c"]
    assert ds.train.y.tolist() == [1, 2, 1] and ds.val.y.tolist() == [0, 2]
    assert ds.test.y.tolist() == [0]
    # Scaled with the training statistics (mean 2, std sqrt(2/3)).
    std = np.sqrt(2 / 3)
    np.testing.assert_allclose(ds.val.x[:, 0], [(4 - 2) / std, (5 - 2) / std])
    assert [f.role for f in ds.files] == ["source", "validation", "test"]
