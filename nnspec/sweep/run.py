"""sweep.run: a checked spec + its Sweep -> a sweep folder with one run folder per trial.

The sweep folder:

    spec.nn       the base spec as resolved (paths rebased to this folder; no sweep block):
                  every trial runs it, with its settings applied as `--set` assignments
    sweep.json    the sweep (its statements), every trial's settings, and one row per trial
    sweep.csv     the rows as a table (settings, final and best metrics, epochs, time, status)
    summary.txt   the rows ranked by the sweep's metric
    curves.png, final.png   the pictures (plots.py)
    000-lr=0.01/, 001-lr=0.1/, ...   the trials: ordinary run folders (docs/runs.md)

A rerun into the same folder continues: a trial that ended (completed, diverged, failed) is
not run again, one that was interrupted or killed resumes from its checkpoint (`nnspec run
--resume`'s machinery). The folder is locked while a sweep uses it (E430 for a second one).

Executors: `pool` (default) is a local process pool; each worker process imports nnspec and
loads the compiled engine once, then runs trial after trial with it (one engine thread per
trial: NUMBA_NUM_THREADS=1). `ray` runs the same trial function as Ray Tune trials, on a
local Ray bound to 127.0.0.1 or on the cluster at `--address` / RAY_ADDRESS (the sweep folder
must then be on storage every node sees).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspec.diagnostics import Diagnostic, DiagnosticError, error
from nnspec.sweep.spec import Sweep, Trial, expand
from nnspec.sweep.table import mark_far, ranked, row_of, status_of, summary, to_csv

FORMAT = 1
LOCK = ".nnspec-sweep.lock"
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}
DONE = ("completed", "diverged", "failed")
LOCAL_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@dataclass
class SweepOptions:
    out: str | None = None
    executor: str = "pool"  # pool | ray
    parallel: int | None = None
    address: str | None = None
    metric: str | None = None
    backend: str | None = None  # force a backend for every trial (tests: reference)
    pictures: bool = True


@dataclass
class SweepOutcome:
    sweep_dir: Path
    rows: list[dict[str, Any]]
    metric: str
    interrupted: bool
    ran: int  # trials run (or resumed) by this call
    table: str = ""
    pictures: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if any(r["status"] == "failed" for r in self.rows) else 0


# ----------------------------------------------------------------------------------------
# The trial, as a worker runs it
# ----------------------------------------------------------------------------------------

_EVENT: Any = None  # the pool's stop event, in a worker


def _init_worker(event: Any) -> None:
    """A pool worker: its own process group (a Ctrl-C reaches the sweep, which tells the
    workers through `event`), one engine thread."""
    global _EVENT
    _EVENT = event
    os.environ.update(WORKER_ENV)
    with contextlib.suppress(OSError):
        os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_flag() -> Any:
    from nnspec.train.interrupt import StopFlag

    class EventStop(StopFlag):
        """Stops the trial at its next chunk once the sweep is stopped."""

        def __bool__(self) -> bool:
            if self.reason is None and _EVENT is not None and _EVENT.is_set():
                self.reason = "SIGINT"
            return self.reason is not None

    return EventStop()


def run_trial(spec_path: str, run_dir: str, sets: list[str], resume: bool,
              backend: str | None) -> dict[str, Any]:
    """Run (or resume) one trial into `run_dir`; {"status", "error"} (the row itself is read
    from the folder). Never raises for a trial's own failure."""
    from nnspec.diagnostics import render
    from nnspec.run.session import RunOptions, resume_run, run_spec
    from nnspec.train.progress import Reporter

    if _EVENT is not None and _EVENT.is_set():
        return {"status": "pending", "error": ""}
    stop = _stop_flag()
    sources: dict[str, str] = {}
    try:
        if resume:
            outcome = resume_run(run_dir, RunOptions(backend=backend), sources=sources,
                                 reporter=Reporter(), stop=stop)
        else:
            outcome = run_spec(spec_path, RunOptions(out=run_dir, sets=tuple(sets),
                                                     backend=backend),
                               sources=sources, reporter=Reporter(), stop=stop)
    except DiagnosticError as exc:
        first = exc.diagnostics[0]
        return {"status": "failed", "error": render(first, sources.get(first.path or ""))}
    except KeyboardInterrupt:
        return {"status": "interrupted", "error": ""}
    return {"status": outcome.result.status, "error": ""}


# ----------------------------------------------------------------------------------------
# The folder
# ----------------------------------------------------------------------------------------

def _now() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def default_dir(model: str) -> Path:
    return Path("sweeps") / f"{model}-{_now()}"


@contextlib.contextmanager
def locked(sweep_dir: Path) -> Iterator[None]:
    """An exclusive flock on the sweep folder's lock file (E430 when another sweep holds it);
    the kernel drops it when the process dies, however it dies."""
    import fcntl

    fd = os.open(sweep_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise DiagnosticError(error(
                "E430", f"`{sweep_dir}` is in use by another sweep (process {pid or '?'})",
                path=str(sweep_dir), hints=["wait for it to end, or give another `--out`"])
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(sweep_dir / LOCK)
        os.close(fd)


def _plan(trials: list[Trial]) -> list[dict[str, Any]]:
    return [{"name": t.name, "settings": t.settings, "seed": t.seed} for t in trials]


def prepare_dir(sweep_dir: Path, trials: list[Trial], spec_text: str) -> None:
    """Create the folder, or check that the sweep in it is this one (E430 otherwise)."""
    import json

    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise DiagnosticError(error("E430", f"`{sweep_dir}` is not a folder",
                                    path=str(sweep_dir)))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    known = sweep_dir / "sweep.json"
    if known.exists():
        try:
            old = json.loads(known.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        old_text = (sweep_dir / "spec.nn").read_text(encoding="utf-8") \
            if (sweep_dir / "spec.nn").exists() else None
        if not isinstance(old, dict) or old.get("plan") != _plan(trials) or \
                (old_text is not None and old_text != spec_text):
            raise DiagnosticError(error(
                "E430", f"`{sweep_dir}` holds another sweep (other settings or another spec)",
                path=str(sweep_dir),
                hints=["a rerun continues a sweep only with the same spec and settings; give "
                       "another `--out`, or delete the folder to start over"]))
        return
    extra = [p.name for p in sweep_dir.iterdir() if p.name != LOCK]
    if extra:
        raise DiagnosticError(error(
            "E430", f"`{sweep_dir}` is not empty and holds no sweep", path=str(sweep_dir),
            notes=[f"it holds {', '.join(sorted(extra)[:5])}"],
            hints=["give a new or empty folder with `--out`"]))


def _write(sweep_dir: Path, sweep: Sweep, trials: list[Trial], rows: list[dict[str, Any]],
           metric: str, source: str, status: str) -> None:
    from nnspec.run.atomic import write_json, write_text

    write_json(sweep_dir / "sweep.json", {
        "format": FORMAT, "source": source, "status": status, "metric": metric,
        "sweep": sweep.model_dump(mode="json"), "plan": _plan(trials),
        "labels": {t.name: t.label for t in trials}, "rows": rows})
    write_text(sweep_dir / "sweep.csv", to_csv(rows))


# ----------------------------------------------------------------------------------------
# Executors
# ----------------------------------------------------------------------------------------

Job = tuple[Trial, bool]  # the trial, and whether it resumes
OnDone = Callable[[Trial, dict[str, Any]], None]


class _Signals:
    """While the pool runs: the first SIGINT/SIGTERM/SIGHUP asks the trials to stop at their
    next chunk (they write checkpoints); a second one ends the workers at once."""

    def __init__(self) -> None:
        self.count = 0
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        from nnspec.train.interrupt import SIGNALS

        for sig in SIGNALS:
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        for sig, old in self.previous.items():
            signal.signal(sig, old)


def run_pool(spec_path: str, sweep_dir: Path, jobs: list[Job], parallel: int,
             backend: str | None, on_done: OnDone, say: Callable[[str], None]) -> bool:
    """The jobs on a local pool of `parallel` worker processes; True when interrupted."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")
    event = ctx.Event()
    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)  # read by numba when a spawned worker imports it
    pool = ProcessPoolExecutor(max_workers=parallel, mp_context=ctx,
                               initializer=_init_worker, initargs=(event,))
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    interrupted = False
    with _Signals() as sig:
        try:
            futures = {pool.submit(run_trial, spec_path, str(sweep_dir / t.name), t.sets,
                                   resume, backend): t for t, resume in jobs}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    if fut.cancelled():
                        continue
                    try:
                        got = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a worker died (killed, OOM)
                        got = {"status": "failed", "error": f"the worker process ended: {exc}"}
                    on_done(futures[fut], got)
                if sig.count and not interrupted:
                    interrupted = True
                    event.set()
                    for fut in pending:
                        fut.cancel()
                    say("stopping: the running trials write checkpoints (Ctrl-C again to "
                        "end them at once)")
                if sig.count > 1:
                    for proc in list(getattr(pool, "_processes", {}).values()):
                        with contextlib.suppress(Exception):
                            proc.kill()
                    break
        finally:
            pool.shutdown(wait=sig.count <= 1, cancel_futures=True)
    return interrupted


def ray_init(address: str | None, parallel: int) -> Any:
    """Ray, imported only here: the cluster at `address` (or RAY_ADDRESS), else a local Ray
    on this machine only (127.0.0.1, no dashboard, `parallel` CPUs)."""
    target = address or os.environ.get("RAY_ADDRESS")
    if not target:
        # Ray turns 127.0.0.1 into the host's outward address (resolve_ip_for_localhost) and
        # then listens there; with its "no cluster" switch it keeps to the loopback address.
        # Read when ray is imported (here, and in each of its processes: the environment).
        os.environ[LOCAL_ONLY] = "0"
    try:
        import ray
    except ImportError:
        raise DiagnosticError(error(
            "E431", "`--executor ray` needs Ray Tune, which is not installed",
            path="--executor", hints=['pip install "nnspec[ray]" (or "ray[tune]")'])) from None
    env = {"env_vars": dict(WORKER_ENV)}
    if not target:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # ray was imported before we said so
    try:
        if target:
            ray.init(address=target, runtime_env=env, log_to_driver=False,
                     logging_level=logging.ERROR)
        else:
            ray.init(address="local", include_dashboard=False, num_cpus=parallel,
                     _node_ip_address="127.0.0.1", runtime_env=env, log_to_driver=False,
                     logging_level=logging.ERROR)
    except Exception as exc:  # noqa: BLE001 - Ray's own errors: not ours to trace back
        raise DiagnosticError(error(
            "E431", f"cannot start or reach Ray: {type(exc).__name__}: {exc}",
            path="--address" if target else "--executor",
            hints=["check the address (ray://HOST:10001 or HOST:6379), or leave it out to "
                   "run Ray on this machine"])) from None
    return ray


def run_ray(spec_path: str, sweep_dir: Path, jobs: list[Job], parallel: int,
            backend: str | None, address: str | None, on_done: OnDone,
            say: Callable[[str], None]) -> bool:
    """The jobs as Ray Tune trials, each running `run_trial`; True when interrupted."""
    ray = ray_init(address, parallel)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's tables: the sweep reports itself
    try:
        from ray import tune

        by_name = {t.name: (t, resume) for t, resume in jobs}
        spec_abs, dir_abs = os.path.abspath(spec_path), os.path.abspath(sweep_dir)

        def trainable(config: dict[str, Any]) -> None:
            trial, resume = by_name[config["trial"]]
            got = run_trial(spec_abs, os.path.join(dir_abs, trial.name), trial.sets, resume,
                            backend)
            tune.report({"done": 1, "status": got["status"], "error": got["error"][:2000]})

        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space={"trial": tune.grid_search(list(by_name))},
            tune_config=tune.TuneConfig(max_concurrent_trials=parallel, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=os.path.join(dir_abs, ".ray"),
                                      name="tune", verbose=0))
        results = tuner.fit()
        interrupted = False
        for i in range(len(results)):
            res = results[i]
            name = (res.config or {}).get("trial")
            if name not in by_name:
                continue
            m = res.metrics or {}
            got = {"status": m.get("status", "failed"), "error": m.get("error", "")}
            if res.error is not None and not m:
                got = {"status": "failed", "error": str(res.error)[:2000]}
            interrupted |= got["status"] == "interrupted"
            on_done(by_name[name][0], got)
        return interrupted
    finally:
        ray.shutdown()


# ----------------------------------------------------------------------------------------
# The sweep
# ----------------------------------------------------------------------------------------

def precheck(spec: Any, trials: list[Trial], sources: dict[str, str]) -> None:
    """Every point's spec checked whole, as its run will check it (data-dependent rules and
    the memory estimate included), before anything runs: E316 for each that does not."""
    from nnspec.run.session import override_checked

    problems: list[Diagnostic] = []
    seen: set[tuple] = set()
    for t in trials:
        key = tuple(t.settings.items())
        if key in seen:
            continue
        seen.add(key)
        try:
            override_checked(spec, t.sets, sources)
        except DiagnosticError as exc:
            first = exc.diagnostics[0]
            problems.append(error(
                "E316", f"the sweep point `{t.label}` does not check: {first.message}",
                path=spec.path, notes=[f"{d.code}: {d.message}" for d in exc.diagnostics[:4]],
                hints=["drop this value from the sweep, or change the spec so that every "
                       "point checks"]))
    if problems:
        raise DiagnosticError(problems)


def default_metric(spec: Any) -> str:
    from nnspec.check.sweep import has_validation

    return "val_loss" if has_validation(spec) else "loss"


def run_sweep(spec: Any, spec_text: str, sweep: Sweep, opts: SweepOptions, *,
              sources: dict[str, str], say: Callable[[str], None] = print) -> SweepOutcome:
    """The whole sweep; `spec` is the checked base spec (its `path` the file it came from)."""
    from nnspec.run.paths import rebase_paths
    from nnspec.unparse import unparse

    trials = expand(sweep, spec.train.seed)
    precheck(spec, trials, sources)
    metric = opts.metric or sweep.metric or default_metric(spec)
    sweep_dir = Path(opts.out) if opts.out else default_dir(spec.model.name)
    resolved = unparse(rebase_paths(spec, Path(spec.path or ".").parent, sweep_dir))
    prepare_dir(sweep_dir, trials, resolved)
    parallel = max(1, min(opts.parallel or sweep.parallel or os.cpu_count() or 1, len(trials)))
    with locked(sweep_dir):
        from nnspec.run.atomic import write_text

        spec_path = sweep_dir / "spec.nn"
        if not spec_path.exists():
            write_text(spec_path, resolved)
        rows = {t.name: row_of(t, sweep_dir, metric) for t in trials}
        jobs: list[Job] = []
        for t in trials:
            state = rows[t.name]["status"]
            if state not in DONE:
                jobs.append((t, state == "interrupted"))
        skipped = len(trials) - len(jobs)
        _write(sweep_dir, sweep, trials, list(rows.values()), metric, str(spec.path),
               "running")
        say(f"sweep: {len(trials)} trial(s) into {sweep_dir}"
            + (f" ({skipped} already done)" if skipped else "")
            + (f", {parallel} at a time on the {opts.executor} executor" if jobs else ""))
        finished = [skipped]

        def on_done(trial: Trial, got: dict[str, Any]) -> None:
            row = row_of(trial, sweep_dir, metric)
            if got["status"] == "failed" and got.get("error") and not row.get("error"):
                row["error"] = got["error"].splitlines()[0]
                if row["status"] == "pending":
                    row["status"] = "failed"
            rows[trial.name] = row
            if row["status"] != "pending":
                finished[0] += 1
                value = row.get(f"final_{metric}")
                shown = f", {metric} {value:.4g}" if isinstance(value, float) else ""
                say(f"[{finished[0]}/{len(trials)}] {trial.label}: {row['status']}"
                    f"{shown}" + (f" ({row['error']})" if row.get("error") else ""))
            _write(sweep_dir, sweep, trials, list(rows.values()), metric, str(spec.path),
                   "running")

        interrupted = False
        if jobs:
            if opts.executor == "ray":
                interrupted = run_ray(str(spec_path), sweep_dir, jobs, parallel, opts.backend,
                                      opts.address, on_done, say)
            else:
                interrupted = run_pool(str(spec_path), sweep_dir, jobs, parallel,
                                       opts.backend, on_done, say)
        final = [row_of(t, sweep_dir, metric) if rows[t.name]["status"] == "pending"
                 and not rows[t.name].get("error") else rows[t.name] for t in trials]
        interrupted = interrupted or any(r["status"] in ("interrupted", "pending")
                                         for r in final)
        final = mark_far(final)
        _write(sweep_dir, sweep, trials, final, metric, str(spec.path),
               "interrupted" if interrupted else "completed")
        table = summary(final, sweep, metric)
        write_text(sweep_dir / "summary.txt", table + "\n")
        pictures: list[Path] = []
        if opts.pictures and not interrupted:
            from nnspec.sweep.plots import draw_all

            pictures = draw_all(sweep_dir, sweep, trials, final, metric)
    return SweepOutcome(sweep_dir, ranked(final, metric), metric, interrupted, len(jobs),
                        table, pictures)


def trial_status(sweep_dir: Path, trial: Trial) -> str:
    from nnspec.sweep.table import _read_json

    return status_of(_read_json(sweep_dir / trial.name / "manifest.json"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `nnspec sweep`")
