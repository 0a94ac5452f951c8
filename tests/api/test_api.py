"""api: `import nnspec` (load, check, fit, open_run, Run.predict) against the CLI's path.

The README's "From Python" block is run exactly as written (in a scratch folder holding a
copy of specs/moons.nn), and its predictions are compared with `nnspec predict`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import nnspec
from nnspec.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no python block under 'From Python'"
    return match.group(1)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "specs").mkdir()
    shutil.copy(ROOT / "specs" / "moons.nn", tmp_path / "specs" / "moons.nn")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_block_runs_as_written(workdir: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    scope: dict = {}
    exec(compile(readme_block(), "README.md", "exec"), scope)  # noqa: S102 - our own README
    run, again = scope["run"], scope["again"]
    assert run.status == "completed" and len(run.history) <= 30
    assert (workdir / "runs" / "moons-api" / "weights.npz").is_file()
    assert again.history == run.history and again.metrics == run.metrics
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("completed ") and printed[-1] == "[]"


def test_predict_matches_the_cli(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = nnspec.fit(nnspec.load("specs/moons.nn", set={"train.epochs": 3}), out="r",
                     quiet=True)
    x = np.array([[0.5, -0.2], [1.5, 0.3], [-1.0, 0.8]])
    np.savetxt(workdir / "new.csv", x, delimiter=",", header="x0,x1", comments="")
    capsys.readouterr()
    assert cli(["predict", "r", "new.csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    header = lines[0].split(",")
    p1 = [float(row.split(",")[header.index(header[-1])]) for row in lines[1:]]
    np.testing.assert_allclose(run.predict(x)[:, 0], p1, rtol=1e-6)
    np.testing.assert_allclose(nnspec.open_run("r").predict(x[0]), run.predict(x[:1]))
    with pytest.raises(ValueError, match="2 values"):
        run.predict([[1.0, 2.0, 3.0]])


def test_a_broken_spec_raises_every_diagnostic(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nn"
    bad.write_text("model m {\n    input 2\n    dense 4 rleu\n    dense 1 sigmodi\n}\n"
                   "data { source moons() }\ntrain { loss mse }\n", encoding="utf-8")
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(bad)
    assert [d.code for d in info.value.diagnostics] == ["E204", "E204"]
    text = str(info.value)
    assert f"{bad}:3:13: error[E204]" in text and "did you mean `relu`" in text
    assert [d.code for d in nnspec.check(bad)] == ["E204", "E204"]


def test_overrides_are_checked(workdir: Path) -> None:
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load("specs/moons.nn", set={"train.optimizer.lr": -1})
    assert info.value.diagnostics[0].code == "E302"
    spec = nnspec.load("specs/moons.nn", set={"train.batch": "full", "train.shuffle": False})
    assert spec.ir.train.batch == "full" and spec.ir.train.shuffle is False


def test_open_run_of_a_missing_folder_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(nnspec.SpecError, match="E504"):
        nnspec.open_run(tmp_path / "nothing")


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError):
        nnspec.no_such_thing  # noqa: B018
