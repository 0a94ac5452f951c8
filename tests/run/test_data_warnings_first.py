"""Warnings about the data (a constant feature, output units no class uses) are shown before
the first epoch of `nnspec run`, not after training (issue 18 item 3), and only once."""

from __future__ import annotations

from pathlib import Path

from nnspec.cli import main
from nnspec.run.session import RunOptions, run_spec
from nnspec.train.progress import Reporter

SPEC = """model m {
    input 2
    dense 4 relu
    dense 4 softmax
}
data { source csv("d.csv", target=y) }
train {
    loss categorical_crossentropy
    epochs 3
    batch 4
}
"""


def _write(tmp_path: Path) -> Path:
    rows = "".join(f"{i % 5},7,{'ab'[i % 2]}\n" for i in range(16))
    (tmp_path / "d.csv").write_text("a,const,y\n" + rows)
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    return spec


class Events(Reporter):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def start(self, info) -> None:
        super().start(info)
        self.log.append("start")

    def epoch(self, row, samples_per_s) -> None:
        super().epoch(row, samples_per_s)
        self.log.append("epoch")


def test_data_warnings_are_announced_before_training(tmp_path):
    spec = _write(tmp_path)
    log: list[str] = []
    outcome = run_spec(spec, RunOptions(out=str(tmp_path / "r"), backend="reference"),
                       sources={}, reporter=Events(log),
                       announce=lambda ws: log.extend(f"warn {w.message}" for w in ws))
    assert outcome.exit_code == 0
    warned = [i for i, e in enumerate(log) if e.startswith("warn")]
    assert len(warned) == 2 and max(warned) < log.index("start") < log.index("epoch")
    assert "`const` is constant" in log[0] and "4 units" in log[1]


def test_cli_prints_them_once(tmp_path, capsys):
    spec = _write(tmp_path)
    assert main(["run", str(spec), "--out", str(tmp_path / "r"), "--backend", "reference",
                 "-q"]) == 0
    err = capsys.readouterr().err
    assert err.count("is constant in the training split") == 1
    assert err.count("output layer has 4 units") == 1
