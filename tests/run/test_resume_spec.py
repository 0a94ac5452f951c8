"""Resume resumes what ran: spec.nn is compared with the checked spec the run started with
(kept in the manifest); anything but comments, layout, `epochs`, the device and the output
block that changed is refused (E508) naming each field with both values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runspecs import write_spec

from nnspec.cli import main
from nnspec.run.specdiff import changes


def run_cli(*argv) -> int:
    return main(["run", *map(str, argv)])


@pytest.fixture
def run(tmp_path) -> Path:
    spec = write_spec(tmp_path, epochs=2)
    out = tmp_path / "r"
    assert run_cli(spec, "--out", out, "-q") == 0
    return out


def edit(run: Path, old: str, new: str) -> None:
    text = (run / "spec.nn").read_text()
    assert old in text, text
    (run / "spec.nn").write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("old, new, expected", [
    ("dense 6 tanh", "dense 8 tanh", ["model.layers[0].units: 6 -> 8"]),
    ("lr=0.05", "lr=0.5", ["train.optimizer.lr: 0.05 -> 0.5"]),
    ("dense 6 tanh", "dense 6 relu", ["model.layers[0].activation: tanh() -> relu()"]),
    ("seed 3", "seed 4", ["train.seed: 3 -> 4"]),
    ("batch 16", "batch 8", ["train.batch: 16 -> 8"]),
    ("dropout 0.1", "dropout 0.1\n    dense 4 relu", ["model.layers: 3 items -> 4 items",
                                                      "model.layers[2]: (absent) -> dense("]),
    ("noise=0.2", "noise=0.3", ["data.source.noise: 0.2 -> 0.3"]),
])
def test_a_changed_field_is_refused_with_both_values(run, capsys, old, new, expected):
    edit(run, old, new)
    before = (run / "manifest.json").read_text()
    assert run_cli("--resume", run, "--epochs", 3, "-q") == 1
    err = capsys.readouterr().err
    assert "error[E508]" in err and "is not the spec this run started with" in err, err
    for text in expected:
        assert f"= note: {text}" in err, err
    assert "Traceback" not in err and "bug in nnspec" not in err
    assert (run / "manifest.json").read_text() == before  # a refusal changes nothing


def test_two_changes_are_both_named(run, capsys):
    edit(run, "dense 6 tanh", "dense 32 tanh")
    edit(run, "lr=0.05", "lr=0.5")
    assert run_cli("--resume", run, "--epochs", 3, "-q") == 1
    err = capsys.readouterr().err
    assert "2 change(s)" in err
    assert "= note: model.layers[0].units: 6 -> 32" in err
    assert "= note: train.optimizer.lr: 0.05 -> 0.5" in err


def test_comments_layout_epochs_device_and_output_may_change(run, capsys):
    text = (run / "spec.nn").read_text()
    text = "# a comment\n" + text.replace("    dense 6 tanh", "  dense   6   tanh  # wide")
    text = text.replace("epochs 2", "epochs 3").replace("device auto", "device cpu")
    text = text.replace("output {", "output {\n    checkpoint every=1\n    dir \"elsewhere\"")
    (run / "spec.nn").write_text(text)
    assert run_cli("--resume", run, "-q") == 0, capsys.readouterr().err
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["epochs_run"] == 3


def test_resume_epochs_updates_what_is_stored(run, capsys):
    assert run_cli("--resume", run, "--epochs", 3, "-q") == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["spec"]["checked"]["train"]["epochs"] == 3 and manifest["epochs"] == 3
    assert "epochs 3" in (run / "spec.nn").read_text()
    edit(run, "lr=0.05", "lr=0.01")
    assert run_cli("--resume", run, "--epochs", 4, "-q") == 1
    assert "train.optimizer.lr: 0.05 -> 0.01" in capsys.readouterr().err


def test_a_missing_spec_nn_is_written_again_from_the_manifest(run, capsys):
    (run / "spec.nn").unlink()
    assert run_cli("--resume", run, "--epochs", 3, "-q") == 0
    assert "epochs 3" in (run / "spec.nn").read_text()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "state.json"])
def test_a_damaged_checkpoint_is_named_with_what_to_do(run, capsys, damage):
    folder = run / "checkpoint"
    npz = next(folder.glob("state-*.npz"))
    if damage == "truncated":
        npz.write_bytes(npz.read_bytes()[:300])
    elif damage == "garbage":
        npz.write_bytes(b"\x93NUMPY garbage" * 20)
    else:
        (folder / "state.json").write_text('{"version": 1, "arr')
    before = (run / "manifest.json").read_text()
    assert run_cli("--resume", run, "--epochs", 3, "-q") == 1
    err = capsys.readouterr().err
    assert "error[E504]" in err and "is damaged" in err and "pickled" not in err, err
    assert "from epoch 0" in err and "--overwrite" in err and "Traceback" not in err
    assert (run / "manifest.json").read_text() == before
    for p in folder.iterdir():  # the hint: delete the checkpoint and resume from epoch 0
        p.unlink()
    folder.rmdir()
    assert run_cli("--resume", run, "--epochs", 3, "-q") == 1  # completed: nothing to resume
    assert "without a checkpoint" in capsys.readouterr().err


def test_changes_of_kind_lists_and_types():
    assert changes({"a": {"kind": "adam", "lr": 1}}, {"a": {"kind": "sgd", "lr": 1}}) == [
        "a: adam(lr=1) -> sgd(lr=1)"]
    assert changes({"x": 1}, {"x": 1.0}) == []
    assert changes({"x": True}, {"x": 1}) == ["x: true -> 1"]
    assert changes({"x": None}, {"x": {"kind": "step", "every": 2}}) == [
        "x: none -> step(every=2)"]
    assert changes({"output": {"dir": "a"}, "train": {"epochs": 1, "device": "cpu"}},
                   {"output": {"dir": "b"}, "train": {"epochs": 9, "device": "cuda"}}) == []


def test_an_inserted_or_removed_item_is_named_as_such():
    a, b, c = {"kind": "dense", "units": 1}, {"kind": "dense", "units": 4}, {"kind": "dropout"}
    assert changes({"l": [a]}, {"l": [b, a]}) == [
        "l: 1 item -> 2 items", "l[0]: (absent) -> dense(units=4)"]
    assert changes({"l": [a, c, b]}, {"l": [a, b]}) == [
        "l: 3 items -> 2 items", "l[1]: dropout() -> (absent)"]
    assert changes({"l": [a, c]}, {"l": [b, c, c]}) == [
        "l: 2 items -> 3 items", "l[0].units: 1 -> 4", "l[1]: (absent) -> dropout()"]
