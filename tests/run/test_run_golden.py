"""Rendered goldens for the run-time environment codes of `nnspec run` (E501 device not
available, E504 cannot resume, E507 run directory in use, E508 spec changed since the run
started, W106 a run folder from an older nnspec). NNSPEC_UPDATE_GOLDEN=1 rewrites them."""

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
    # what a machine without an NVIDIA driver says, whether or not another test module
    # turned numba's CUDA simulator on (which makes the probe run)
    monkeypatch.setattr("nnspec.run.session._no_driver", lambda: True)
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


TINY = SPEC.replace("    device cuda\n", "")


def _tiny_run(epochs: int = 1) -> None:
    Path("tiny.nn").write_text(TINY.replace("epochs 1", f"epochs {epochs}"), encoding="utf-8")
    assert main(["run", "tiny.nn", "--out", "r", "--quiet"]) == 0


def test_e507_run_directory_in_use(tmp_path, monkeypatch, capsys):
    from nnspec.run.folder import Folder
    from nnspec.run.lock import acquire

    monkeypatch.chdir(tmp_path)
    _tiny_run()
    folder = Folder.open("r")
    lock = acquire(folder)
    try:
        capsys.readouterr()
        assert main(["run", "--resume", "r", "--epochs", "2"]) == 1
    finally:
        lock.release()
        folder.close()
    err = capsys.readouterr().err.replace(f"process {os.getpid()}", "process <pid>")
    assert "error[E507]" in err
    check_golden("E507.stderr", err)


def test_e508_spec_changed_since_the_run_started(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _tiny_run()
    text = Path("r/spec.nn").read_text(encoding="utf-8")
    text = text.replace("input 2", "input 2\n    dense 4 relu").replace("epochs 1", "epochs 2")
    Path("r/spec.nn").write_text(text.replace("batch 32", "batch 8"), encoding="utf-8")
    capsys.readouterr()
    assert main(["run", "--resume", "r"]) == 1
    err = capsys.readouterr().err
    assert "error[E508]" in err
    check_golden("E508.stderr", err)


def test_w106_resume_of_a_folder_from_an_older_nnspec(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.chdir(tmp_path)
    _tiny_run()
    manifest = json.loads(Path("r/manifest.json").read_text(encoding="utf-8"))
    del manifest["format"], manifest["spec"]["checked"]  # as written before run format 2
    Path("r/manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    capsys.readouterr()
    assert main(["run", "--resume", "r", "--epochs", "2", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning[W106]" in err
    check_golden("W106.stderr", err)
