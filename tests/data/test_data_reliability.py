"""Issue 21, the data part: only regular files are read, the CSV reader's fast pass gives what
the careful one does, duplicate header names are refused, the scaler is finite for any finite
data, and no numpy warning escapes (each case is a diagnostic instead).

Every test here runs with warnings turned into errors, so a numpy RuntimeWarning anywhere in
the data stage fails it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from data_helpers import fails, load, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnspec.data import Scaler, csvfile, load_features
from nnspec.data.csvfile import CsvFile
from nnspec.data.errors import Where
from nnspec.data.files import NotRegular, open_regular, probe
from nnspec.data.scaling import dominant_rows, mean_std
from nnspec.diagnostics import DiagnosticError
from nnspec.ops.sources import Csv, Npz
from nnspec.pipeline import diagnose

pytestmark = pytest.mark.filterwarnings("error")
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = {"task": "regression", "n_features": 2, "n_outputs": 1, "feature_names": ["a", "b"],
          "target_names": ["y"], "classes": None, "scaler": {"kind": "none", "n_features": 2},
          "layout": None}


# ----------------------------------------------------------------------------- regular files


def _not_a_file(tmp_path: Path, kind: str) -> Path:
    if kind == "fifo":
        path = tmp_path / "pipe.csv"
        os.mkfifo(path)
        return path
    if kind == "folder":
        (tmp_path / "dir.csv").mkdir()
        return tmp_path / "dir.csv"
    if kind == "socket":
        import socket

        path = tmp_path / "s.csv"
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
        return path
    return Path("/dev/zero")


KINDS = {"fifo": "a named pipe (FIFO)", "folder": "a folder", "socket": "a socket",
         "device": "a character device"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_open_regular_refuses_at_once(tmp_path, kind):
    path = _not_a_file(tmp_path, kind)
    start = time.monotonic()
    with pytest.raises(NotRegular) as info:
        os.close(open_regular(path))
    assert info.value.kind == KINDS[kind]
    assert probe(path) == KINDS[kind]
    assert time.monotonic() - start < 0.5


def test_probe_passes_regular_and_missing_files(tmp_path):
    write(tmp_path, "d.csv", "a\n1\n")
    assert probe(tmp_path / "d.csv") is None and probe(tmp_path / "none.csv") is None


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("fmt", ["csv", "npz"])
def test_run_and_predict_readers_refuse_by_name(tmp_path, kind, fmt):
    path = _not_a_file(tmp_path, kind)
    src = (Csv(path=str(path), target="y") if fmt == "csv" else Npz(path=str(path)))
    start = time.monotonic()
    diag = fails("E413", load, src, folder=tmp_path, n_inputs=2)
    assert f"`{path}` is {KINDS[kind]}" in diag.message
    if fmt == "csv":
        diag = fails("E413", load_features, str(path), SCHEMA)
        assert f"is {KINDS[kind]}" in diag.message
    assert time.monotonic() - start < 1.0


SPEC = """model m {{
    input 2
    dense 1
}}
data {{
    source csv("{path}", target=y)
}}
train {{ loss mse }}
"""


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_check_refuses_by_name(tmp_path, kind):
    path = _not_a_file(tmp_path, kind)
    spec = tmp_path / "m.nn"
    _, diags = diagnose(SPEC.format(path=path.name if kind != "device" else path), str(spec))
    [d] = diags
    assert d.code == "E413" and KINDS[kind] in d.message and d.span.line == 6


def test_check_leaves_regular_and_missing_data_files_alone(tmp_path):
    write(tmp_path, "d.csv", "a,b,y\n1,2,3\n")
    for name in ("d.csv", "missing.csv"):
        assert diagnose(SPEC.format(path=name), str(tmp_path / "m.nn"))[1] == []


def test_language_server_analysis_refuses_a_fifo(tmp_path):
    pytest.importorskip("pygls")
    from nnspec.lsp.analysis import analyze

    _not_a_file(tmp_path, "fifo")
    found = analyze(SPEC.format(path="pipe.csv"), str(tmp_path / "m.nn")).diagnostics
    assert [d.code for d in found] == ["E413"]


@pytest.mark.parametrize("command", ["check", "run"])
def test_cli_on_a_fifo_does_not_block(tmp_path, command):
    _not_a_file(tmp_path, "fifo")
    (tmp_path / "m.nn").write_text(SPEC.format(path="pipe.csv"))
    argv = [sys.executable, "-m", "nnspec.cli", command, "m.nn"]
    if command == "run":
        argv += ["--out", str(tmp_path / "r")]
    out = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1, out.stderr
    assert "error[E413]: `pipe.csv` is a named pipe (FIFO)" in out.stderr
    assert "Traceback" not in out.stderr


# ----------------------------------------------------------------------------- CSV reader

CELLS = st.one_of(
    st.sampled_from(["1", "2", "0.5", "-1e3", " 7", "8 ", '"9"', "cat", "dog"]),
    st.sampled_from(["1", "2.5", "-3", " 4 ", "nan", "inf", "", "a", "NA", '"x,y"', "1_0",
                     "1e400", " ", '"', "none", "-", "\u00a0", "#", "7#"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr))


def _outcome(fn):
    try:
        x, y = fn()
    except DiagnosticError as e:
        return ("error", e.diagnostics[0].code, e.diagnostics[0].message)
    return ("ok", x.tolist(), None if y is None else [str(v) for v in y.tolist()])


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.lists(CELLS, min_size=2, max_size=4), min_size=1, max_size=5),
       eol=st.sampled_from(["\n", "\r\n", "\r"]), blank=st.booleans(), header=st.booleans(),
       target=st.integers(0, 1), chunk=st.sampled_from([1, 2, csvfile.ROWS]))
def test_fast_pass_reads_what_the_careful_pass_reads(tmp_path_factory, rows, eol, blank,
                                                      header, target, chunk):
    """numpy.loadtxt's pass either raises (then the csv-module pass decides) or gives the very
    values, labels and errors the csv-module definition does, whatever its chunk size."""
    folder = tmp_path_factory.mktemp("c")
    lines = [",".join(r) for r in rows]
    if blank:
        lines.insert(1, "")
    (folder / "f.csv").write_bytes((eol.join(lines) + eol).encode())

    def read(careful: bool):
        f = CsvFile.open("f.csv", folder, Where("m.nn"), "source", ",")
        head = f.head(header)
        t = min(target, head.ncols - 1)
        cols = [c for c in range(head.ncols) if c != t]
        return f._careful(cols, [t]) if careful else f.read(cols, [t])

    default, csvfile.ROWS = csvfile.ROWS, chunk
    try:
        assert _outcome(lambda: read(False)) == _outcome(lambda: read(True))
    finally:
        csvfile.ROWS = default


@pytest.mark.parametrize("text, line, message", [
    ("a,b,y\n1,2,3\n4,5\n", 3, "row has 2 fields but the header has 3"),
    ("a,b,y\n1,2,3\n4,5,6,7\n", 3, "row has 4 fields but the header has 3"),
    ("a,b,y\n1,2,3\n  \n4,5\n", 4, "row has 2 fields"),
])
def test_ragged_rows_are_refused_even_when_the_unused_cells_parse(tmp_path, text, line,
                                                                  message):
    # (numpy.loadtxt with usecols does not check row widths; the reader must.)
    write(tmp_path, "d.csv", text)
    diag = fails("E413", load, Csv(path="d.csv", target="y", features=("a",)), folder=tmp_path,
                 n_inputs=1)
    assert f"d.csv:{line}: {message}" in diag.message


def test_fast_pass_locates_a_non_finite_cell_after_blank_lines_and_quotes(tmp_path):
    body = "".join(f'{i},"{i + 0.5}",{i % 2}\n' + ("\n" if i % 3 == 0 else "")
                   for i in range(30))
    write(tmp_path, "d.csv", "a,b,y\n" + body + "7,inf,1\n")
    diag = fails("E403", load, Csv(path="d.csv", target="y"), folder=tmp_path, n_inputs=2)
    assert diag.message.startswith(f"{tmp_path / 'd.csv'}:{1 + 30 + 10 + 1}:2: feature column "
                                   "`b` has `inf`, not a finite number")


def test_string_labels_bom_crlf_and_unused_text_column(tmp_path):
    write(tmp_path, "d.csv",
          "\ufeffid,a,b,kind\r\nx1,1,2,cat\r\nx2,3,4, dog \r\n\r\nx3,5,6,cat\r\n")
    ds = load(Csv(path="d.csv", target="kind", features=("a", "b")), folder=tmp_path,
              n_inputs=2, n_outputs=2, task="multiclass")
    np.testing.assert_array_equal(ds.train.x, [[1, 2], [3, 4], [5, 6]])
    assert ds.classes == ["cat", "dog"] and ds.train.y.tolist() == [0, 1, 0]


def test_missing_target_in_a_string_label_column_is_located(tmp_path):
    write(tmp_path, "d.csv", "a,kind\n1,cat\n2,dog\n\n3,NA\n")
    diag = fails("E404", load, Csv(path="d.csv", target="kind"), folder=tmp_path, n_inputs=1,
                 n_outputs=2, task="multiclass")
    assert ":5:2: missing target (`NA`) in column `kind`" in diag.message


# ----------------------------------------------------------------------------- duplicate names


@pytest.mark.parametrize("header, first, second, name", [
    ("a,b,a,y", 1, 3, "`a`"),
    ("a,y,b, y ", 2, 4, "`y`"),
    ("a,,b,,y", 2, 4, "`` (an empty name)"),
])
def test_duplicate_column_names_are_refused_with_both_positions(tmp_path, monkeypatch, header,
                                                                 first, second, name):
    write(tmp_path, "d.csv", f"{header}\n" + ",".join("1" * len(header.split(","))) + "\n")
    diag = fails("E414", load, Csv(path="d.csv", target="y", features=("b",)),
                 folder=tmp_path, n_inputs=1)
    shown = f"{tmp_path / 'd.csv'}"
    assert diag.message == (f"{shown}:1:{second}: column {second} is named {name}, like column "
                            f"{first} ({shown}:1:{first})")
    # predict and eval read the same way
    monkeypatch.chdir(tmp_path)
    schema = {**SCHEMA, "feature_names": ["b"], "n_features": 1}
    assert fails("E414", load_features, "d.csv", schema).message.startswith(f"d.csv:1:{second}")


def test_no_header_means_no_names_to_repeat(tmp_path):
    write(tmp_path, "d.csv", "1,1,0\n2,2,1\n")
    assert len(load(Csv(path="d.csv", target=2, header=False), folder=tmp_path, n_inputs=2)
               .train) == 2


# ----------------------------------------------------------------------------- scaler


@pytest.mark.parametrize("scale", [1e200, 1e300, 8e307, 1e-200, 1e-310])
@pytest.mark.parametrize("kind", ["standardize", "normalize"])
def test_finite_data_gives_a_finite_scaler(kind, scale):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 2))
    base[:, 1] = np.abs(base[:, 1]) + 1.0  # one column of one sign, one of both
    base /= np.abs(base).max(axis=0)  # within [-1, 1], so x stays finite
    x = base * scale
    s = Scaler.fit(kind, x)
    assert all(np.isfinite(v).all() for v in s.stats.values())
    out = s.apply(x)
    assert np.isfinite(out).all()
    # Same values as the formula on the unscaled data, up to rounding.
    ref = Scaler.fit(kind, base).apply(base)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9)
    assert np.isfinite(s.apply(x, np.float32)).all()
    back = Scaler.from_dict(s.to_dict())
    np.testing.assert_array_equal(back.apply(x), out)


def test_range_beyond_float64_still_normalizes():
    x = np.array([[-1.5e308], [0.0], [1.6e308]])
    s = Scaler.fit("normalize", x)
    np.testing.assert_allclose(s.apply(x)[:, 0], [0.0, 1.5 / 3.1, 1.0])
    np.testing.assert_allclose(s.invert(s.apply(x)), x, rtol=1e-12)


def test_ordinary_data_is_scaled_bit_for_bit_as_before():
    # The plain formula, as nnspec computed it before the rescaling: same bits.
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1e3, size=(300, 4))
    s = Scaler.fit("standardize", x)
    np.testing.assert_array_equal(s.apply(x), (x - x.mean(axis=0)) / x.std(axis=0))
    s = Scaler.fit("normalize", x)
    lo, hi = x.min(axis=0), x.max(axis=0)
    np.testing.assert_array_equal(s.apply(x), (x - lo) / (hi - lo))


def test_mean_std_of_huge_values():
    x = np.array([[1e308], [-1e308], [1e308], [-1e308]])
    mean, std = mean_std(x)
    assert mean[0] == 0.0 and std[0] == pytest.approx(1e308)


def test_huge_features_train_to_a_finite_run(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 2))
    lines = ["a,b,y"] + [f"{a * 1e200:.17g},{b * 1e200:.17g},{int(a > 0)}" for a, b in x]
    write(tmp_path, "d.csv", "\n".join(lines) + "\n")
    ds = load(Csv(path="d.csv", target="y"), folder=tmp_path, n_inputs=2, task="binary",
              dtype=np.float32, scale="standardize")
    assert np.isfinite(ds.train.x).all() and abs(float(ds.train.x.std()) - 1.0) < 1e-3
    assert np.isfinite(ds.scaler.stats["std"]).all()


def test_value_beyond_float32_is_refused_but_float64_keeps_it(tmp_path):
    write(tmp_path, "d.csv", "a,y\n1,0\n5e38,1\n2,0\n")
    src = Csv(path="d.csv", target="y")
    diag = fails("E415", load, src, folder=tmp_path, n_inputs=1, dtype=np.float32)
    assert diag.message.startswith(f"{tmp_path / 'd.csv'}:3:1: feature `a` is 5e+38")
    assert load(src, folder=tmp_path, n_inputs=1, dtype=np.float64).train.x[1, 0] == 5e38


def test_regression_target_beyond_float32_is_refused(tmp_path):
    write(tmp_path, "d.csv", "a,y\n1,0.5\n2,-1e39\n")
    diag = fails("E415", load, Csv(path="d.csv", target="y"), folder=tmp_path, n_inputs=1,
                 dtype=np.float32)
    assert diag.message.startswith(f"{tmp_path / 'd.csv'}:3:2: target `y` is -1e+39")


def test_predict_input_far_outside_training_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "in.csv", "a,b\n1,2\n3,1e300\n")
    schema = {**SCHEMA, "scaler": {"kind": "standardize", "n_features": 2, "mean": [0.0, 0.0],
                                   "std": [1.0, 1e-5]}}
    diag = fails("E415", load_features, "in.csv", schema)
    assert diag.message.startswith("in.csv:3:2: feature `b` is 1e+300 after standardizing")


# ----------------------------------------------------------------------------- extreme rows


def test_a_few_extreme_rows_are_named():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1000, 3))
    x[[17, 400], 1] = [1e7, -3e7]
    [(col, rows, std, rest)] = dominant_rows(x)
    assert col == 1 and rows.tolist() == [17, 400] and rest < std / 10


@pytest.mark.parametrize("make", [
    lambda x: x,                                                    # ordinary
    lambda x: np.where(np.arange(len(x))[:, None] == 5, 1.0, 0.0),  # a rare indicator
    lambda x: np.exp(3 * x),                                        # heavy tail, many rows
])
def test_no_warning_without_a_few_dominant_rows(make):
    x = make(np.random.default_rng(4).normal(size=(2000, 2)))
    assert dominant_rows(x) == []


def test_extreme_rows_warning_names_file_positions(tmp_path):
    rows = [f"{i % 5},{i % 3},{i % 2}" for i in range(50)]
    rows[20] = "1e12,1,0"
    write(tmp_path, "d.csv", "a,b,y\n" + "\n".join(rows) + "\n")
    ds = load(Csv(path="d.csv", target="y"), folder=tmp_path, n_inputs=2, task="binary",
              scale="normalize")
    [w] = [w for w in ds.warnings if "dominate" in w.message]
    assert w.code == "W105" and w.severity == "warning"
    assert w.message.endswith(f"feature `a`: {tmp_path / 'd.csv'}:22:1")
    none = load(Csv(path="d.csv", target="y"), folder=tmp_path, n_inputs=2, task="binary")
    assert not [w for w in none.warnings if "dominate" in w.message]
