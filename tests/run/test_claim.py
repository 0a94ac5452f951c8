"""The run directory is nnspec's alone (docs/runs.md): --out must be absent, empty or a run
folder of nnspec's (the manifest's format marker); links inside it are refused, never
followed; a run holds a lock for its life; default folders never collide."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from runfork import needs_fork, start, wait
from runspecs import write_spec

from nnspec.cli import main
from nnspec.run import claim
from nnspec.run.folder import Folder
from nnspec.run.lock import LOCK_NAME, acquire


def run_cli(*argv) -> int:
    return main(["run", *map(str, argv)])


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder` (links as their target), to show it was left untouched."""
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        key = str(p.relative_to(folder))
        out[key] = f"-> {os.readlink(p)}" if p.is_symlink() else (
            p.read_bytes() if p.is_file() else "dir")
    return out


@pytest.fixture
def spec(tmp_path) -> Path:
    return write_spec(tmp_path, epochs=2)


def test_a_foreign_folder_is_refused_by_name_and_left_untouched(tmp_path, spec, capsys):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "history.csv").write_text("my own data\n")
    (mine / "weights.npz").write_bytes(b"mine")
    (mine / "manifest.json").write_text('{"name": "another tool", "status": "completed"}')
    before = snapshot(mine)
    assert run_cli(spec, "--out", mine, "-q") == 1
    assert run_cli(spec, "--out", mine, "-q", "--overwrite") == 1
    err = capsys.readouterr().err
    assert "error[E503]" in err and "is not empty and is not an nnspec run directory" in err
    assert "`history.csv`" in err and "Traceback" not in err
    assert snapshot(mine) == before and not (mine / LOCK_NAME).exists()
    assert run_cli("--resume", mine) == 1
    assert "error[E504]" in capsys.readouterr().err
    assert snapshot(mine) == before


def test_an_empty_folder_or_one_holding_only_leftovers_of_ours_is_used(tmp_path, spec):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli(spec, "--out", empty, "-q") == 0
    leftovers = tmp_path / "leftovers"  # a run killed while writing its first manifest
    leftovers.mkdir()
    (leftovers / LOCK_NAME).write_text("999999\n")
    (leftovers / ".tmp-manifest.json-ab12cd34").write_text("{")
    assert run_cli(spec, "--out", leftovers, "-q") == 0
    assert sorted(p.name for p in leftovers.iterdir()) == sorted(p.name for p in empty.iterdir())
    a = json.loads((empty / "manifest.json").read_text())
    assert a["format"] == {"name": "nnspec-run", "version": 2} and a["status"] == "completed"


def test_out_and_its_parent_may_be_links(tmp_path, spec):
    disk = tmp_path / "bigdisk"
    disk.mkdir()
    (tmp_path / "runs").symlink_to(disk, target_is_directory=True)
    assert run_cli(spec, "--out", tmp_path / "runs" / "a", "-q") == 0
    assert (disk / "a" / "weights.npz").is_file()
    (disk / "b").mkdir()
    (tmp_path / "b").symlink_to(disk / "b", target_is_directory=True)
    assert run_cli(spec, "--out", tmp_path / "b", "-q") == 0
    assert run_cli("--resume", tmp_path / "b", "--epochs", 3, "-q") == 0
    assert (disk / "b" / "checkpoint" / "state.json").is_file()


@pytest.mark.parametrize("entry", ["checkpoint", "weights.npz", "history.csv"])
def test_a_link_inside_the_run_folder_is_refused_never_followed(tmp_path, spec, capsys,
                                                                 entry):
    run = tmp_path / "r"
    assert run_cli(spec, "--out", run, "-q") == 0
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "state-e00001-b000000.npz").write_bytes(b"not the run's")
    (target / "state.json").write_text("{}")
    (target / "weights.npz").write_bytes(b"precious")
    victim = run / entry
    if victim.is_dir():
        for p in victim.iterdir():
            p.unlink()
        victim.rmdir()
    else:
        victim.unlink()
    victim.symlink_to(target if entry == "checkpoint" else target / "weights.npz")
    before = snapshot(target)
    for argv in (("--resume", run, "--epochs", 4), (spec, "--out", run, "--overwrite")):
        assert run_cli(*argv, "-q") == 1
        err = capsys.readouterr().err
        assert "error[E503]" in err and f"`{victim}` is a symbolic link" in err, err
        assert snapshot(target) == before


def test_a_completed_run_needs_overwrite_which_deletes_only_our_files(tmp_path, spec, capsys):
    run = tmp_path / "r"
    assert run_cli(spec, "--out", run, "-q") == 0
    (run / "notes.txt").write_text("the user's")
    assert run_cli(spec, "--out", run, "-q") == 1
    err = capsys.readouterr().err
    assert "error[E503]" in err and "already holds a completed run" in err
    assert "--overwrite" in err and "--resume" in err
    assert run_cli(spec, "--out", run, "-q", "--epochs", 1, "--overwrite") == 0
    assert (run / "notes.txt").read_text() == "the user's"
    assert json.loads((run / "manifest.json").read_text())["epochs_run"] == 1
    assert len(json.loads((run / "history.json").read_text())) == 1


def test_a_failed_run_without_a_checkpoint_is_rerun_without_overwrite(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,x\n")  # too few rows to split
    spec = write_spec(tmp_path, epochs=2, source='csv("d.csv", target=label)')
    run = tmp_path / "r"
    assert run_cli(spec, "--out", run, "-q") == 1
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["diagnostics"]
    capsys.readouterr()
    good = write_spec(tmp_path, name="good.nn", epochs=2)
    assert run_cli(good, "--out", run, "-q") == 0


def test_older_and_newer_run_folders(tmp_path, spec, capsys):
    run = tmp_path / "r"
    assert run_cli(spec, "--out", run, "-q", "--epochs", 1) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["format"]["version"] = 3
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert run_cli("--resume", run, "--epochs", 2) == 1
    assert "written by a newer nnspec (run format 3" in capsys.readouterr().err
    old = {k: v for k, v in manifest.items() if k != "format"}
    old["spec"] = {k: v for k, v in old["spec"].items() if k != "checked"}
    (run / "manifest.json").write_text(json.dumps(old))
    before = snapshot(run)
    assert run_cli(spec, "--out", run, "-q", "--overwrite") == 1
    assert "holds a run written by an older nnspec" in capsys.readouterr().err
    assert snapshot(run) == before
    assert run_cli("--resume", run, "--epochs", 2, "-q") == 0  # resumed, with a warning
    assert "warning[W106]" in capsys.readouterr().err
    upgraded = json.loads((run / "manifest.json").read_text())
    assert upgraded["format"]["version"] == 2 and upgraded["spec"]["checked"]


def test_a_folder_in_use_is_refused_with_the_pid(tmp_path, spec, capsys):
    run = tmp_path / "r"
    assert run_cli(spec, "--out", run, "-q") == 0
    folder = Folder.open(run)
    lock = acquire(folder)  # as a run in this process would hold it
    try:
        assert (run / LOCK_NAME).read_text() == f"{os.getpid()}\n"
        assert run_cli("--resume", run, "--epochs", 3, "-q") == 1
        assert run_cli(spec, "--out", run, "-q", "--overwrite") == 1
        err = capsys.readouterr().err
        assert err.count(f"is in use by process {os.getpid()}") == 2 and "E507" in err
    finally:
        lock.release()
        folder.close()
    assert not (run / LOCK_NAME).exists()
    assert run_cli("--resume", run, "--epochs", 3, "-q") == 0


@needs_fork
def test_a_running_run_refuses_a_second_one_and_a_resume(tmp_path, capsys):
    spec = write_spec(tmp_path, epochs=100000)
    run = tmp_path / "r"
    pid = start(["run", spec, "--out", run, "-q"])
    try:
        for _ in range(2000):  # until the child trains (it has written its first row)
            if (run / "history.csv").exists():
                break
            assert os.waitpid(pid, os.WNOHANG) == (0, 0)
            time.sleep(0.005)
        assert (run / LOCK_NAME).read_text() == f"{pid}\n"
        assert run_cli(spec, "--out", run, "-q", "--overwrite") == 1
        assert run_cli("--resume", run, "-q") == 1
        err = capsys.readouterr().err
        assert err.count(f"is in use by process {pid}") == 2
    finally:
        os.kill(pid, 15)
    assert wait(pid) == 130  # SIGTERM while training: a checkpoint, then 130
    assert json.loads((run / "manifest.json").read_text())["status"] == "interrupted"
    assert not (run / LOCK_NAME).exists()


def test_default_folders_are_made_not_checked(tmp_path, monkeypatch):
    """Two runs in the same second: mkdir decides, the second gets -2."""
    fixed = datetime(2026, 1, 2, 3, 4, 5)

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return fixed

    monkeypatch.setattr(claim, "datetime", Clock)
    a = claim.default_dir("m", tmp_path / "runs")
    b = claim.default_dir("m", tmp_path / "runs")
    assert (a.name, b.name) == ("m-20260102-030405", "m-20260102-030405-2")
    assert a.is_dir() and b.is_dir()


@needs_fork
def test_two_runs_started_in_the_same_second_both_succeed(tmp_path):
    spec = write_spec(tmp_path, epochs=2)

    def same_second():
        fixed = datetime(2026, 1, 2, 3, 4, 5)

        class Clock(datetime):
            @classmethod
            def now(cls, tz=None):
                return fixed

        claim.datetime = Clock

    pids = [start(["run", spec.name, "-q"], cwd=str(tmp_path), before=same_second)
            for _ in range(2)]
    assert [wait(p) for p in pids] == [0, 0]
    made = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert made == ["tiny-20260102-030405", "tiny-20260102-030405-2"]
    for name in made:
        assert json.loads((tmp_path / "runs" / name / "manifest.json").read_text())[
            "status"] == "completed"


def test_own_temporary_names():
    assert claim.is_own_temp(".tmp-manifest.json-ab12cd34")
    assert claim.is_own_temp(".tmp-state-e00001-b000000.npz-x_9abcd")
    assert not claim.is_own_temp(".tmp-notes.txt-ab12cd34")
    assert not claim.is_own_temp("manifest.json")
    assert re.fullmatch(r"\.nnspec\.lock", LOCK_NAME)


def test_out_that_is_a_file_and_resume_with_overwrite_are_refused(tmp_path, spec, capsys):
    (tmp_path / "f").write_text("a file")
    assert run_cli(spec, "--out", tmp_path / "f", "-q") == 1
    assert "error[E503]" in capsys.readouterr().err
    assert (tmp_path / "f").read_text() == "a file"
    assert run_cli("--resume", tmp_path / "f") == 1
    assert "is not a run directory (it is a file)" in capsys.readouterr().err
    assert run_cli("--resume", tmp_path / "f", "--overwrite") == 1
    assert "cannot be combined with --resume" in capsys.readouterr().err
