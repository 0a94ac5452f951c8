"""`check` reads the data files (issue 18 item 3): the same E4xx diagnostics, at the same
position and in the same words, as `run` gives for the same file; a note when a file is too
large to read; nothing heavy imported for it but NumPy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_helpers import check_says_what_run_says

from nnspec.diagnostics import render
from nnspec.pipeline import diagnose

ROOT = Path(__file__).resolve().parents[2]

SPEC = """model m {{
    input {inputs}
    dense 4 relu
    dense {units} {act}
}}
data {{
    source {source}
}}
train {{
    loss {loss}
    epochs 1
}}
"""

GOOD = "a,b,y\n1,2,0\n3,4,1\n5,6,1\n"
# a continuous target with more distinct values than data.facts keeps (MAX_LABELS)
MANY = "a,b,y\n" + "".join(f"{i},{i % 7},{i * 0.37:.3f}\n" for i in range(1500))
CASES = {
    # name: (file name, file bytes, source options, spec overrides, expected code)
    "missing file": ("d.csv", None, 'csv("data.csv", target=y)', {}, "E401"),
    "missing column": ("d.csv", GOOD, 'csv("d.csv", target=Y)', {}, "E402"),
    "missing feature column": ("d.csv", GOOD, 'csv("d.csv", target=y, features=[a, c])', {},
                               "E402"),
    "text cell": ("d.csv", "a,b,y\n1,2,0\n3,x,1\n", 'csv("d.csv", target=y)', {}, "E403"),
    "infinite cell": ("d.csv", "a,b,y\n1,2,0\n3,inf,1\n", 'csv("d.csv", target=y)', {}, "E403"),
    "missing before text": ("d.csv", "a,b,y\n1,,0\n3,x,1\n", 'csv("d.csv", target=y)', {},
                            "E404"),
    "text before infinite": ("d.csv", "a,b,y\n1,inf,0\n3,x,1\n", 'csv("d.csv", target=y)',
                             {}, "E403"),
    "missing value": ("d.csv", "a,b,y\n1,2,0\n3,NA,1\n", 'csv("d.csv", target=y)', {}, "E404"),
    "missing target": ("d.csv", "a,b,y\n1,2,cat\n3,4,\n", 'csv("d.csv", target=y)',
                       {"units": 2, "act": "softmax", "loss": "categorical_crossentropy"},
                       "E404"),
    "missing numeric target": ("d.csv", "a,b,y\n1,2,0\n3,4,nan\n", 'csv("d.csv", target=y)',
                               {}, "E404"),
    "feature count": ("d.csv", GOOD, 'csv("d.csv", target=y)', {"inputs": 3}, "E405"),
    "more classes": ("d.csv", "a,b,y\n1,2,cat\n3,4,dog\n5,6,cow\n", 'csv("d.csv", target=y)',
                     {"units": 2, "act": "softmax", "loss": "categorical_crossentropy"},
                     "E406"),
    "class index out of range": ("d.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,7\n6,7,7\n",
                                 'csv("d.csv", target=y)',
                                 {"units": 3, "act": "softmax",
                                  "loss": "categorical_crossentropy"}, "E406"),
    "binary label": ("d.csv", "a,b,y\n1,2,0\n3,4,2\n", 'csv("d.csv", target=y)', {}, "E406"),
    "text regression target": ("d.csv", "a,b,y\n1,2,0.5\n3,4,big\n", 'csv("d.csv", target=y)',
                               {"act": "linear", "loss": "mse"}, "E403"),
    "many targets, two outputs": ("d.csv", MANY, 'csv("d.csv", target=y)',
                                  {"units": 2, "act": "linear", "loss": "mse"}, "E305"),
    "many targets, one text": ("d.csv", MANY + "1,2,big\n", 'csv("d.csv", target=y)',
                               {"act": "linear", "loss": "mse"}, "E403"),
    "duplicate column": ("d.csv", "a,a,y\n1,2,0\n3,4,1\n", 'csv("d.csv", target=y)', {},
                         "E414"),
    "ragged row": ("d.csv", "a,b,y\n1,2,0\n3,4\n", 'csv("d.csv", target=y)', {}, "E413"),
    "not utf-8": ("d.csv", b"a,b,y\n1,2,0\n3,\xff,1\n", 'csv("d.csv", target=y)', {}, "E413"),
    "header only": ("d.csv", "a,b,y\n", 'csv("d.csv", target=y)', {}, "E412"),
    "npz array name": ("d.npz", "npz", 'npz("d.npz", y=labels)', {}, "E402"),
    "npz classes": ("d.npz", "npz", 'npz("d.npz")',
                    {"units": 2, "act": "softmax", "loss": "categorical_crossentropy"},
                    "E406"),
}


def _write(tmp_path: Path, name: str, content) -> None:
    if content is None:
        return
    if content == "npz":
        np.savez(tmp_path / name, x=np.arange(12.0).reshape(6, 2),
                 y=np.array([0, 1, 2, 0, 1, 2]))
    else:
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else
                                      content.encode())


def _spec(tmp_path: Path, source: str, **over) -> Path:
    values = {"inputs": 2, "units": 1, "act": "sigmoid", "loss": "binary_crossentropy",
              "source": source, **over}
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC.format(**values))
    return spec


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_says_what_run_says(tmp_path, case):
    name, content, source, over, code = CASES[case]
    _write(tmp_path, name, content)
    check_says_what_run_says(_spec(tmp_path, source, **over), code)


def test_every_data_mistake_with_the_spec_mistakes_in_one_pass(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,cat\n3,4,dog\n5,6,cow\n")
    spec = _spec(tmp_path, 'csv("d.csv", target=y)\n    split validation=1.5', inputs=3,
                 units=2, act="softmax", loss="categorical_crossentropy")
    text = spec.read_text().replace("epochs 1", "epochs 0")
    _, found = diagnose(text, str(spec), read_data=True)
    assert sorted(d.code for d in found) == ["E302", "E302", "E405", "E406"]


def test_a_model_mistake_skips_only_what_needs_the_model(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,cat\n3,4,dog\n5,6,cow\n")
    spec = _spec(tmp_path, 'csv("d.csv", target=y)', inputs=3, units=2, act="sofmax",
                 loss="categorical_crossentropy")
    _, found = diagnose(spec.read_text(), str(spec), read_data=True)
    # the output layer did not check: the classes are not judged against it (no E406)
    assert [d.code for d in found] == ["E204", "E405"]


def test_good_data_is_ok_and_generated_data_is_not_read(tmp_path):
    (tmp_path / "d.csv").write_text(GOOD)
    spec = _spec(tmp_path, 'csv("d.csv", target=y)')
    assert diagnose(spec.read_text(), str(spec), read_data=True) == (
        diagnose(spec.read_text(), str(spec))[0], [])
    moons = _spec(tmp_path, "moons(samples=100)")
    assert diagnose(moons.read_text(), str(moons), read_data=True)[1] == []


def test_a_large_file_is_read_to_its_header_only(tmp_path, monkeypatch):
    from nnspec.data import facts

    monkeypatch.setattr(facts, "LIMIT", 64)
    rows = "".join(f"{i},{i + 1},{i % 2}\n" for i in range(40)) + "1,x,0\n"
    (tmp_path / "d.csv").write_text("a,b,y\n" + rows)
    spec = _spec(tmp_path, 'csv("d.csv", target=y)', inputs=3)
    _, found = diagnose(spec.read_text(), str(spec), read_data=True)
    # the header is read (E405 from the column count), the rows are not (no E403): a note
    assert [(d.code, d.severity.value) for d in found] == [("E405", "error"),
                                                            ("W113", "note")]
    assert "read only its header" in found[1].message
    assert found[1].span is not None and found[1].span.line == 7


def test_cli_check_reports_data_and_imports_no_numba(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    _spec(tmp_path, 'csv("data.csv", target=y)')
    code = ("import json, sys\nfrom nnspec.cli import main\nrc = main(['check', 'm.nn'])\n"
            "print(json.dumps([rc, sorted(m for m in ('numba', 'scipy', 'matplotlib', 'PIL')"
            " if m in sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120, env={"PYTHONPATH": str(ROOT),
                                                         "PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [1, []]
    assert "m.nn:7:12: error[E401]: data file `data.csv` not found" in out.stderr
    assert "did you mean `d.csv`?" in out.stderr


GOLDEN = Path(__file__).parent / "golden_check"


def _golden(name: str, text: str) -> None:
    import os

    path = GOLDEN / f"{name}.stderr"
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path.name}; run with NNSPEC_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_golden_notes_w113_w114(tmp_path, monkeypatch):
    from nnspec.data import facts

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(facts, "LIMIT", 64)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "big.csv").write_text("a,b,y\n" + "1,2,0\n" * 40)
    spec = _spec(tmp_path / "proj", 'csv("big.csv", target=y)')
    text = spec.read_text()
    _, found = diagnose(text, "proj/m.nn", read_data=True)
    _, unsaved = diagnose(text, None, read_data=True)
    assert [d.code for d in found] == ["W113"] and [d.code for d in unsaved] == ["W114"]
    assert found[0].severity.value == unsaved[0].severity.value == "note"
    _golden("W113", render(found[0], text) + "\n")
    _golden("W114", render(unsaved[0], text) + "\n")


def test_cli_check_a_file_with_only_a_note_is_ok(tmp_path, monkeypatch, capsys):
    from nnspec.cli import main
    from nnspec.data import facts

    monkeypatch.setattr(facts, "LIMIT", 64)
    (tmp_path / "d.csv").write_text("a,b,y\n" + "1,2,0\n" * 40)
    spec = _spec(tmp_path, 'csv("d.csv", target=y)')
    assert main(["check", str(spec)]) == 0
    out, err = capsys.readouterr()
    assert "note[W113]" in err and out.strip() == f"{spec}: ok"
