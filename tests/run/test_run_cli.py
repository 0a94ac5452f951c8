"""`nnspec run` end to end on tiny specs (CPU backend): every artifact and its contents,
--json / --quiet output, --set, devices, resume after an interrupt, refusals as diagnostics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from runspecs import write_csv, write_spec

from nnspec.cli import main
from nnspec.pipeline import load_spec
from nnspec.run.session import RunOptions, resume_run, run_spec
from nnspec.train.interrupt import StopFlag
from nnspec.train.progress import Reporter

ARTIFACTS = ["checkpoint", "curves.png", "data.json", "history.csv", "history.json",
             "manifest.json", "metrics.json", "spec.nn", "weights.npz"]


def run_cli(*argv: str) -> int:
    return main(["run", *map(str, argv)])


def read(path: Path, name: str):
    return json.loads((path / name).read_text())


def weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path / "weights.npz") as z:
        return {k: z[k] for k in z.files}


def test_run_writes_every_artifact(tmp_path, capsys):
    spec = write_spec(tmp_path, epochs=3, extra="early_stop(monitor=val_loss, patience=9, "
                      "restore_best=true)")
    out = tmp_path / "run"
    assert run_cli(spec, "--out", out) == 0
    stdout = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ARTIFACTS
    assert stdout.count("epoch ") >= 3 and f"run directory: {out}" in stdout

    history = read(out, "history.json")
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert list(history[0]) == ["epoch", "loss", "lr", "train_loss", "accuracy", "f1",
                                "val_loss", "val_accuracy", "val_f1", "time"]
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["val_loss"]) for r in rows] == [r["val_loss"] for r in history]

    manifest = read(out, "manifest.json")
    assert manifest["status"] == "completed" and manifest["epochs_run"] == 3
    assert manifest["device"] == "cpu" and manifest["device_requested"] == "auto"
    assert manifest["seed"] == 3 and manifest["data"]["sizes"]["test"] > 0
    assert {"nnspec", "python", "numpy", "numba", "start_time", "end_time"} <= set(manifest)
    best = manifest["best_epoch"]
    assert best == 1 + int(np.argmin([r["val_loss"] for r in history]))
    assert manifest["restored_epoch"] == best

    metrics = read(out, "metrics.json")
    assert set(metrics) == {"train", "val", "test"}
    assert set(metrics["test"]) == {"loss", "accuracy", "f1"}
    # restore_best: the final weights are the best epoch's, so val metrics match its row
    assert metrics["val"]["loss"] == pytest.approx(history[best - 1]["val_loss"], rel=1e-6)

    w = weights(out)
    assert sorted(w) == ["layers.0.bias", "layers.0.weight", "layers.2.bias",
                         "layers.2.weight"]
    assert w["layers.0.weight"].shape == (6, 2) and w["layers.2.weight"].shape == (1, 6)
    assert read(out, "data.json")["scaler"]["kind"] == "standardize"

    # spec.nn is the resolved spec: it checks, and its IR is the original one
    again, diags = load_spec(out / "spec.nn", require_data=True)
    original, _ = load_spec(spec, require_data=True)
    assert again is not None and again.model_dump() == original.model_dump()


def test_json_lines_only_on_stdout(tmp_path, capsys):
    spec = write_spec(tmp_path, epochs=3)
    assert run_cli(spec, "--out", tmp_path / "r", "--json") == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 3
    rows = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows == read(tmp_path / "r", "history.json")
    assert "run directory" in captured.err


def test_quiet_prints_nothing(tmp_path, capsys):
    spec = write_spec(tmp_path, epochs=2)
    assert run_cli(spec, "--out", tmp_path / "r", "--quiet") == 0
    assert capsys.readouterr().out == ""


def test_set_epochs_seed_and_artifacts(tmp_path, capsys):
    spec = write_spec(tmp_path, epochs=9)
    out = tmp_path / "r"
    code = run_cli(spec, "--out", out, "--epochs", 2, "--seed", 11, "--set",
                   "train.optimizer.lr=0.01", "--set", "output.artifacts=weights,history")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "data.json", "history.csv", "history.json", "manifest.json", "spec.nn", "weights.npz"]
    text = (out / "spec.nn").read_text()
    assert "epochs 2" in text and "seed 11" in text and "adam(lr=0.01," in text
    manifest = read(out, "manifest.json")
    assert manifest["seed"] == 11 and manifest["epochs_run"] == 2
    assert manifest["overrides"] == ["train.optimizer.lr=0.01",
                                     "output.artifacts=weights,history", "train.epochs=2",
                                     "train.seed=11"]


def test_same_seed_same_weights_other_seed_not(tmp_path, capsys):
    spec = write_spec(tmp_path, epochs=2)
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert run_cli(spec, "--out", tmp_path / name, "--seed", seed, "--quiet") == 0
    a, b, c = (weights(tmp_path / n) for n in "abc")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["layers.0.weight"], c["layers.0.weight"])


@pytest.mark.parametrize("argv, code, text", [
    (["--set", "train.optimizer.lrr=1"], "E211", "did you mean `lr`?"),
    (["--set", "train.optimizer.lr=-1"], "E302", "greater than 0"),
    (["--set", "train.epochs"], "E102", "PATH=VALUE"),
])
def test_bad_overrides_exit_1_with_a_diagnostic(tmp_path, capsys, argv, code, text):
    spec = write_spec(tmp_path)
    assert run_cli(spec, "--out", tmp_path / "r", *argv) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and text in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_spec_errors_are_rendered(tmp_path, capsys):
    spec = write_spec(tmp_path).read_text().replace("dense 6 tanh", "dense 6 tahn")
    (tmp_path / "bad.nn").write_text(spec)
    assert run_cli(tmp_path / "bad.nn") == 1
    err = capsys.readouterr().err
    assert "bad.nn:3:13: error[E204]" in err and "^^^^" in err
    assert run_cli(tmp_path / "missing.nn") == 1
    assert "E505" in capsys.readouterr().err


def test_cuda_without_gpu_is_e501(tmp_path, capsys):
    from nnspec.run.session import _gpu_usable

    if _gpu_usable()[0]:
        pytest.skip("a GPU is available here")
    spec = write_spec(tmp_path)
    assert run_cli(spec, "--out", tmp_path / "r", "--device", "cuda") == 1
    err = capsys.readouterr().err
    assert "error[E501]" in err and "--device cpu" in err


def test_existing_run_dir_is_refused(tmp_path, capsys):
    spec = write_spec(tmp_path, epochs=1)
    assert run_cli(spec, "--out", tmp_path / "r", "-q") == 0
    assert run_cli(spec, "--out", tmp_path / "r", "-q") == 1
    err = capsys.readouterr().err
    assert "error[E503]" in err and "--resume" in err


class StopAfter(Reporter):
    def __init__(self, flag: StopFlag, epoch: int, batch: int | None):
        self.flag, self.at, self.batch = flag, epoch, batch

    def chunk(self, epoch, batches_done, samples_per_s):
        if self.batch is not None and epoch == self.at and batches_done >= self.batch:
            self.flag.set("test")

    def epoch(self, row, samples_per_s):
        if self.batch is None and row["epoch"] == self.at:
            self.flag.set("test")


@pytest.mark.parametrize("epoch, batch", [(2, None), (3, 2)])
def test_interrupt_then_resume_is_bit_identical(tmp_path, capsys, epoch, batch):
    spec = write_spec(tmp_path, epochs=5, schedule="warmup(epochs=2) then cosine()",
                      extra="early_stop(monitor=val_accuracy, patience=20, restore_best=true)")
    assert run_cli(spec, "--out", tmp_path / "straight", "-q") == 0

    flag = StopFlag()
    outcome = run_spec(spec, RunOptions(out=str(tmp_path / "cut"), chunk_target_s=1e-9),
                       sources={}, reporter=StopAfter(flag, epoch, batch), stop=flag)
    assert outcome.exit_code == 130
    cut = tmp_path / "cut"
    manifest = read(cut, "manifest.json")
    assert manifest["status"] == "interrupted"
    assert len(read(cut, "history.json")) == (epoch if batch is None else epoch - 1)

    assert run_cli("--resume", cut, "-q") == 0
    manifest = read(cut, "manifest.json")
    assert manifest["status"] == "completed" and len(manifest["resumed"]) == 1
    a, b = weights(tmp_path / "straight"), weights(cut)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in r.items() if k != "time"}
             for r in read(tmp_path / "straight", "history.json")]
    assert strip == [{k: v for k, v in r.items() if k != "time"}
                     for r in read(cut, "history.json")]
    assert read(cut, "metrics.json") == read(tmp_path / "straight", "metrics.json")


def test_resume_extends_a_finished_run(tmp_path, capsys):
    spec = write_spec(tmp_path, epochs=2)
    run = tmp_path / "r"
    assert run_cli(spec, "--out", run, "-q") == 0
    assert run_cli("--resume", run, "-q") == 1
    assert "already ran 2 of 2 epochs" in capsys.readouterr().err
    assert run_cli("--resume", run, "--epochs", 4, "-q") == 0
    assert [r["epoch"] for r in read(run, "history.json")] == [1, 2, 3, 4]
    assert "epochs 4" in (run / "spec.nn").read_text()
    # the same as 4 epochs straight (constant schedule, no early stopping)
    assert run_cli(spec, "--out", tmp_path / "s", "--epochs", 4, "-q") == 0
    a, b = weights(tmp_path / "s"), weights(run)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_refusals(tmp_path, capsys):
    assert run_cli("--resume", tmp_path) == 1
    assert "E504" in capsys.readouterr().err and True
    data = write_csv(tmp_path / "d.csv")
    spec = write_spec(tmp_path, epochs=3, source='csv("d.csv", target=label)')
    flag = StopFlag()
    run_spec(spec, RunOptions(out=str(tmp_path / "r")), sources={},
             reporter=StopAfter(flag, 1, None), stop=flag)
    assert run_cli("--resume", tmp_path / "r", "--set", "train.epochs=5") == 1
    assert "cannot be combined with --resume" in capsys.readouterr().err
    write_csv(data, seed=1)  # the data changed under the run
    assert run_cli("--resume", tmp_path / "r") == 1
    err = capsys.readouterr().err
    assert "E504" in err and "data changed" in err
    write_csv(data, seed=0)
    outcome = resume_run(tmp_path / "r", RunOptions(), sources={})
    assert outcome.exit_code == 0 and outcome.result.epochs_run == 3


def test_init_from_loads_saved_weights(tmp_path, capsys):
    from nnspec.pipeline import compile_spec
    from nnspec.run.restore import weights_of
    from nnspec.run.session import load

    spec = write_spec(tmp_path, epochs=2)
    assert run_cli(spec, "--out", tmp_path / "a", "-q") == 0
    text = spec.read_text().replace("input 2", 'input 2\n    init from "a/weights.npz"')
    (tmp_path / "b.nn").write_text(text)
    loaded = load(tmp_path / "b.nn", {})
    exe = compile_spec(loaded.spec, "cpu")
    got, want = weights_of(exe), weights(tmp_path / "a")
    assert sorted(got) == sorted(want)
    assert all(np.array_equal(got[k], want[k]) for k in want)

    (tmp_path / "c.nn").write_text(text.replace("dense 6 tanh", "dense 5 tanh"))
    assert run_cli(tmp_path / "c.nn", "--out", tmp_path / "c") == 1
    err = capsys.readouterr().err
    assert "c.nn:4:5: error[E410]" in err and "(6, 2)" in err
    (tmp_path / "d.nn").write_text(text.replace("a/weights", "zz/weights"))
    assert run_cli(tmp_path / "d.nn", "--out", tmp_path / "d") == 1
    err = capsys.readouterr().err
    assert "error[E410]" in err and "not found" in err


def test_override_rechecks_rules_between_fields(tmp_path, capsys):
    spec = write_spec(tmp_path, schedule="warmup(epochs=3) then cosine()", epochs=6)
    assert run_cli(spec, "--out", tmp_path / "r", "--epochs", 2) == 1
    err = capsys.readouterr().err
    assert "(with --set train.epochs=2)" in err and "error[E408]" in err and "^^^" in err
    assert run_cli(spec, "--out", tmp_path / "r", "--set", "data.split.validation=0",
                   "--set", "train.early_stop.monitor=val_loss") == 1
    assert "error[E407]" in capsys.readouterr().err


def test_diverging_loss_is_e411_and_a_failed_run(tmp_path, capsys):
    spec = tmp_path / "nan.nn"
    spec.write_text("model nan {\n    input 2\n    dense 8 relu\n    dense 1\n}\n"
                    "data { source linear(samples=64, features=2, slope=3.0) }\n"
                    "train {\n    loss mse\n    optimizer sgd(lr=50.0)\n    epochs 20\n"
                    "    batch 8\n}\n")
    out = tmp_path / "r"
    assert run_cli(spec, "--out", out) == 1
    err = capsys.readouterr().err
    assert "error[E411]" in err and "epoch 1, batch" in err and "Traceback" not in err
    assert "warning[W101]" in err
    manifest = read(out, "manifest.json")
    assert manifest["status"] == "failed" and manifest["epochs_run"] == 0
    assert [d["code"] for d in manifest["diagnostics"]] == ["E411"]
    assert read(out, "history.json") == [] and not (out / "weights.npz").exists()
