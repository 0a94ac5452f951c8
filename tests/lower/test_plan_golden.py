"""Printed Plans of the example specs (`nnspec plan SPEC --layout`) as golden files, so a
change to lowering or to the cpu layout shows as a reviewable diff. Regenerate with
NNSPEC_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnspec.backends.cpu.layout import format_layout
from nnspec.lower import lower
from nnspec.lower.show import format_plan
from nnspec.pipeline import load_spec

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
SPECS = sorted((ROOT / "specs").glob("*.nn"))
UPDATE = os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1"


def listing(path: Path) -> str:
    spec, diagnostics = load_spec(path)
    assert spec is not None, diagnostics
    plan = lower(spec)
    text = format_plan(plan) + format_layout(plan, plan.batch or 32)
    # resolved data paths are absolute; the golden must not depend on the checkout's location
    return text.replace(str(ROOT), "<repo>")


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_printed_plan(path: Path) -> None:
    out = listing(path)
    expected = GOLDEN / f"{path.stem}.plan"
    if UPDATE or not expected.exists():
        expected.write_text(out, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"wrote missing golden {expected.name}; review it and rerun")
    assert out == expected.read_text(encoding="utf-8")


def test_every_golden_has_a_spec() -> None:
    assert {p.stem for p in GOLDEN.glob("*.plan")} == {p.stem for p in SPECS}


def test_the_cli_prints_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    from nnspec.cli import main

    path = SPECS[0]
    assert main(["plan", str(path), "--layout"]) == 0
    assert capsys.readouterr().out == listing(path)
