"""Issue 18 item 6: a spec given where a run directory is expected says so plainly."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnspec.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv", [
    ["eval", "{spec}"], ["predict", "{spec}", "{csv}"], ["run", "--resume", "{spec}"]])
@pytest.mark.parametrize("name", ["moons.nn", "moons.txt"])  # by suffix, or by its text
def test_a_spec_where_a_run_directory_is_expected(tmp_path, capsys, argv, name):
    spec = tmp_path / name
    spec.write_text("# a comment first\n" + (ROOT / "specs" / "moons.nn").read_text())
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    args = [a.format(spec=spec, csv=tmp_path / "x.csv") for a in argv]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"error[E504]: `{spec}` is a spec file, not a run directory" in err
    assert f"train it with `nnspec run {spec}`" in err
    assert "Not a directory" not in err


def test_another_file_is_still_not_a_run_directory(tmp_path, capsys):
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    assert main(["eval", str(other)]) == 1
    err = capsys.readouterr().err
    assert "is not a run directory" in err and "spec file" not in err
