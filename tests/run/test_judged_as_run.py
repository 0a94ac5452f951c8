"""Issue 18: warnings judge the spec as run, not the file it came from (`--set`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnspec.diagnostics import render
from nnspec.run.session import as_run, load, override_checked

ROOT = Path(__file__).resolve().parents[2]


def _warnings(tmp_path: Path, lr: str, sets: list[str]) -> tuple[list, dict[str, str]]:
    text = (ROOT / "specs" / "linear.nn").read_text().replace("lr=0.1", f"lr={lr}")
    path = tmp_path / "lin.nn"
    path.write_text(text)
    sources: dict[str, str] = {}
    loaded = load(path, sources)
    _, judged = override_checked(loaded.spec, sets, sources)
    return as_run(loaded.warnings, judged), sources


@pytest.mark.parametrize("lr, sets, expected", [
    ("5.0", ["train.optimizer.lr=50"], "learning rate 50 is above 1"),  # not the file's 5
    ("0.1", ["train.optimizer.lr=1.05"], "learning rate 1.05 is above 1"),  # file had none
    ("5.0", ["train.optimizer.lr=0.01"], None),  # the file's W101 no longer holds
    ("5.0", ["train.epochs=3"], "learning rate 5 is above 1"),  # unchanged: the file's
])
def test_w101_quotes_the_learning_rate_as_run(tmp_path, lr, sets, expected):
    warnings, sources = _warnings(tmp_path, lr, sets)
    w101 = [d for d in warnings if d.code == "W101"]
    if expected is None:
        assert w101 == []
        return
    (d,) = w101
    assert expected in d.message
    text = render(d, sources.get(d.path or ""))
    assert "^" in text  # rendered with its source line, wherever it points
    if sets == ["train.epochs=3"]:
        assert d.path == str(tmp_path / "lin.nn")  # still points into the file


def test_no_overrides_keep_the_files_warnings(tmp_path):
    warnings, _ = _warnings(tmp_path, "5.0", [])
    assert [d.code for d in warnings] == ["W101"]


@pytest.mark.parametrize("overrides, title", [
    (None, "line"),
    ([], "line"),
    (["train.optimizer.lr=0.01"], "line (lr=0.01)"),
    (["train.optimizer.lr=0.01", "train.epochs=30", "train.seed=3"], "line (lr=0.01, seed=3)"),
    (["train.optimizer.lr=0.1", "train.schedule.lr=2"],
     "line (train.optimizer.lr=0.1, train.schedule.lr=2)"),
])
def test_curve_titles_tell_settings_apart(overrides, title):
    from nnspec.run.session import curve_title

    assert curve_title("line", overrides) == title


def test_a_run_with_set_values_has_them_in_its_curve_title(tmp_path, monkeypatch):
    import nnspec.run.rundir as rundir
    from nnspec.cli import main

    titles = []
    real = rundir.RunDir.write_results

    def spy(self, result, title=""):
        titles.append(title)
        return real(self, result, title)

    monkeypatch.setattr(rundir.RunDir, "write_results", spy)
    spec = ROOT / "specs" / "linear.nn"
    assert main(["run", str(spec), "--set", "train.optimizer.lr=0.01", "--epochs", "1",
                 "--out", str(tmp_path / "r"), "--quiet"]) == 0
    assert titles == ["line (lr=0.01)"]
