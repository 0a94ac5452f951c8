"""pictures: trajectory recording (exact, resumable), `nnspec paths`, `nnspec landscape`.

Oracles: the trajectory's steps are checked against gradient descent written out by hand
(linear regression, mse, full batch: the gradient in closed form); the surface against the
run's own final training loss and a hand-computed mse; the landscape's centre against the
run's final training loss and the PCA projection against numpy's SVD done here. Runs use the
reference backend (NumPy) and a few epochs, so the whole file takes seconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from nnspec.diagnostics import DiagnosticError, render
from nnspec.run.session import RunOptions, resume_run, run_spec
from nnspec.train.interrupt import StopFlag
from nnspec.train.progress import Reporter

GOLDEN = Path(__file__).parent / "golden"

LINEAR = """model line {
    input 1
    dense 1
}
data { source linear(samples=60, slope=2.0, intercept=1.0, noise=0.1, seed=5) }
train {
    loss mse
    optimizer sgd(lr=0.1)
    epochs 4
    batch full
    seed 3
}
output { trajectory }
"""

LOGISTIC = """model logit {
    input 1
    dense 1 sigmoid
}
data { source csv("d.csv", target=y) }
train {
    loss binary_crossentropy
    optimizer sgd(lr=0.5)
    epochs 3
    batch 8
    seed 1
}
output { trajectory every=2 }
"""

MLP = """model mlp {
    input 2
    dense 6 tanh
    dense 1 sigmoid
}
data {
    source moons(samples=120, noise=0.2, seed=2)
    standardize
}
train {
    loss binary_crossentropy
    optimizer adam(lr=0.05)
    epochs 4
    batch 16
    seed 7
}
output { trajectory every=3 }
"""


def _run(spec: Path, out: Path, *sets: str) -> Path:
    outcome = run_spec(spec, RunOptions(out=str(out), sets=sets, backend="reference"),
                       sources={})
    assert outcome.result.status == "completed"
    return outcome.run_dir


def _traj(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "trajectory.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pictures")
    (root / "line.nn").write_text(LINEAR)
    (root / "mlp.nn").write_text(MLP)
    sweep = root / "sweep" / "trials"
    out = {"full": _run(root / "line.nn", sweep / "full"),
           "adam": _run(root / "line.nn", sweep / "adam", "train.optimizer=adam(lr=0.1)",
                        "train.batch=16"),
           "mlp": _run(root / "mlp.nn", root / "mlp")}
    out["root"] = root
    out["sweep"] = root / "sweep"
    return out


def test_trajectory_is_gradient_descent_step_by_step(runs: dict[str, Path]) -> None:
    from nnspec.backends import compile as compile_plan
    from nnspec.lower import lower
    from nnspec.pictures.runs import load_run, training_arrays

    run = load_run(runs["full"], {})
    t = _traj(runs["full"])
    assert list(t["step"]) == [0, 1, 2, 3, 4] and list(t["epoch"]) == [0, 1, 2, 3, 4]
    assert int(t["every"]) == 1 and t["params"].shape == (5, 2)
    plan = lower(run.spec)
    initial = compile_plan(plan, "reference").get_params()
    np.testing.assert_array_equal(t["params"][0], initial)  # the first point: initial weights
    assert np.isnan(t["loss"][0])
    x, y = training_arrays(run.spec, plan)
    x, y = x[:, 0].astype(np.float64), y[:, 0].astype(np.float64)
    w, b = t["params"][0]
    for k in range(1, 5):  # sgd on mse, batch full, by hand
        r = w * x + b - y
        assert t["loss"][k] == pytest.approx(np.mean(r * r), rel=1e-5)
        w, b = w - 0.1 * np.mean(2 * r * x), b - 0.1 * np.mean(2 * r)
        np.testing.assert_allclose(t["params"][k], [w, b], rtol=1e-5)
    with np.load(runs["full"] / "weights.npz") as z:  # the last point: the final weights
        np.testing.assert_array_equal(t["params"][-1], [z["layers.0.weight"][0, 0],
                                                        z["layers.0.bias"][0]])


def test_trajectory_every_n_keeps_the_last_step(tmp_path: Path) -> None:
    spec = tmp_path / "mlp.nn"
    spec.write_text(MLP)
    run = _run(spec, tmp_path / "r", "train.epochs=2")  # 8 batches per epoch: 16 steps
    t = _traj(run)
    assert list(t["step"]) == [0, 3, 6, 9, 12, 15, 16]
    assert list(t["epoch"]) == [0, 1, 1, 2, 2, 2, 2]
    assert list(t["batch"]) == [0, 3, 6, 1, 4, 7, 8]
    assert not (run / "trajectory.bin").exists()


class _StopAfter(Reporter):
    def __init__(self, stop: StopFlag, chunks: int):
        self.stop, self.left = stop, chunks

    def chunk(self, epoch: int, batches_done: int, samples_per_s: float) -> None:
        self.left -= 1
        if self.left == 0:
            self.stop.set()


def test_interrupted_and_resumed_trajectory_is_bit_identical(tmp_path: Path,
                                                             runs: dict[str, Path]) -> None:
    spec = tmp_path / "mlp.nn"
    spec.write_text(MLP)
    stop = StopFlag()
    opts = RunOptions(out=str(tmp_path / "r"), backend="reference")
    first = run_spec(spec, opts, sources={}, stop=stop, reporter=_StopAfter(stop, 4))
    assert first.result.status == "interrupted" and first.result.epochs_run < 4
    part = _traj(first.run_dir)  # an interrupted run keeps what it recorded
    assert 0 < part["step"][-1] < 32 and part["step"][-1] % 3 == 0
    assert not (first.run_dir / "trajectory.bin").exists()
    resumed = resume_run(first.run_dir, RunOptions(backend="reference"), sources={})
    assert resumed.result.status == "completed"
    whole, again = _traj(runs["mlp"]), _traj(resumed.run_dir)
    assert whole.keys() == again.keys()
    for key in whole:
        np.testing.assert_array_equal(whole[key], again[key], err_msg=key)


def test_rerun_deletes_the_trajectory(tmp_path: Path) -> None:
    spec = tmp_path / "line.nn"
    spec.write_text(LINEAR)
    run = _run(spec, tmp_path / "r")
    spec.write_text(LINEAR.replace("output { trajectory }", ""))
    outcome = run_spec(spec, RunOptions(out=str(run), overwrite=True, backend="reference"),
                       sources={})
    assert outcome.result.status == "completed"
    assert not (run / "trajectory.npz").exists()


def test_paths_surface_and_labels(runs: dict[str, Path]) -> None:
    from nnspec.pictures import paths
    from nnspec.pictures.runs import find_runs, load_run

    found = find_runs([str(runs["sweep"])])  # found inside a sweep-like folder
    assert [p.name for p in found] == ["adam", "full"]
    loaded = [load_run(p, {}) for p in found]
    picture = paths.compute(loaded, resolution=9)
    assert picture.labels == ["optimizer=adam(lr=0.1), batch=16",
                              "optimizer=sgd(lr=0.1), batch=full"]
    assert picture.warnings == []
    loss_at = paths.LossAt(loaded[0])
    for run, pts in zip(found, picture.points, strict=True):
        final = json.loads((run / "metrics.json").read_text())["train"]["loss"]
        assert loss_at(*pts[-1]) == pytest.approx(final, rel=1e-5)
        np.testing.assert_array_equal(pts[0], _traj(run)["params"][0])
    # the grid's values are the mse of the training data at each (w, b), computed by hand
    from nnspec.pictures.runs import training_arrays

    x, y = training_arrays(loaded[0].spec, loss_at.plan)
    s = picture.surface
    j, i = 3, 6
    assert s.loss[j, i] == pytest.approx(np.mean((s.w[i] * x + s.b[j] - y) ** 2), rel=1e-12)
    assert s.w.min() <= min(p[:, 0].min() for p in picture.points)
    assert s.b.max() >= max(p[:, 1].max() for p in picture.points)


def test_paths_of_a_logistic_regression(tmp_path: Path) -> None:
    from nnspec.pictures import paths
    from nnspec.pictures.runs import load_run

    rng = np.random.default_rng(0)
    xs = rng.normal(size=40)
    lines = ["x,y", *(f"{v:.6f},{int(v + 0.5 * rng.normal() > 0)}" for v in xs)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "logit.nn").write_text(LOGISTIC)
    run = _run(tmp_path / "logit.nn", tmp_path / "r")
    picture = paths.compute([load_run(run, {})], resolution=7)
    final = json.loads((run / "metrics.json").read_text())["train"]["loss"]
    assert paths.LossAt(picture.runs[0])(*picture.points[0][-1]) == pytest.approx(final,
                                                                                  rel=1e-5)
    # 5 batches x 3 epochs: every 2nd step, and the last one
    assert list(_traj(run)["step"]) == [0, 2, 4, 6, 8, 10, 12, 14, 15]


def test_landscape_numbers(runs: dict[str, Path]) -> None:
    from nnspec.pictures.landscape import landscape_of, random_directions

    final = json.loads((runs["mlp"] / "metrics.json").read_text())["train"]["loss"]
    land = landscape_of(str(runs["mlp"]), {}, resolution=5)
    assert land.kind == "pca"
    assert land.centre_loss == pytest.approx(final, rel=1e-6)
    t = _traj(runs["mlp"])
    theta = t["params"][-1]  # no restore_best: the path ends at the final weights
    m = t["params"] - theta
    _, _, vt = np.linalg.svd(m - m.mean(axis=0), full_matrices=False)
    for k in range(2):  # the same plane as an SVD done here (up to each direction's sign)
        assert abs(abs(float(land.directions[k] @ vt[k])) - 1) < 1e-9
    np.testing.assert_allclose(land.path[0], m[0] @ land.directions.T, atol=1e-6)
    np.testing.assert_allclose(land.path[-1], [0, 0], atol=1e-6)
    rand = landscape_of(str(runs["mlp"]), {}, directions="random", seed=3, resolution=5)
    assert rand.kind == "random" and rand.loss[2, 2] == pytest.approx(final, rel=1e-6)
    from nnspec.lower import lower
    from nnspec.pictures.runs import load_run
    from nnspec.run.restore import restore

    restored = restore(runs["mlp"], {})
    theta = restored.exe.get_params().astype(np.float64)  # weights.npz, as the landscape's
    restored.rd.close()
    plan = lower(load_run(runs["mlp"], {}).spec)
    d = random_directions(plan, theta, 3)
    np.testing.assert_array_equal(d, rand.directions)  # seeded
    w = plan.tensors[0]  # layers.0.weight (6, 2): each filter scaled to its own norm
    n = int(np.prod(w.shape))
    rows, ref = d[0, w.offset:w.offset + n].reshape(6, 2), theta[w.offset:w.offset + n]
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1),
                               np.linalg.norm(ref.reshape(6, 2), axis=1), rtol=1e-12)
    bias = plan.tensors[1]
    assert bias.key.endswith("bias") and not d[0, bias.offset:bias.offset + 6].any()


def _png_ok(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_cli_draws_pngs(runs: dict[str, Path], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    from nnspec.cli import main

    assert main(["paths", str(runs["sweep"]), "-o", str(tmp_path / "p.png"),
                 "--resolution", "9"]) == 0
    _png_ok(tmp_path / "p.png")
    assert "optimizer=adam(lr=0.1), batch=16" in capsys.readouterr().out
    assert main(["landscape", str(runs["mlp"]), "-o", str(tmp_path / "l.png"),
                 "--resolution", "7"]) == 0
    _png_ok(tmp_path / "l.png")


def _rendered(exc: DiagnosticError, root: Path) -> str:
    text = "".join(render(d) + "\n\n" for d in exc.diagnostics)
    return re.sub(re.escape(str(root)) + r"[^\s`]*?/(\w+)\b", r"RUNS/\1", text)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.stderr"
    if not path.exists():
        path.write_text(text)
        pytest.fail(f"wrote missing golden {path.name}; review it and rerun")
    assert text == path.read_text()


def test_diagnostics(runs: dict[str, Path], tmp_path: Path) -> None:
    from nnspec.pictures import paths
    from nnspec.pictures.runs import find_runs, load_run, need_trajectory

    with pytest.raises(DiagnosticError) as e436:
        paths.compute([load_run(runs["mlp"], {})])
    _golden("E436", _rendered(e436.value, runs["root"]))
    spec = tmp_path / "line.nn"
    spec.write_text(LINEAR.replace("output { trajectory }", ""))
    plain = _run(spec, tmp_path / "plain")
    with pytest.raises(DiagnosticError) as e437:
        need_trajectory(load_run(plain, {}))
    _golden("E437", _rendered(e437.value, tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DiagnosticError) as none:
        find_runs([str(tmp_path / "empty")])
    assert none.value.diagnostics[0].code == "E437"
    other = _run(spec, tmp_path / "other", "data.source=linear(samples=60, slope=-1.0)",
                 "output.trajectory_every=1")
    picture = paths.compute([load_run(runs["full"], {}), load_run(other, {})], resolution=5)
    text = "".join(render(d) + "\n\n" for d in picture.warnings)
    text = text.replace(str(runs["full"]), "RUNS/full").replace(str(other), "RUNS/other")
    _golden("W116", text)
    assert [d.code for d in picture.warnings] == ["W116"]


def _fork_cli(argv: list[str], kill_at: str | None) -> int:
    """`nnspec <argv>` in a forked child of this (warm) process; its exit code (-9 when the
    kill hook ended it). As tests/run/runfork.py, kept here so the folders stay apart."""
    import os

    from nnspec.run.killpoints import VARIABLE

    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 99
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.environ.pop(VARIABLE, None)
            if kill_at is not None:
                os.environ[VARIABLE] = kill_at
            from nnspec.cli import main

            code = main(argv)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="POSIX fork")
def test_killed_and_resumed_trajectory_is_bit_identical(tmp_path: Path) -> None:
    """kill -9 (the run's test hook) while training, while finishing and while writing
    trajectory.npz: `--resume` gives the uninterrupted run's trajectory, bit for bit."""
    spec = tmp_path / "mlp.nn"
    spec.write_text(MLP.replace("trajectory every=3", "trajectory every=5\n"
                                "    checkpoint every=1"))
    ref = run_spec(spec, RunOptions(out=str(tmp_path / "ref"), device="cpu"), sources={})
    assert ref.result.status == "completed"  # and the cpu kernels are now warm for the forks
    whole = _traj(ref.run_dir)
    for stage in ("training-checkpoint#2", "finishing", "write:trajectory.npz"):
        out = tmp_path / stage.replace(":", "_").replace("#", "_")
        argv = ["run", str(spec), "--out", str(out), "--device", "cpu", "--quiet"]
        assert _fork_cli(argv, stage) == -9, stage
        assert (out / "trajectory.bin").exists(), stage
        assert _fork_cli(["run", "--resume", str(out), "--quiet"], None) == 0, stage
        again = _traj(out)
        for key in whole:
            np.testing.assert_array_equal(whole[key], again[key], err_msg=f"{stage}: {key}")


def test_without_matplotlib_a_diagnostic(runs: dict[str, Path],
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from nnspec.cli import main

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    assert main(["paths", str(runs["sweep"]), "-o", str(runs["root"] / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "error[E437]: drawing paths.png needs matplotlib" in err and "Traceback" not in err
    assert not (runs["root"] / "x.png").exists()


def test_a_diverged_path_does_not_stretch_the_surface(runs: dict[str, Path],
                                                      tmp_path: Path) -> None:
    from nnspec.pictures import paths
    from nnspec.pictures.runs import load_run

    spec = tmp_path / "line.nn"
    spec.write_text(LINEAR)
    big = run_spec(spec, RunOptions(out=str(tmp_path / "big"), backend="reference",
                                    sets=("train.optimizer=sgd(lr=1.2)", "train.epochs=12")),
                   sources={})
    pts = _traj(big.run_dir)["params"]
    assert np.abs(pts).max() > 50  # it did blow up
    picture = paths.compute([load_run(runs["full"], {}), load_run(big.run_dir, {})],
                            resolution=5)
    assert picture.labels[1].endswith("(diverged)") and "diverged" not in picture.labels[0]
    s = picture.surface
    assert s.w[-1] - s.w[0] < 20 and s.b[-1] - s.b[0] < 20
    good = picture.points[0]
    assert s.w[0] <= good[:, 0].min() and s.w[-1] >= good[:, 0].max()


def test_a_long_path_is_thinned_with_its_ends(runs: dict[str, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from nnspec.pictures import landscape

    monkeypatch.setattr(landscape, "MAX_POINTS", 4)
    land = landscape.landscape_of(str(runs["mlp"]), {}, resolution=5)
    t = _traj(runs["mlp"])
    assert len(t["step"]) > 4 and land.path is not None and land.path.shape == (4, 2)
    full = landscape.project(t["params"][[0, -1]], t["params"][-1], land.directions)
    np.testing.assert_allclose(land.path[[0, -1]], full, atol=1e-6)


def test_recording_changes_nothing_and_matches_torch_step_by_step(tmp_path: Path) -> None:
    """The chunks that end at every recorded step train exactly as a run without a trajectory;
    and each recorded step of a stateful optimizer (Nesterov momentum, Adam) is the step
    torch.optim takes from the same weights on the same full batch."""
    torch = pytest.importorskip("torch")
    from nnspec.pictures.runs import load_run, training_arrays

    spec = tmp_path / "line.nn"
    spec.write_text(LINEAR.replace("batch full", "batch 16"))
    with_t = _run(spec, tmp_path / "with")
    spec.write_text(LINEAR.replace("batch full", "batch 16").replace("output { trajectory }",
                                                                     ""))
    without = _run(spec, tmp_path / "without")
    for name in ("weights.npz",):
        with np.load(with_t / name) as a, np.load(without / name) as b:
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key])
    spec.write_text(LINEAR)
    cases = {"sgd(lr=0.1, momentum=0.9, nesterov=true)":
             lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
             "adam(lr=0.1)": lambda p: torch.optim.Adam(p, lr=0.1)}
    for i, (opt, make) in enumerate(cases.items()):
        run = _run(spec, tmp_path / f"t{i}", f"train.optimizer={opt}")
        t = _traj(run)
        loaded = load_run(run, {})
        from nnspec.lower import lower

        x, y = training_arrays(loaded.spec, lower(loaded.spec))
        xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
        w = torch.tensor([[t["params"][0, 0]]], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([t["params"][0, 1]], dtype=torch.float64, requires_grad=True)
        optim = make([w, b])
        for k in range(1, len(t["step"])):
            optim.zero_grad()
            loss = torch.mean((xt @ w.T + b - yt) ** 2)
            loss.backward()
            optim.step()
            assert t["loss"][k] == pytest.approx(loss.item(), rel=1e-5), (opt, k)
            np.testing.assert_allclose(t["params"][k], [w.item(), b.item()], rtol=1e-5,
                                       atol=1e-6, err_msg=f"{opt} step {k}")
