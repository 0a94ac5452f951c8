"""Rendered goldens for the run-time environment codes of `nnspec run` (E501 device not
available, E504 cannot resume). NNSPEC_UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnspec.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
SPEC = """# tiny.nn
model tiny {
    input 2
    dense 1 sigmoid
}
data { source xor(samples=40) }
train {
    loss binary_crossentropy
    epochs 1
    device cuda
}
"""


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_e501_cuda_requested_without_a_gpu(tmp_path, monkeypatch, capsys):
    from nnspec.run.session import _gpu_usable

    if _gpu_usable()[0]:
        pytest.skip("a GPU is available here")
    monkeypatch.chdir(tmp_path)
    Path("tiny.nn").write_text(SPEC, encoding="utf-8")
    assert main(["run", "tiny.nn", "--out", "r", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "error[E501]" in err
    assert not Path("r", "weights.npz").exists()
    check_golden("E501.stderr", err)


def test_e504_resume_of_a_directory_without_a_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("empty").mkdir()
    assert main(["run", "--resume", "empty"]) == 1
    err = capsys.readouterr().err
    assert "error[E504]" in err
    check_golden("E504.stderr", err)
