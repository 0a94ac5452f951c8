"""The sweep folder's refusals (E430) and a missing executor (E431), rendered as goldens.

Nothing here trains: the refusals come before any trial runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from sweepspecs import write

from nnspec.diagnostics import DiagnosticError, render
from nnspec.run.session import load
from nnspec.sweep.run import SweepOptions, locked, prepare_dir, ray_init, run_sweep
from nnspec.sweep.spec import expand

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1"


def golden(name: str, exc: DiagnosticError, tmp: Path) -> None:
    out = "".join(render(d) + "\n\n" for d in exc.diagnostics).replace(str(tmp), "TMP")
    path = GOLDEN / f"{name}.stderr"
    if UPDATE or not path.exists():
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")


def sweep_and_spec(tmp: Path, grid: str = "[0.05, 0.5]"):
    from nnspec.cli.sweep import sweep_of

    path = write(tmp, f"sweep {{\n    grid train.optimizer.lr = {grid}\n}}\n")
    loaded = load(path, {})
    return loaded, sweep_of(loaded.text, str(path), loaded.spec, {})


def test_a_folder_that_is_not_a_sweep_is_refused(tmp_path: Path) -> None:
    loaded, sweep = sweep_and_spec(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(DiagnosticError) as exc:
        run_sweep(loaded.spec, loaded.text, sweep, SweepOptions(out=str(out)), sources={},
                  say=lambda _m: None)
    golden("E430", exc.value, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # left as it was


def test_a_folder_of_another_sweep_is_refused(tmp_path: Path) -> None:
    loaded, sweep = sweep_and_spec(tmp_path)
    out = tmp_path / "out"
    trials = expand(sweep, loaded.spec.train.seed)
    prepare_dir(out, trials, "spec")
    from nnspec.sweep.run import _write

    _write(out, sweep, trials, [], "val_loss", "x.nn", "running")
    (out / "spec.nn").write_text("spec")
    prepare_dir(out, trials, "spec")  # the same sweep: continues
    _, other = sweep_and_spec(tmp_path, "[0.05, 0.5, 5]")
    with pytest.raises(DiagnosticError) as exc:
        prepare_dir(out, expand(other, 3), "spec")
    golden("E430-2", exc.value, tmp_path)


def test_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    with locked(tmp_path), pytest.raises(DiagnosticError) as exc:
        # flock locks are per open file: a second open in this process conflicts too
        with locked(tmp_path):
            pass
    assert exc.value.diagnostics[0].code == "E430"
    assert f"process {os.getpid()}" in exc.value.diagnostics[0].message


def test_ray_missing_is_E431(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(DiagnosticError) as exc:
        ray_init(None, 2)
    golden("E431", exc.value, tmp_path)


def test_nothing_to_sweep_is_a_diagnostic(tmp_path: Path, capsys) -> None:
    from nnspec.cli import main

    path = write(tmp_path, "")
    assert main(["sweep", str(path), "-o", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert "error[E315]: nothing to sweep" in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_an_invalid_point_is_reported_before_anything_runs(tmp_path: Path, capsys) -> None:
    from nnspec.cli import main

    path = write(tmp_path, "")
    code = main(["sweep", str(path), "-o", str(tmp_path / "s"), "--grid",
                 "train.optimizer.lr=[0.1, -2]"])
    err = capsys.readouterr().err
    assert code == 1 and "the command line:2:" in err and "error[E302]" in err
    assert not (tmp_path / "s").exists()
