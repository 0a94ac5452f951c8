"""The warmed parent of the training property test (tests/run/test_train_fuzz.py).

Run as a script in a fresh interpreter (never inside pytest):

    python tests/run/runfuzz.py WORK PLAN.json RESULTS.jsonl

It imports nnspec, trains each example spec once in itself (every kernel compiled, cached
on disk), then forks one child per spec of the plan (a JSON list of {"spec", "epochs"}),
two at a time. Each child sets RLIMIT_AS (its address space now plus `HEADROOM`), sets the
catch-all's test hook (NNSPEC_TEST_BUG_LOG, nnspec/bugs.py), and runs
`nnspec run SPEC --epochs N --out DIR -q` with its output in a file. A child that runs past
`TIMEOUT_S` is killed. One JSON line per spec goes to RESULTS: exit status (or "timeout"),
seconds, output, and the catch-all records of that child.

Numba's threading layer is set to `workqueue` before numba loads: GNU OpenMP (`omp`, the
layer numba picks otherwise) aborts a forked child that uses it after its parent did.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
os.environ.pop("NNSPEC_TEST_KILL_AT", None)

HEADROOM = 2 * 1024**3  # bytes of address space a child may add to what it inherits
TIMEOUT_S = 60.0
PARALLEL = int(os.environ.get("NNSPEC_FUZZ_PARALLEL", "2"))
ROOT = Path(__file__).resolve().parents[2]


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _child(spec: str, epochs: int, out: Path, log: Path, bug_log: Path) -> None:
    from nnspec.bugs import VARIABLE
    from nnspec.cli import main

    code = 99
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ[VARIABLE] = str(bug_log)
        limit = _vm_size() + HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        code = main(["run", spec, "--epochs", str(epochs), "--out", str(out), "-q"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def epochs_for(spec: object) -> int:
    """One epoch, or one more than a short warmup lasts (a longer warmup than training is
    refused, E408)."""
    warmup = spec.train.warmup.epochs if spec.train.warmup is not None else 0  # type: ignore[attr-defined]
    return warmup + 1 if warmup <= 20 else 1


def warm(work: Path) -> None:
    """Train every example spec here (as the children will), so that they compile nothing."""
    import contextlib
    import io

    from nnspec.cli import main
    from nnspec.pipeline import diagnose

    for path in sorted((ROOT / "specs").glob("*.nn")):
        copy = work / f"warm-{path.name}"
        copy.write_text(path.read_text())
        spec, _ = diagnose(copy.read_text(), str(copy), require_data=True)
        assert spec is not None, path
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["run", str(copy), "--epochs", str(epochs_for(spec)), "--out",
                         str(work / f"warm-{path.stem}"), "-q", "--overwrite"])
        if code != 0:
            raise SystemExit(f"warming up with {path.name} failed:\n{err.getvalue()}")


def main(work: Path, plan: list[dict], results: Path) -> None:
    bug_log = work / "bugs.jsonl"
    warm(work)
    running: dict[int, tuple[int, float]] = {}
    todo = list(enumerate(plan))
    with open(results, "w") as out:
        def reap() -> None:
            for pid, (i, start) in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                took = time.monotonic() - start
                if not done and took > TIMEOUT_S:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    done, status = pid, None
                if not done:
                    continue
                del running[pid]
                bugs = []
                if bug_log.exists():
                    bugs = [b for b in map(json.loads, bug_log.read_text().splitlines())
                            if b["pid"] == pid]
                log = work / f"{i}.log"
                out.write(json.dumps({
                    "index": i, "spec": plan[i]["spec"],
                    "exit": "timeout" if status is None else os.waitstatus_to_exitcode(status),
                    "seconds": round(took, 3),
                    "output": log.read_text(errors="replace")[-4000:], "bugs": bugs}) + "\n")
                out.flush()

        while todo or running:
            while todo and len(running) < PARALLEL:
                i, item = todo.pop(0)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(item["spec"], item["epochs"], work / f"run-{i}", work / f"{i}.log",
                           bug_log)
                running[pid] = (i, time.monotonic())
            time.sleep(0.002)
            reap()


if __name__ == "__main__":
    work_dir, plan_file, results_file = map(Path, sys.argv[1:4])
    main(work_dir, json.loads(plan_file.read_text()), results_file)
