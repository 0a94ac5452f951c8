"""Every data diagnostic, rendered against its spec: tests/data/golden/<CODE>.stderr.

Each golden file holds the renders of all cases of that code, in order, separated by blank
lines. `NNSPEC_UPDATE_GOLDEN=1` rewrites them; the diff is the review. The cases run in a
temporary folder with the spec at `proj/model.nn`, so paths in messages are stable.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from data_helpers import span_of, write

from nnspec import ir
from nnspec.data import load_data, load_features, load_spec_data
from nnspec.diagnostics import DiagnosticError, render
from nnspec.ops import sources as S
from nnspec.ops.layers import Dense
from nnspec.ops.losses import Mse

GOLDEN = Path(__file__).parent / "golden"
IRIS = ("sepal_length,sepal_width,petal_length,petal_width,species\n"
        "5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n"
        "6.4,3.2,4.5,1.5,versicolor\n6.3,3.3,6.0,2.5,virginica\n5.8,2.7,5.1,1.9,virginica\n")
TASK = {"categorical_crossentropy": "multiclass", "binary_crossentropy": "binary",
        "mse": "regression"}


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@dataclass
class Case:
    """A spec whose data block is `data { <statements> }`; `source` (and `validation` /
    `test` / `split`) are the written values, parsed here by hand into ops with spans."""

    code: str
    source: str
    make: Callable[..., S.Source]
    files: dict[str, str | bytes] = field(default_factory=dict)
    n_in: int = 4
    n_out: int = 3
    loss: str = "categorical_crossentropy"
    split: ir.Split | None = None
    split_text: str = ""
    validation: tuple[str, Callable[..., S.Source]] | None = None
    scale: str = "none"

    def text(self) -> str:
        act = {"categorical_crossentropy": " softmax", "binary_crossentropy": " sigmoid"}
        lines = [f"    source {self.source}"]
        if self.validation:
            lines.append(f"    validation {self.validation[0]}")
        if self.split_text:
            lines.append(f"    {self.split_text}")
        if self.scale != "none":
            lines.append(f"    {self.scale}")
        body = "\n".join(lines)
        return (f"model m {{\n    input {self.n_in}\n    dense {self.n_out}"
                f"{act.get(self.loss, '')}\n}}\ndata {{\n{body}\n}}\n"
                f"train {{ loss {self.loss} }}\n")

    def data(self) -> ir.Data:
        text = self.text()
        kw = {}
        if self.validation:
            kw["validation"] = self.validation[1](span=span_of(text, self.validation[0]))
        if self.split is not None:
            kw["split"] = self.split.model_copy(update={"span": span_of(text, self.split_text)})
        return ir.Data(source=self.make(span=span_of(text, self.source)), scale=self.scale,
                       span=span_of(text, "data {"), **kw)

    def run(self):
        return load_data(self.data(), spec_dir="proj", seed=0, n_inputs=self.n_in,
                         n_outputs=self.n_out, task=TASK[self.loss], spec_path="proj/model.nn")


def csv(path, target, **kw):
    return lambda **sp: S.Csv(path=path, target=target, **kw, **sp)


def npz(path, **kw):
    return lambda **sp: S.Npz(path=path, **kw, **sp)


REG = {"n_in": 2, "n_out": 1, "loss": "mse"}
CASES = [
    Case("E401", 'csv("data/iris.cvs", target=species)', csv("data/iris.cvs", "species"),
         {"data/iris.csv": IRIS}),
    Case("E401", 'npz("weights/none.npz")', npz("weights/none.npz"), **REG),
    Case("E402", 'csv("iris.csv", target=specis)', csv("iris.csv", "specis"), {"iris.csv": IRIS}),
    Case("E402", 'csv("iris.csv", target=7)', csv("iris.csv", 7), {"iris.csv": IRIS}),
    Case("E402", 'csv("iris.csv", target=species, header=false)',
         csv("iris.csv", "species", header=False), {"iris.csv": IRIS}),
    Case("E402", 'csv("semi.csv", target=species)', csv("semi.csv", "species"),
         {"semi.csv": IRIS.replace(",", ";")}),
    Case("E402", 'npz("d.npz", x=features)', npz("d.npz", x="features"),
         {"d.npz": npz_bytes(feature=np.zeros((3, 2)), y=np.zeros(3))}, **REG),
    Case("E403", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS.replace("3.0,1.4", "3.O,1.4")}),
    Case("E403", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS.replace("6.0,2.5", "inf,2.5")}),
    Case("E403", 'csv("iris.csv", target=species, features=(0, 1))',
         csv("iris.csv", "species", features=(0, 1)), {"iris.csv": IRIS}, **REG),
    Case("E403", 'npz("s.npz")', npz("s.npz"),
         {"s.npz": npz_bytes(x=np.array([["a", "b"]]), y=np.zeros(1))}, **REG),
    Case("E404", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS.replace("6.4,3.2,4.5", "6.4,,4.5")}),
    Case("E404", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS.replace("5.8,2.7", "NA,2.7")}),
    Case("E404", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS.replace(",versicolor\n6.4", ",\n6.4")}),
    Case("E404", 'npz("n.npz")', npz("n.npz"),
         {"n.npz": npz_bytes(x=np.array([[1.0, 2.0], [np.nan, 0.0]]), y=np.zeros(2))}, **REG),
    Case("E405", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS}, n_in=3),
    Case("E405", "moons()", lambda **sp: S.Moons(**sp), n_in=3, n_out=1,
         loss="binary_crossentropy"),
    Case("E406", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS}, n_out=2),
    Case("E406", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS}, n_out=1, loss="binary_crossentropy"),
    Case("E406", 'csv("num.csv", target=k)', csv("num.csv", "k"),
         {"num.csv": "a,b,k\n1,2,0\n3,4,1\n5,6,3\n"}, n_in=2),
    Case("E406", 'csv("num.csv", target=k)', csv("num.csv", "k"),
         {"num.csv": "a,b,k\n1,2,0\n3,4,1\n5,6,-1\n"}, n_in=2, n_out=1,
         loss="binary_crossentropy"),
    Case("E406", 'npz("h.npz")', npz("h.npz"),
         {"h.npz": npz_bytes(x=np.zeros((2, 2)), y=np.array([[1, 0, 0], [0, 1, 1]]))}, n_in=2),
    Case("E409", "linear(samples=3)", lambda **sp: S.Linear(samples=3, **sp), n_in=1, n_out=1,
         loss="mse", split=ir.Split(validation=0.5, test=0.4),
         split_text="split validation=0.5, test=0.4"),
    Case("E409", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS}, split=ir.Split(validation=0.3, test=0.3, stratify=True),
         split_text="split validation=0.3, test=0.3, stratify=true"),
    Case("E409", "sine()", lambda **sp: S.Sine(**sp), n_in=1, n_out=1, loss="mse",
         split=ir.Split(validation=0.2, stratify=True),
         split_text="split validation=0.2, stratify=true"),
    Case("E409", "xor()", lambda **sp: S.Xor(**sp), n_in=2, n_out=1,
         loss="binary_crossentropy", split=ir.Split(validation=0.2),
         split_text="split validation=0.2", validation=("xor(samples=50)",
                                                        lambda **sp: S.Xor(samples=50, **sp))),
    Case("E412", 'csv("head.csv", target=y)', csv("head.csv", "y"), {"head.csv": "a,b,y\n"},
         **REG),
    Case("E412", 'csv("blank.csv", target=y)', csv("blank.csv", "y"), {"blank.csv": "\n\n"},
         **REG),
    Case("E412", 'npz("e.npz")', npz("e.npz"),
         {"e.npz": npz_bytes(x=np.zeros((0, 2)), y=np.zeros(0))}, **REG),
    Case("E413", 'csv("iris.csv", target=species)', csv("iris.csv", "species"),
         {"iris.csv": IRIS.replace("6.4,3.2,4.5,1.5", "6.4,3.2,4.5")}),
    Case("E413", 'npz("bad.npz")', npz("bad.npz"), {"bad.npz": b"PK\x03\x04 not a zip"},
         **REG),
    Case("E413", 'npz("obj.npz")', npz("obj.npz"),
         {"obj.npz": npz_bytes(x=np.array([[1, "a"]], dtype=object), y=np.zeros(1))}, **REG),
    Case("E413", 'csv("latin1.csv", target=y)', csv("latin1.csv", "y"),
         {"latin1.csv": "a,b,y\n1,2,caf\xe9\n".encode("latin-1")}, **REG),
    Case("E413", 'csv("folder", target=y)', csv("folder", "y"), {"folder/x": "1"}, **REG),
    Case("E414", 'csv("dup.csv", target=species)', csv("dup.csv", "species"),
         {"dup.csv": IRIS.replace("petal_length,", "sepal_width,", 1)}),
    Case("E415", 'csv("big.csv", target=y)', csv("big.csv", "y"),
         {"big.csv": "a,b,y\n1,2,0.5\n3,1e39,1.5\n5,6,2.5\n"}, **REG),
    Case("E415", 'csv("big.csv", target=y)', csv("big.csv", "y"),
         {"big.csv": "a,b,y\n1,2,0.5\n3,4,1.5\n5,6,-4e38\n"}, **REG),
    Case("E415", 'csv("d.csv", target=y)', csv("d.csv", "y"),
         {"d.csv": "a,b,y\n1,2,0\n1,2,1\n1,2,0\n",
          "v.csv": "a,b,y\n1,2,0\n1,1e300,1\n"}, **REG, scale="standardize",
         validation=('csv("v.csv", target=y)', csv("v.csv", "y"))),
    Case("E305", 'npz("two.npz")', npz("two.npz"),
         {"two.npz": npz_bytes(x=np.zeros((3, 2)), y=np.zeros((3, 2)))}, **REG),
]


def _render_case(case: Case, tmp: Path) -> str:
    for name, content in case.files.items():
        write(tmp / "proj", name, content)
    (tmp / "proj").mkdir(exist_ok=True)
    with pytest.raises(DiagnosticError) as info:
        case.run()
    [diag] = info.value.diagnostics
    assert diag.code == case.code, (diag.code, diag.message)
    assert diag.path == "proj/model.nn" and diag.span is not None
    return render(diag, case.text())


def _predict_cases(tmp: Path) -> dict[str, list[str]]:
    """load_features (nnspec predict) diagnostics: the input file is the path."""
    schema = {"task": "multiclass", "n_features": 4, "n_outputs": 3,
              "feature_names": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
              "target_names": ["species"], "classes": ["setosa", "versicolor", "virginica"],
              "scaler": {"kind": "none", "n_features": 4}, "layout": None}
    cases = [("E402", "renamed.csv", IRIS.replace("petal_width", "petal_wdth")),
             ("E405", "short.csv", "1,2,3\n4,5,6\n"),
             ("E406", "new.csv", IRIS.replace("virginica", "setosa-x")),
             ("E414", "twice.csv", IRIS.replace("species", "petal_width")),
             ("E415", "far.csv", IRIS.replace("4.7,1.4", "4.7,1e39")),
             ("E401", "nowhere.csv", None)]
    out: dict[str, list[str]] = {}
    for code, name, content in cases:
        if content is not None:
            write(tmp, name, content)
        with pytest.raises(DiagnosticError) as info:
            load_features(name, schema)
        [diag] = info.value.diagnostics
        assert diag.code == code and diag.path == name and diag.span is None
        out.setdefault(code, []).append(render(diag))
    # A run saved by an older nnspec, whose scaler overflowed to null (JSON) on huge features.
    broken = {**schema, "scaler": {"kind": "standardize", "n_features": 4,
                                   "mean": [5.0, 3.0, 4.0, 1.0], "std": [1.0, None, 1.0, 1.0]}}
    write(tmp, "ok.csv", IRIS)
    with pytest.raises(DiagnosticError) as info:
        load_features("ok.csv", broken)
    [diag] = info.value.diagnostics
    assert diag.code == "E416"
    out["E416"] = [render(diag)]
    return out


def _warning_cases(tmp: Path) -> list[str]:
    write(tmp / "proj", "c.csv", "a,b,y\n1,5,0\n2,5,1\n3,5,0\n")
    write(tmp / "proj", "one.csv", "a,b,y\n1,5,1\n2,6,1\n3,4,1\n")
    out = []
    for source, src, n_in in [('csv("c.csv", target=y)', csv("c.csv", "y"), 2),
                              ('csv("c.csv", target=y, features=(a, y))',
                               csv("c.csv", "y", features=("a", "y")), 2),
                              ('csv("one.csv", target=y)', csv("one.csv", "y"), 2)]:
        case = Case("W105", source, src, n_in=n_in, n_out=1, loss="binary_crossentropy")
        ds = case.run()
        out += [render(w, case.text()) for w in ds.warnings]
    # Two rows that dominate a column's standard deviation (the rest are squeezed).
    rows = [f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(40)]
    rows[12] = "1e9,1,0"
    rows[30] = "-2e9,4,1"
    write(tmp / "proj", "far.csv", "a,b,y\n" + "\n".join(rows) + "\n")
    case = Case("W105", 'csv("far.csv", target=y)', csv("far.csv", "y"), n_in=2, n_out=1,
                loss="binary_crossentropy", scale="standardize")
    ds = case.run()
    out += [render(w, case.text()) for w in ds.warnings]
    return out


def _all_renders(tmp: Path) -> dict[str, list[str]]:
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        out: dict[str, list[str]] = {}
        for i, case in enumerate(CASES):
            sub = tmp / f"case{i}"
            sub.mkdir()
            os.chdir(sub)
            out.setdefault(case.code, []).append(_render_case(case, sub))
        os.chdir(tmp)
        for code, renders in _predict_cases(tmp).items():
            out.setdefault(code, []).extend(renders)
        out["W105"] = _warning_cases(tmp)
        spec = ir.Spec(model=ir.Model(input=1, layers=(Dense(units=1),)),
                       train=ir.Train(loss=Mse()))
        with pytest.raises(DiagnosticError) as info:
            load_spec_data(spec, spec_path="proj/model.nn")
        out["E308"] = [render(info.value.diagnostics[0])]
        return out
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, list[str]]:
    return _all_renders(tmp_path_factory.mktemp("diag"))


CODES = sorted({c.code for c in CASES} | {"W105", "E308", "E416"})


@pytest.mark.parametrize("code", CODES)
def test_golden_render(code, renders):
    text = "\n\n".join(renders[code]) + "\n"
    path = GOLDEN / f"{code}.stderr"
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path.name}; run with NNSPEC_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_every_golden_file_has_cases():
    assert sorted(p.stem for p in GOLDEN.glob("*.stderr")) == CODES
