"""Faults in the middle of a run (issue 21, item 10): a full disk or a read-only folder
while training is a named diagnostic (E510), the last checkpoint stays intact, and
`--resume` then finishes a run bit-identical to one that never failed.

Simulated, and said so: the fault comes from the test hook NNSPEC_TEST_FAULT_AT
(nnspec/run/killpoints.py), which raises the OSError a full disk (ENOSPC) or a read-only file
system (EROFS) gives, at the moment the real write would fail (a checkpoint's files, a
history row, a final artifact). It then takes the same path through nnspec as a real one.
`test_a_real_full_disk` fills a real (tiny tmpfs) disk instead, where the machine allows an
unprivileged mount namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nnspec.cli import main
from nnspec.run import checkpoint, killpoints

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
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
    epochs 6
    batch 16
    metrics accuracy
    seed 3
}
output { checkpoint every=1 }
"""


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _rows(folder: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"}
            for r in json.loads((folder / "history.json").read_text())]


def assert_same(a: Path, b: Path) -> None:
    assert json.loads((b / "manifest.json").read_text())["status"] == "completed"
    wa, wb = _arrays(a / "weights.npz"), _arrays(b / "weights.npz")
    assert sorted(wa) == sorted(wb) and all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()
    assert _rows(a) == _rows(b)
    [na] = sorted((a / "checkpoint").glob("state-*.npz"))
    [nb] = sorted((b / "checkpoint").glob("state-*.npz"))
    assert na.name == nb.name
    ca, cb = _arrays(na), _arrays(nb)
    assert sorted(ca) == sorted(cb) and all(np.array_equal(ca[k], cb[k]) for k in ca)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    (folder / "tiny.nn").write_text(SPEC)
    assert main(["run", str(folder / "tiny.nn"), "--out", str(folder / "ref"), "-q"]) == 0
    return folder / "ref"


FAULTS = [
    # (hook, the file named, the checkpoint left: epoch, the status left)
    ("write:state.json#3=ENOSPC", "checkpoint/state.json", 2, "failed"),
    ("write:state-*#2=EROFS", "checkpoint/state-e00002-b000000.npz", 1, "failed"),
    ("append:history.csv#3=ENOSPC", "history.csv", 3, "failed"),
    ("write:weights.npz=ENOSPC", "weights.npz", 6, "finishing"),
    ("write:history.json=EDQUOT", "history.json", 6, "finishing"),
]


@pytest.mark.parametrize(("fault", "named", "epoch", "status"), FAULTS)
def test_a_write_failing_mid_run_is_named_and_the_run_resumes(
        reference, tmp_path, monkeypatch, capsys, fault, named, epoch, status):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(killpoints, "_counts", {})
    Path("tiny.nn").write_text(SPEC)
    monkeypatch.setenv(killpoints.FAULT, fault)
    assert main(["run", "tiny.nn", "--out", "r", "-q"]) == 1
    monkeypatch.delenv(killpoints.FAULT)
    err = capsys.readouterr().err
    assert f"error[E510]: cannot write `r/{named}` in the middle of the run" in err, err
    assert f"the last checkpoint, after epoch {epoch}, is intact" in err, err
    assert "E502" not in err and "bug in nnspec" not in err
    assert json.loads(Path("r/manifest.json").read_text())["status"] == status
    state = checkpoint.load(Path("r/checkpoint"))  # intact: it loads, arrays and all
    assert state["epoch"] == epoch
    assert main(["run", "--resume", "r", "-q"]) == 0
    assert_same(reference, Path("r"))
    if fault.startswith("write:state.json"):
        check_golden("E510.stderr", err)


def test_the_manifest_failing_to_update_leaves_a_resumable_folder(reference, tmp_path,
                                                                  monkeypatch, capsys):
    """The disk fills while the manifest is rewritten (before training): the status cannot
    become `failed` then either; the folder stays `running`, which a resume continues."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(killpoints, "_counts", {})
    Path("tiny.nn").write_text(SPEC)
    monkeypatch.setenv(killpoints.FAULT, "write:manifest.json*=ENOSPC".replace("*", "#2"))
    # the 2nd manifest write fails, and (as on a full disk) so does the next, `failed`
    monkeypatch.setattr(killpoints, "_due", _from_nth(2))
    assert main(["run", "tiny.nn", "--out", "r", "-q"]) == 1
    monkeypatch.delenv(killpoints.FAULT)
    err = capsys.readouterr().err
    assert "error[E510]: cannot write `r/manifest.json`" in err, err
    assert "no checkpoint had been written yet: a resume trains from epoch 0" in err
    assert json.loads(Path("r/manifest.json").read_text())["status"] == "running"
    assert main(["run", "--resume", "r", "-q"]) == 0
    assert_same(reference, Path("r"))


def _from_nth(n: int):
    seen = {"count": 0}

    def due(want: str, stage: str) -> bool:
        if stage != "write:manifest.json":
            return False
        seen["count"] += 1
        return seen["count"] >= n

    return due


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


DRIVER = textwrap.dedent("""
    import json, os, subprocess, sys, time
    disk, spec, cmd = sys.argv[1], sys.argv[2], [sys.executable, "-m", "nnspec.cli"]
    out = os.path.join(disk, "r")
    run = subprocess.Popen(cmd + ["run", spec, "--out", out, "-q", "--epochs", "400"],
                           stderr=subprocess.PIPE, text=True)
    state = os.path.join(out, "checkpoint", "state.json")
    while not os.path.exists(state) and run.poll() is None:
        time.sleep(0.005)
    fd = os.open(os.path.join(disk, "filler"), os.O_WRONLY | os.O_CREAT)
    for size in (65536, 4096, 512, 1):  # fill the disk to the last byte
        try:
            while True:
                os.write(fd, b"x" * size)
        except OSError:
            pass
    os.close(fd)
    err = run.communicate()[1]
    os.remove(os.path.join(disk, "filler"))
    resumed = subprocess.run(cmd + ["run", "--resume", out, "-q"], capture_output=True,
                             text=True)
    import shutil
    shutil.copytree(out, sys.argv[3])
    print(json.dumps({"code": run.returncode, "err": err, "resumed": resumed.returncode,
                      "resume_err": resumed.stderr}))
""")


def test_a_real_full_disk(reference, tmp_path):
    """A real full disk: a 2 MiB tmpfs in a private mount namespace (`unshare -rm`, no root
    needed where the kernel allows it), filled by another file while the run trains."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no unprivileged mount namespace here: {probe.stderr.decode()[:200]}")
    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "tiny.nn").write_text(SPEC)
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(killpoints.FAULT, None)
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c",
         f'mount -t tmpfs -o size=2m tmpfs "{disk}" && exec "{sys.executable}" "{script}" '
         f'"{disk}" "{tmp_path / "tiny.nn"}" "{tmp_path / "copy"}"'],
        capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0 and "mount" in proc.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr[:200]}")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    if got["code"] == 0:
        pytest.skip("the run finished before the disk was full (a very fast machine)")
    assert got["code"] == 1 and "error[E510]" in got["err"], got
    assert "No space left on device (the disk is full)" in got["err"], got
    assert "bug in nnspec" not in got["err"]
    assert got["resumed"] == 0, got
    folder = tmp_path / "copy"
    state = checkpoint.load(folder / "checkpoint")
    assert state["epoch"] == 400
    assert json.loads((folder / "manifest.json").read_text())["status"] == "completed"
