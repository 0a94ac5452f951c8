"""`nnspec check --fix [--diff] FILE...` and the `fixes` field of `--format json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "specs" / "moons.nn").read_text()
BAD = (GOOD.replace("dense 16 relu", "dense 16 rleu  # hidden", 1)
       .replace("sgd(lr=", "sgd(lrr="))


def nnspec(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nnspec.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_fix_rewrites_the_file_and_says_what_changed(tmp_path: Path) -> None:
    spec = tmp_path / "s.nn"
    spec.write_text(BAD)
    proc = nnspec("check", "--fix", "s.nn", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert spec.read_text() == GOOD.replace("dense 16 relu", "dense 16 relu  # hidden", 1)
    assert proc.stdout.splitlines() == ["s.nn:4:14: fixed: replace `rleu` with `relu`",
                                        "s.nn:18:19: fixed: replace `lrr` with `lr`"]
    again = nnspec("check", "--fix", "s.nn", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == ""
    assert list(tmp_path.iterdir()) == [spec]  # no temporary file left behind


def test_diff_only_shows(tmp_path: Path) -> None:
    spec = tmp_path / "s.nn"
    spec.write_text(BAD)
    proc = nnspec("check", "--fix", "--diff", "s.nn", cwd=tmp_path)
    assert spec.read_text() == BAD
    assert "-    dense 16 rleu  # hidden\n+    dense 16 relu  # hidden\n" in proc.stdout
    assert "+    optimizer sgd(lr=0.1" in proc.stdout
    assert proc.returncode == 0


def test_errors_that_remain_exit_1(tmp_path: Path) -> None:
    spec = tmp_path / "s.nn"
    spec.write_text(BAD.replace("epochs 200", "epochs -1"))
    proc = nnspec("check", "--fix", "s.nn", cwd=tmp_path)
    assert proc.returncode == 1
    assert "error[E302]" in proc.stderr and "rleu" not in spec.read_text()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_non_regular_files_are_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.nn")
    proc = nnspec("check", "--fix", "pipe.nn", cwd=tmp_path)  # would block if it read it
    assert proc.returncode == 2
    assert "pipe.nn: error[E505]: not a regular file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_json_carries_the_fixes(tmp_path: Path) -> None:
    (tmp_path / "s.nn").write_text(BAD)
    proc = nnspec("check", "--format", "json", "s.nn", cwd=tmp_path)
    assert proc.returncode == 1
    found = {d["code"]: d for d in json.loads(proc.stdout)["diagnostics"]}
    [fix] = found["E204"]["fixes"]
    assert fix["replacement"] == "relu" and fix["preferred"] is True
    assert fix["range"] == {"start": {"line": 3, "character": 13},
                            "end": {"line": 3, "character": 17}}
    assert fix["span"]["start"] == BAD.index("rleu")


NO_MODEL = GOOD[GOOD.index("data {"):]  # moons.nn without its model block


def test_guesses_are_applied_only_when_asked(tmp_path: Path) -> None:
    spec = tmp_path / "s.nn"
    spec.write_text(NO_MODEL)
    proc = nnspec("check", "--fix", "s.nn", cwd=tmp_path)
    assert proc.returncode == 1 and spec.read_text() == NO_MODEL  # a guess: left alone
    assert "error[E308]: missing `model` block" in proc.stderr
    found = json.loads(nnspec("check", "--format", "json", "s.nn", cwd=tmp_path).stdout)
    [fix] = [f for d in found["diagnostics"] for f in d["fixes"]]
    assert fix["preferred"] is False and fix["span"]["start"] == fix["span"]["end"] == 0
    proc = nnspec("check", "--fix", "--guesses", "s.nn", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert spec.read_text() == ("model m {\n    input 2\n    dense 1 sigmoid\n}\n\n" + NO_MODEL)
    assert proc.stdout.splitlines() == [
        "s.nn:1:1: fixed (a guess): add a minimal `model` block (input 2, dense 1 sigmoid)"]


def test_a_missing_train_block_is_added(tmp_path: Path) -> None:
    no_train = GOOD[:GOOD.index("train {")].rstrip("\n") + "\n"
    spec = tmp_path / "s.nn"
    spec.write_text(no_train)
    proc = nnspec("check", "--fix", "s.nn", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert spec.read_text() == no_train[:-1] + "\n\ntrain {\n    loss binary_crossentropy\n}\n"
