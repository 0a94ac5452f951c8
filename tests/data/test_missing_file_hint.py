"""Issue 18 item 6: E401 for a missing data file suggests data files, never the spec."""

from __future__ import annotations

from nnspec.cli import main

SPEC = """model moons {
    input 2
    dense 1 sigmoid
}
data { source csv("moons.csv", target=y) }
train {
    loss binary_crossentropy
    epochs 1
}
"""


def _run(tmp_path, capsys, *others: str) -> str:
    (tmp_path / "moons.nn").write_text(SPEC)
    for name in others:
        (tmp_path / name).write_text("a,b,y\n1,2,0\n")
    assert main(["run", str(tmp_path / "moons.nn"), "--out", str(tmp_path / "r"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "error[E401]: data file `moons.csv` not found" in err
    return err


def test_the_spec_itself_is_not_offered(tmp_path, capsys):
    err = _run(tmp_path, capsys)
    assert "moons.nn`?" not in err and "did you mean" not in err


def test_a_data_file_is_offered(tmp_path, capsys):
    err = _run(tmp_path, capsys, "moons_train.csv", "moons.txt.bak")
    assert "did you mean `moons_train.csv`?" in err
