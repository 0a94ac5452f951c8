"""`nnspec run` on a spec with a `sweep` block trains the spec as written, once, and says so
before the first epoch (W119, a note at the block); it used to ignore the block silently."""

from __future__ import annotations

import os
from pathlib import Path

from nnspec.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden" / "W119.stderr"

SPEC = """model m {
    input 2
    dense 4 tanh
    dense 1 sigmoid
}
data { source moons(samples=64) }
train {
    loss binary_crossentropy
    optimizer sgd(lr=0.1)
    epochs 1
}
"""
SWEEP = "sweep {\n    grid train.optimizer.lr = [0.01, 0.1]\n}\n"


def test_a_sweep_block_is_a_note_at_the_block(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.nn").write_text(SPEC + SWEEP)
    assert main(["run", "s.nn", "--out", "r", "-q"]) == 0
    err = capsys.readouterr().err
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(err, encoding="utf-8")
    assert err == GOLDEN.read_text(encoding="utf-8")  # the rendering, whole
    assert err.count("note[W119]") == 1
    assert "s.nn:12:1: note[W119]: this spec has a `sweep` block" in err
    assert "`nnspec sweep s.nn` trains every point of the sweep" in err


def test_no_sweep_block_no_note(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.nn").write_text(SPEC)
    assert main(["run", "s.nn", "--out", "r", "-q"]) == 0
    assert "W119" not in capsys.readouterr().err
