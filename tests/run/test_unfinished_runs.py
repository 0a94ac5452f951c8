"""What `predict`, `eval` and `open_run` read from a run folder (issue 21, items 4 and 10).

- A folder that a live run holds is refused with E507 naming its process; one whose run never
  finished (`running` with no owner, `finishing`, `failed`) with E511, saying what to do; a
  folder written by a newer nnspec, or whose data.json lacks what predict reads (an older
  format), with E511 too, never a KeyError.
- Every file they read inside the folder goes through its descriptor with O_NOFOLLOW: a
  symbolic link planted there (spec.nn, weights.npz, data.json, history.json, ...) is refused
  with E503, never followed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import nnspec
from nnspec.cli import main

SPEC = """model tiny {
    input 2
    dense 6 tanh
    dense 1 sigmoid
}
data {
    source moons(samples=120, noise=0.2)
    split validation=0.25
}
train {
    loss binary_crossentropy
    optimizer adam(lr=0.05)
    epochs 2
    batch 16
    seed 3
}
"""
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unfinished")
    (root / "tiny.nn").write_text(SPEC)
    (root / "in.csv").write_text("x0,x1,y\n0.5,-0.2,1\n1.5,0.3,0\n")
    assert main(["run", str(root / "tiny.nn"), "--out", str(root / "r"), "-q"]) == 0
    return root / "r"


def copy_of(finished: Path, tmp_path: Path, **manifest) -> Path:
    folder = tmp_path / "r"
    shutil.copytree(finished, folder)
    data = json.loads((folder / "manifest.json").read_text())
    for key, value in manifest.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    (folder / "manifest.json").write_text(json.dumps(data))
    return folder


def refused(argv: list[str], capsys) -> str:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and "E502" not in err, (out, err)
    return err


def _cmd(name: str, folder: Path, finished: Path) -> list[str]:
    if name == "predict":
        return ["predict", str(folder), str(finished.parent / "in.csv")]
    return ["eval", str(folder)]


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_finished_run_is_read(finished, capsys, command) -> None:
    assert main(_cmd(command, finished, finished)) == 0
    capsys.readouterr()


@pytest.mark.parametrize("command", ["predict", "eval"])
@pytest.mark.parametrize(("status", "says"), [
    ("running", "never finished: its run stopped before the end"),
    ("finishing", "never finished: its run was stopped while writing its final artifacts"),
    ("failed", "holds a run that failed; it has no trained model"),
])
def test_a_run_that_never_finished_is_refused(finished, tmp_path, capsys, command, status,
                                              says) -> None:
    folder = copy_of(finished, tmp_path, status=status,
                     diagnostics=[{"code": "E411"}] if status == "failed" else [])
    err = refused(_cmd(command, folder, finished), capsys)
    assert f"error[E511]: `{folder}` {says}" in err, err
    assert f"nnspec run --resume {folder}" in err
    if status == "failed":
        assert "it failed with E411" in err


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_run_still_training_is_refused_with_its_pid(finished, tmp_path, capsys,
                                                       command) -> None:
    from nnspec.run.folder import Folder
    from nnspec.run.lock import acquire

    folder = copy_of(finished, tmp_path, status="running")
    held = Folder.open(folder)
    lock = acquire(held)
    try:
        err = refused(_cmd(command, folder, finished), capsys)
    finally:
        lock.release()
        held.close()
    assert f"error[E507]: `{folder}` is in use by process {os.getpid()}: it is still " \
        "training" in err, err


def test_e511_golden(finished, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    copy_of(finished, tmp_path, status="running")
    err = refused(["predict", "r", str(finished.parent / "in.csv")], capsys)
    path = GOLDEN / "E511.stderr"
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        path.write_text(err, encoding="utf-8")
    assert err == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_newer_format_is_refused(finished, tmp_path, capsys, command) -> None:
    folder = copy_of(finished, tmp_path, format={"name": "nnspec-run", "version": 99})
    err = refused(_cmd(command, folder, finished), capsys)
    assert "error[E511]" in err and "written by a newer nnspec (run format 99" in err, err


@pytest.mark.parametrize("command", ["predict", "eval"])
@pytest.mark.parametrize("key", ["task", "n_features", "feature_names", "scaler"])
def test_an_older_data_json_is_a_clear_message_not_a_key_error(finished, tmp_path, capsys,
                                                               command, key) -> None:
    folder = copy_of(finished, tmp_path, format=None, nnspec="0.0.9")  # before the format
    data = json.loads((folder / "data.json").read_text())
    del data[key]
    (folder / "data.json").write_text(json.dumps(data))
    err = refused(_cmd(command, folder, finished), capsys)
    assert f"error[E511]: `{folder / 'data.json'}` lacks `{key}`: it was written by another " \
        "version of nnspec (no run format, nnspec 0.0.9" in err, err
    assert "KeyError" not in err


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_folder_from_before_the_format_field_that_has_everything_is_read(
        finished, tmp_path, capsys, command) -> None:
    folder = copy_of(finished, tmp_path, format=None)
    assert main(_cmd(command, folder, finished)) == 0
    capsys.readouterr()


# Item 4's leftover: reads go through the folder's descriptor; a planted link is refused.

@pytest.mark.parametrize("command", ["predict", "eval"])
@pytest.mark.parametrize("name", ["spec.nn", "weights.npz", "data.json", "manifest.json"])
def test_a_link_planted_in_the_folder_is_refused_not_followed(finished, tmp_path, capsys,
                                                              command, name) -> None:
    folder = copy_of(finished, tmp_path)
    outside = tmp_path / f"outside-{name}"
    (folder / name).rename(outside)  # the real file, now outside the run folder
    (folder / name).symlink_to(outside)
    err = refused(_cmd(command, folder, finished), capsys)
    assert f"error[E503]: `{folder / name}` is a symbolic link; nnspec does not follow " \
        "links inside a run directory" in err, err


@pytest.mark.parametrize("name", ["history.json", "metrics.json", "manifest.json"])
def test_open_run_refuses_a_planted_link(finished, tmp_path, name) -> None:
    folder = copy_of(finished, tmp_path)
    outside = tmp_path / f"outside-{name}"
    (folder / name).rename(outside)
    (folder / name).symlink_to(outside)
    with pytest.raises(nnspec.SpecError, match="is a symbolic link"):
        nnspec.open_run(folder)


def test_run_predict_refuses_a_planted_weights_link(finished, tmp_path) -> None:
    folder = copy_of(finished, tmp_path)
    run = nnspec.open_run(folder)
    outside = tmp_path / "outside.npz"
    (folder / "weights.npz").rename(outside)
    (folder / "weights.npz").symlink_to(outside)
    with pytest.raises(nnspec.SpecError, match="is a symbolic link"):
        run.predict([[0.5, -0.2]])


def test_the_folder_itself_may_be_a_link(finished, tmp_path, capsys) -> None:
    folder = copy_of(finished, tmp_path)
    (tmp_path / "elsewhere").symlink_to(folder)
    assert main(["eval", str(tmp_path / "elsewhere")]) == 0
    capsys.readouterr()
    assert nnspec.open_run(tmp_path / "elsewhere").status == "completed"
