"""Issue 18: a loss that grows by orders of magnitude is reported as divergence (W109), with
the epoch it started and a hint to lower the learning rate, live and at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnspec.cli import main
from nnspec.train.divergence import find

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = Path(__file__).resolve().parents[2]


def rows(losses, lr=0.1):
    return [{"epoch": i + 1, "loss": v, "lr": lr} for i, v in enumerate(losses)]


def test_exponential_growth_is_divergence_from_the_epoch_after_the_best():
    d = find(rows([1.4, 0.9, 5.0, 40.0, 300.0, 2e4, 1e6]))
    assert d is not None
    assert (d.start, d.best_epoch, d.best) == (3, 2, 0.9)
    assert (d.seen_epoch, d.seen) == (7, 1e6)  # the worst from where it fired on
    assert "diverged from epoch 3" in d.text() and "6 orders of magnitude" in d.text()


@pytest.mark.parametrize("losses", [
    [1.0, 0.5, 0.3, 0.35, 0.28, 0.31],  # mini-batch noise
    [1.0, 1e-3, 1e-6, 1e-4, 1e-5],  # 100x back up, but still far below the start
    [1.0, 2.0, 5.0, 9.0],  # grows, but by less than two orders of magnitude
    [float("nan"), 1.0, 0.5],  # NaN epochs are W105's / E411's business
    [],
])
def test_no_divergence(losses):
    assert find(rows(losses)) is None


def test_lr_of_the_start_epoch_goes_into_the_hint():
    from nnspec.train.divergence import warning_of

    history = rows([1.0, 0.5, 60.0])
    history[2]["lr"] = 2.5
    d = find(history)
    assert d is not None and d.lr == 2.5
    w = warning_of(d, None, "x.nn")
    assert w.code == "W109" and "try 0.25" in w.hints[0]


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_w109_diverging_run_is_reported_live_and_at_the_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "specs" / "linear.nn").read_text().replace("lr=0.1", "lr=5.0")
    Path("lin.nn").write_text(text, encoding="utf-8")
    # plain reporter (stdout is not a terminal): the live note comes after epoch 3's line
    assert main(["run", "lin.nn", "--epochs", "8", "--out", "r"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    live = next(i for i, line in enumerate(lines) if line.startswith("warning: training "
                                                                      "diverged from epoch 2"))
    assert lines[live - 1].startswith("epoch 3/8")
    assert "(diverged from epoch 2: see W109)" in out  # the summary line
    w109 = err[err.index("lin.nn:9:15: warning[W109]"):]
    check_golden("W109.stderr", w109)
