"""The sweep specs of specs/sweeps/ (the optimizer-path pictures' examples) check clean, and
one of them runs as its header says: `nnspec sweep` then `nnspec paths` on the sweep folder,
which finds the three trials and draws their paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnspec.cli import main
from nnspec.pipeline import diagnose

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs" / "sweeps").glob("*.nn"))


def test_there_are_sweep_examples() -> None:
    assert {p.name for p in SPECS} >= {"paths_batch.nn", "paths_optimizers.nn"}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_sweep_example_checks_clean(path: Path) -> None:
    spec, diagnostics = diagnose(path.read_text(), str(path), require_data=True)
    assert spec is not None
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics


def test_the_batch_paths_example_as_its_header_says(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "batch", tmp_path / "batch.png"
    assert main(["sweep", str(ROOT / "specs/sweeps/paths_batch.nn"), "--out", str(out),
                 "--parallel", "1", "-q"]) == 0
    trials = [p for p in out.rglob("manifest.json")]
    assert len(trials) == 3
    assert main(["paths", str(out), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    err = capsys.readouterr().err
    assert "Traceback" not in err
