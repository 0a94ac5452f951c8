"""Run-directory files: atomic writes survive a crash mid-write, checkpoints round-trip and
stay loadable across an interrupted save, history/metrics/curves contents."""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest

from nnspec.diagnostics import DiagnosticError
from nnspec.run import artifacts, atomic, checkpoint


@pytest.mark.parametrize("boom", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_crash_mid_write_keeps_the_old_file(tmp_path, boom):
    target = tmp_path / "history.json"
    atomic.write_json(target, [{"epoch": 1}])
    before = target.read_bytes()

    def fill(f):
        f.write(b'[{"epoch": 1}, {"epo')  # half of the new content, then the crash
        raise boom

    with pytest.raises(type(boom)):
        atomic.write_with(target, fill)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["history.json"]  # no temp file left behind


def test_failing_rename_is_e503_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    atomic.write_json(target, {"val": {"loss": 1.0}})

    def no_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", no_replace)
    with pytest.raises(DiagnosticError) as info:
        atomic.write_json(target, {"val": {"loss": 0.5}})
    assert info.value.diagnostics[0].code == "E503"
    assert "No space left" in info.value.diagnostics[0].message
    assert json.loads(target.read_text()) == {"val": {"loss": 1.0}}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_unwritable_folder_is_e503(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DiagnosticError) as info:
        atomic.write_text(blocker / "sub" / "a.txt", "hello")
    assert info.value.diagnostics[0].code == "E503"


def test_json_is_strict_with_non_finite_values(tmp_path):
    atomic.write_json(tmp_path / "h.json", [{"loss": float("nan"), "x": np.float32(2.5),
                                             "inf": float("inf"), "arr": np.arange(2)}])
    assert json.loads(tmp_path.joinpath("h.json").read_text(),
                      parse_constant=lambda c: pytest.fail(c)) == [
        {"loss": None, "x": 2.5, "inf": None, "arr": [0, 1]}]


def state(epoch: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    rng.random(3)
    return {"epoch": epoch, "batch": 0, "history": [{"epoch": 1, "loss": float("nan")}],
            "schedule": {"best": float("inf"), "neg": -math.inf},
            "shuffle_rng": rng.bit_generator.state,
            "executable": {"params": np.arange(5, dtype=np.float32) * epoch,
                           "step": np.int64(7 * epoch)},
            "best": None, "order": np.arange(4)[::-1].copy()}


def test_checkpoint_round_trip(tmp_path):
    s = state(3)
    checkpoint.save(tmp_path / "ck", s, tag="a")
    back = checkpoint.load(tmp_path / "ck")
    assert back["epoch"] == 3 and back["best"] is None
    assert math.isnan(back["history"][0]["loss"])
    assert back["schedule"] == {"best": math.inf, "neg": -math.inf}
    assert back["executable"]["params"].dtype == np.float32
    assert np.array_equal(back["executable"]["params"], s["executable"]["params"])
    assert int(back["executable"]["step"]) == 21
    assert np.array_equal(back["order"], [3, 2, 1, 0])
    rng = np.random.default_rng()
    rng.bit_generator.state = back["shuffle_rng"]
    ref = np.random.default_rng(0)
    ref.random(3)
    assert rng.random() == ref.random()


def test_interrupted_checkpoint_save_leaves_the_previous_one(tmp_path, monkeypatch):
    checkpoint.save(tmp_path / "ck", state(1), tag="e1")
    real = checkpoint.Folder.write_json

    def crash(folder, name, obj):  # the npz of epoch 2 is written, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.Folder, "write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path / "ck", state(2), tag="e2")
    monkeypatch.setattr(checkpoint.Folder, "write_json", real)
    back = checkpoint.load(tmp_path / "ck")
    assert back["epoch"] == 1
    assert np.array_equal(back["executable"]["params"], np.arange(5, dtype=np.float32))
    checkpoint.save(tmp_path / "ck", state(3), tag="e3")  # the next save cleans up
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["state-e3.npz",
                                                                  "state.json"]


@pytest.mark.parametrize("breakage, text", [
    (None, "no checkpoint"), ("json", "damaged: state.json is truncated"),
    ("npz", "damaged: `state-x.npz`, which state.json names, is missing"),
    ("truncated", "damaged: `state-x.npz` is truncated or not an arrays file"),
    ("garbage", "damaged: `state-x.npz` is truncated or not an arrays file"),
    ("half-json", "damaged: state.json is truncated")])
def test_broken_checkpoint_is_e504(tmp_path, breakage, text):
    folder = tmp_path / "ck"
    if breakage is not None:
        checkpoint.save(folder, state(1), tag="x")
        npz, js = folder / "state-x.npz", folder / "state.json"
        if breakage == "json":
            js.write_text("{not json")
        elif breakage == "half-json":
            js.write_bytes(js.read_bytes()[: len(js.read_bytes()) // 2])
        elif breakage == "npz":
            npz.unlink()
        elif breakage == "truncated":
            npz.write_bytes(npz.read_bytes()[:200])
        else:
            npz.write_bytes(b"\x80\x04 not an npz at all" * 10)
    with pytest.raises(DiagnosticError) as info:
        checkpoint.load(folder)
    d = info.value.diagnostics[0]
    assert d.code == "E504" and text in d.message, d.message
    assert "pickled" not in d.message and "zip" not in d.message.lower()
    if breakage not in (None, "npz"):
        assert "--overwrite" in d.hints[0] and "from epoch 0" in d.hints[0]


ROWS = [{"epoch": 1, "loss": 0.5, "lr": 0.1, "accuracy": 0.5, "val_loss": 0.6,
         "val_accuracy": 0.4, "time": 0.01},
        {"epoch": 2, "loss": 0.1 + 0.2, "lr": 0.05, "accuracy": 0.75, "val_loss": float("nan"),
         "val_accuracy": 0.5, "time": 0.02}]


def test_history_csv_and_json(tmp_path):
    artifacts.write_history(tmp_path, ROWS)
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(ROWS[0])
    assert float(rows[1]["loss"]) == 0.1 + 0.2  # full precision survives the CSV
    assert math.isnan(float(rows[1]["val_loss"]))
    back = json.loads((tmp_path / "history.json").read_text())
    assert back[1]["val_loss"] is None and back[0] == ROWS[0]


def test_curves_png(tmp_path):
    path = artifacts.write_curves(tmp_path, ROWS, marked_epoch=1, title="m")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert artifacts.write_curves(tmp_path / "none", [], None) is None


def test_curves_panels_and_pixels(tmp_path):
    """One panel per quantity (420 px each), the splits in their colours, a NaN epoch and a
    single row drawn without failing."""
    from io import BytesIO

    from PIL import Image

    from nnspec.run.curves import COLOURS, nice_ticks, png, quantities

    rows = [{"epoch": e, "loss": 1.0 / e, "lr": 0.1, "accuracy": 0.5 + e / 40,
             "val_loss": float("nan") if e == 3 else 1.2 / e, "val_f1": 0.4, "time": 0.1}
            for e in range(1, 21)]
    assert quantities(rows) == ["loss", "accuracy", "f1"]
    img = Image.open(BytesIO(png(rows, 4, "t"))).convert("RGB")
    assert img.size == (4 * 420, 340 + 28)  # and the learning rate's panel (issue 18)
    colours = {tuple(c) for c in np.asarray(img).reshape(-1, 3).astype(int).tolist()}
    for colour in (COLOURS["train"], COLOURS["val"], COLOURS["lr"]):
        assert any(sum(abs(a - b) for a, b in zip(c, colour, strict=True)) < 12 for c in colours)
    assert Image.open(BytesIO(png(rows[:1], None))).size == (4 * 420, 340)
    no_lr = [{k: v for k, v in r.items() if k != "lr"} for r in rows]
    assert Image.open(BytesIO(png(no_lr, None))).size == (3 * 420, 340)
    assert nice_ticks(0.23, 0.67, 7) == [0.3, 0.4, 0.5, 0.6]
    assert nice_ticks(1, 2000, 6) == [500, 1000, 1500, 2000]


def test_curves_switch_to_a_log_axis_when_the_loss_spans_decades():
    """Issue 18: a diverging loss (x10 per epoch) is drawn on a log axis, so the steady
    blow-up is a straight line, not a spike at the end; a loss within a decade or two stays
    linear."""
    from io import BytesIO

    from PIL import Image

    from nnspec.run.curves import COLOURS, decade_ticks, log_scale, png

    assert log_scale({"train": [1.4, 10.0, 1e57]})
    assert log_scale({"train": [2.0, 0.01]})  # 200x: a loss that fell by two decades too
    assert not log_scale({"train": [1.0, 0.5, 0.02]})
    assert not log_scale({"train": [1.0, -1.0, 500.0]})  # not all positive (r2)
    assert decade_ticks(-0.2, 57.3) == [0.0, 9.0, 18.0, 27.0, 36.0, 45.0, 54.0]
    assert decade_ticks(-2.5, 1.2) == [-2.0, -1.0, 0.0, 1.0]
    rows = [{"epoch": e, "loss": 10.0 ** e, "lr": 5.0} for e in range(1, 31)]
    img = np.asarray(Image.open(BytesIO(png(rows, None))).convert("RGB")).astype(int)
    panel = img[:, :420]
    blue = np.all(np.abs(panel - np.array(COLOURS["train"])) < 30, axis=2)
    ys, xs = np.nonzero(blue[:, 70:400])  # the plot area
    # on a log axis the line is straight: its height falls linearly with the epoch. One
    # height per pixel column (the median of its blue pixels), so that neither how thick the
    # downsampled line is nor the legend's short blue stroke (the only other blue, a few
    # columns) weighs on the fit; a linear axis draws a flat line and a spike: no slope.
    cols = np.unique(xs)
    heights = np.array([np.median(ys[xs == c]) for c in cols])
    fit = np.polyfit(cols, heights, 1)
    near = np.abs(np.polyval(fit, cols) - heights) < 8
    assert len(cols) > 250 and fit[0] < -0.5 and near.mean() > 0.9
