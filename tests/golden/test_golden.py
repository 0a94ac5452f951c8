"""Short seeded training runs of the example specs against their golden summaries
(tests/golden/<spec>.json; regenerate with `nnspec golden specs/*.nn --update`, then review
the diff). Tolerance: rtol 1e-4, atol 1e-6 (nnspec/run/golden.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from examples_backend import with_marks

from nnspec.cli import main
from nnspec.run.golden import ATOL, RTOL, compare, golden_path, summarize

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.nn"))
HERE = Path(__file__).parent


class Summaries(dict):
    """Each spec's summary, computed when first asked for (so that deselecting the slow
    specs, trained on the reference backend, skips their training)."""

    def __missing__(self, stem: str):
        self[stem] = summarize(ROOT / "specs" / f"{stem}.nn", 3)
        return self[stem]


@pytest.fixture(scope="module")
def summaries():
    return Summaries()


@pytest.mark.parametrize("spec", with_marks(SPECS))
def test_example_spec_matches_golden(spec, summaries):
    expected = json.loads(golden_path(spec, HERE).read_text())
    assert compare(summaries[spec.stem], expected) == []
    assert summaries[spec.stem]["epochs"] == 3


def test_every_golden_file_has_a_spec():
    assert sorted(p.stem for p in HERE.glob("*.json")) == sorted(p.stem for p in SPECS)


def test_compare_tolerance(summaries):
    expected = summaries["moons"]
    near = copy.deepcopy(expected)
    loss = near["history"][0]["loss"]
    near["history"][0]["loss"] = loss * (1 + RTOL / 2)
    assert compare(near, expected) == []
    far = copy.deepcopy(expected)
    far["history"][0]["loss"] = loss * (1 + 3 * RTOL) + ATOL
    assert compare(far, expected) == [
        f"history[0].loss: expected {loss!r}, got {far['history'][0]['loss']!r}"]
    shape = copy.deepcopy(expected)
    shape["weights"]["layers.0.weight"]["shape"] = [3, 2]
    assert compare(shape, expected) == [
        "weights.layers.0.weight.shape[0]: expected 16, got 3"]
    short = copy.deepcopy(expected)
    short["history"].pop()
    assert compare(short, expected) == ["history: expected 3 items, got 2"]


def test_cli_golden_update_and_mismatch(tmp_path, capsys):
    spec = ROOT / "specs" / "linear.nn"
    assert main(["golden", str(spec), "--dir", str(tmp_path)]) == 1
    assert "create it with --update" in capsys.readouterr().err
    assert main(["golden", str(spec), "--dir", str(tmp_path), "--update"]) == 0
    assert main(["golden", str(spec), "--dir", str(tmp_path)]) == 0
    assert "ok " in capsys.readouterr().out
    path = tmp_path / "linear.json"
    data = json.loads(path.read_text())
    data["metrics"]["train"]["loss"] *= 1.01
    path.write_text(json.dumps(data))
    assert main(["golden", str(spec), "--dir", str(tmp_path)]) == 1
    assert "metrics.train.loss: expected" in capsys.readouterr().err
