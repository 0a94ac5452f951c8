"""run.session: a spec path (or a run directory to resume) + options -> a finished run dir.

The whole of `nnspec run`, without argument parsing or printing: front end (diagnose),
overrides, device, the run folder (claimed and locked, run/claim.py), data, lower, compile
and warm-up (run/warmup.py), train, artifacts. Every failure is raised as a DiagnosticError
(the CLI renders it); `sources` collects the texts diagnostics point into.

Until training starts the caller decides what a signal does (the CLI: end the process at
once, train/interrupt.py); training and writing the artifacts run under `catch_interrupts`.
Named stages call run/killpoints.py, the hook of the kill -9 tests (docs/runs.md).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspec import ir
from nnspec.bugs import out_of_memory, unexpected
from nnspec.diagnostics import Diagnostic, DiagnosticError, error, has_errors, warning
from nnspec.pipeline import compile_spec, dataset_of
from nnspec.run import artifacts, killpoints, specdiff
from nnspec.run.overrides import apply_overrides
from nnspec.run.paths import rebase_paths
from nnspec.run.restore import weights_of
from nnspec.run.rundir import FORMAT, RunDir
from nnspec.train.interrupt import StopFlag, catch_interrupts
from nnspec.train.loop import COMPLETED, FAILED, INTERRUPTED, RunResult, train
from nnspec.train.progress import Reporter
from nnspec.train.schedules import make_schedule

RUNNING, FINISHING = "running", "finishing"  # the other statuses are train.loop's

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


@dataclass
class RunOptions:
    out: str | None = None
    epochs: int | None = None
    seed: int | None = None
    device: str | None = None  # cpu | cuda | auto; None: the spec's `device`
    sets: tuple[str, ...] = ()
    backend: str | None = None  # force a backend (tests use "reference"); None: from device
    chunk_target_s: float = 0.5
    overwrite: bool = False  # a rerun may replace a completed run or one with a checkpoint


@dataclass
class RunOutcome:
    run_dir: Path
    result: RunResult
    device: str
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {COMPLETED: EXIT_OK, INTERRUPTED: EXIT_INTERRUPTED}.get(self.result.status,
                                                                      EXIT_FAILED)


@dataclass
class Loaded:
    """A spec read and checked, with its text (for rendering diagnostics)."""

    spec: ir.Spec
    text: str
    warnings: list[Diagnostic]


def load(path: str | os.PathLike[str], sources: dict[str, str], *,
         memory: bool = True) -> Loaded:
    from nnspec.pipeline import read_source

    shown = str(path)
    text, problems = read_source(shown)
    if text is None:
        raise DiagnosticError(problems)
    return load_text(text, shown, sources, memory=memory)


def load_text(text: str, shown: str, sources: dict[str, str], *,
              memory: bool = True) -> Loaded:
    """A spec's text (from the file `shown`: its relative paths are relative to that file's
    folder) checked, as `load`; `memory=False`: without the training memory estimate
    (pipeline.diagnose), for eval and predict."""
    from nnspec.pipeline import diagnose

    sources[shown] = text
    spec, diagnostics = diagnose(text, shown, require_data=True, memory=memory)
    if spec is None or has_errors(diagnostics):
        raise DiagnosticError(diagnostics)
    return Loaded(spec, text, diagnostics)


def override(spec: ir.Spec, sets: list[str], sources: dict[str, str]) -> ir.Spec:
    """The spec with `sets` applied (see `override_checked`; its warnings are dropped)."""
    return override_checked(spec, sets, sources)[0]


def override_checked(spec: ir.Spec, sets: list[str], sources: dict[str, str]
                     ) -> tuple[ir.Spec, list[Diagnostic] | None]:
    """apply_overrides, then the whole checker again: pydantic validates each field, but the
    rules between fields (warmup shorter than training, a monitor that needs a validation
    split, shapes) live in check(). Its findings are shown against the spec as overridden.
    Returns the new spec and the warnings of the spec as run (None when nothing was set)."""
    if not sets:
        return spec, None
    from nnspec.pipeline import diagnose
    from nnspec.unparse import unparse

    new = apply_overrides(spec, sets)
    shown = f"{spec.path or 'spec'} (with {' '.join('--set ' + s for s in sets)})"
    text = unparse(new)
    _, diagnostics = diagnose(text, shown, require_data=True)
    if has_errors(diagnostics):
        sources[shown] = text
        raise DiagnosticError([d for d in diagnostics if d.is_error])
    if diagnostics:
        sources[shown] = text
    return new, diagnostics


def as_run(original: list[Diagnostic], overridden: list[Diagnostic] | None) -> list[Diagnostic]:
    """The warnings of the spec as run (issue 18: `--set train.optimizer.lr=50` must be judged
    at 50, not at the file's value): a warning the file's spec gave too keeps its position in
    the file; one that only the overridden spec gives points into its text; one that no longer
    holds is dropped."""
    if overridden is None:
        return original
    key = [(d.code, d.message) for d in overridden]
    kept = [d for d in original if (d.code, d.message) in key]
    had = {(d.code, d.message) for d in kept}
    return [*kept, *(d for d in overridden if (d.code, d.message) not in had)]


def cli_overrides(opts: RunOptions) -> list[str]:
    sets = list(opts.sets)
    if opts.epochs is not None:
        sets.append(f"train.epochs={opts.epochs}")
    if opts.seed is not None:
        sets.append(f"train.seed={opts.seed}")
    return sets


def resolve_device(requested: str, forced_backend: str | None = None, *,
                   spec_path: str | None = None, source: str | None = None
                   ) -> tuple[str, str]:
    """(device, backend): auto -> cuda when a GPU is usable, else cpu; cuda without one is
    E501, pointing at the spec's `device` statement when the request came from the spec
    (spec_path and its source text given), else at `--device`. The CUDA backend is imported
    only here and only when asked about."""
    if forced_backend is not None:
        return ("cuda" if forced_backend == "cuda" else "cpu"), forced_backend
    if requested == "cpu":
        return "cpu", "cpu"
    usable, why = _gpu_usable()
    if usable:
        return "cuda", "cuda"
    if requested == "cuda":
        span = _statement_span(source, "train", "device") if source is not None else None
        where = spec_path if span is not None else "--device"
        hint = ("write `device auto` (or `device cpu`) to train on the CPU" if span is not None
                else "use `--device cpu` (or `device auto` in the spec) to train on the CPU")
        raise DiagnosticError(error(
            "E501", "device cuda requested but no usable GPU was found", span, path=where,
            label="needs a GPU" if span is not None else None, notes=[why], hints=[hint]))
    return "cpu", "cpu"


def _block(source: str, kind: str):
    """The first block of `kind` in a spec's source text, or None."""
    from nnspec.parse import parse

    doc, _ = parse(source)
    return next((b for b in doc.blocks if b.kind.value == kind), None)


def _statement_span(source: str, block: str, keyword: str):
    """The span of `keyword` in `block` of a spec's source text, or None."""
    found = _block(source, block)
    for st in found.statements if found is not None else ():
        if st.keyword.value == keyword:
            return st.span
    return None


# What a machine with an NVIDIA driver has on Linux: the driver's /proc entry and device
# files, or WSL2's GPU device (whose driver lives on the Windows side).
NVIDIA_SIGNS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")


def _no_driver() -> bool:
    """True when this is Linux without any sign of an NVIDIA driver, so no GPU can be usable
    and the CUDA probe (importing numba.cuda and loading the driver: ~25 ms of every `device
    auto` run) is skipped. Elsewhere, and under numba's CUDA simulator, the probe decides."""
    if not sys.platform.startswith("linux") or os.environ.get("NUMBA_ENABLE_CUDASIM"):
        return False
    return not any(os.path.exists(p) for p in NVIDIA_SIGNS)


def _gpu_usable() -> tuple[bool, str]:
    import importlib

    if _no_driver():
        return False, "no NVIDIA driver on this machine (none of " + ", ".join(NVIDIA_SIGNS) + ")"
    try:
        cuda = importlib.import_module("nnspec.backends.cuda")
    except ImportError as exc:
        return False, f"the CUDA backend is not available ({exc})"
    probe = getattr(cuda, "is_available", None)
    if probe is None:
        return False, "the CUDA backend cannot tell whether a GPU is present"
    try:
        ok = bool(probe())
    except Exception as exc:  # noqa: BLE001 - a driver problem means: no GPU
        return False, f"CUDA probe failed: {exc}"
    return ok, "" if ok else "no CUDA device is visible (numba.cuda.is_available() is false)"


def _prepare(spec: ir.Spec, backend: str, data: Any,
             reporter: Reporter | None = None) -> Any:
    """Compile, then call every kernel once (run/warmup.py), so that all compiling happens
    while a signal still ends the process at once. When the backend's compiled engine is
    not in its cache yet (the first run of an installation and dtype), the reporter says so
    first: half a minute with no output would look like a hang."""
    from nnspec.run.warmup import warm_up

    killpoints.reached("compiling")
    exe = compile_spec(spec, backend)
    notice = getattr(exe, "compile_notice", None)
    text = notice() if notice is not None and reporter is not None else None
    if text:
        reporter.message(text)  # type: ignore[union-attr]
    try:
        warm_up(exe, data)
    except DiagnosticError:
        raise
    except Exception as exc:  # noqa: BLE001 - as in compile_spec
        raise DiagnosticError(unexpected(
            "warmup", f"the {backend} backend failed to compile the model: "
            f"{type(exc).__name__}: {exc}", exc, path=spec.path)) from exc
    return exe


def _train(spec: ir.Spec, data: Any, exe: Any, schedule: Any, rd: RunDir, *,
           reporter: Reporter | None, stop: StopFlag | None, opts: RunOptions,
           resume: dict[str, Any] | None = None,
           history: list[dict[str, Any]] | None = None, epochs: int | None = None
           ) -> RunResult:
    """train() with the run folder's callbacks. `epochs` (resuming a run that had ended but
    not finished writing) stops the loop there: it only restores and evaluates."""
    ckpt = rd.save_checkpoint if "checkpoint" in rd.wanted else None
    rd.start_history(history or [])
    on_step = rd.start_trajectory(exe.plan, resume)  # None without `output { trajectory }`
    checkpointed = resume is not None

    def on_epoch(row: dict[str, Any]) -> None:
        rd.append_history(row)
        killpoints.reached("training")
        killpoints.reached("training-checkpoint" if checkpointed or rd.checkpoints_saved
                           else "training-no-checkpoint")

    try:
        result = train(exe.plan, data, exe, schedule, resume=resume, history=history,
                       reporter=reporter, stop=stop, on_checkpoint=ckpt, on_epoch=on_epoch,
                       chunk_target_s=opts.chunk_target_s, out_dir=str(rd.path),
                       epochs=epochs, on_step=on_step)
    except (DiagnosticError, OSError) as exc:
        failure = _write_failed(rd, exc)
        if failure is None:
            assert isinstance(exc, DiagnosticError)
            failure = exc
        _failed(rd, failure.diagnostics)
        if failure is exc:
            raise
        raise failure from exc
    except Exception as exc:  # noqa: BLE001
        diag = unexpected("train", f"training failed: {type(exc).__name__}: {exc}", exc,
                          path=spec.path)
        _failed(rd, [diag])
        raise DiagnosticError(diag) from exc
    if result.status != FAILED and ckpt is None:
        # a resume needs it even if not selected: after an interrupt, and after a kill while
        # the artifacts are written (dropped once the run has finished)
        rd.save_checkpoint(result.checkpoint)
    return result


_WHY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only", errno.EACCES: "the folder is not writable",
        errno.EPERM: "the folder is not writable", errno.EFBIG: "the file size limit is reached"}


def _write_failed(rd: RunDir, exc: BaseException) -> DiagnosticError | None:
    """E510 when `exc` is a write into the run folder failing in the middle of the run (a
    full disk, a folder made read-only), saying what became of the last checkpoint; None for
    anything else."""
    cause = exc if isinstance(exc, OSError) else exc.__cause__
    if not isinstance(cause, OSError) or (
            isinstance(exc, DiagnosticError) and [d.code for d in exc.diagnostics] != ["E503"]):
        return None
    target = exc.diagnostics[0].path if isinstance(exc, DiagnosticError) else None
    what = f"`{target}`" if target else f"into `{rd.path}`"
    why = cause.strerror or str(cause)
    if cause.errno in _WHY:
        why += f" ({_WHY[cause.errno]})"
    epoch = rd.checkpoint_epoch()
    notes = [f"the last checkpoint, after epoch {epoch}, is intact" if epoch is not None else
             "no checkpoint had been written yet: a resume trains from epoch 0",
             "the run stopped here; what it had written before is kept"]
    return DiagnosticError(error(
        "E510", f"cannot write {what} in the middle of the run: {why}", path=str(rd.path),
        notes=notes, hints=[f"free some space (or make the folder writable again), then "
                            f"`nnspec run --resume {rd.path}` continues the run"]))


def _failed(rd: RunDir, diagnostics: list[Diagnostic]) -> None:
    """Mark the run failed (best effort: the failure may be that the folder is unwritable)."""
    try:
        rd.write_manifest(status=FAILED, end_time=artifacts.now_iso(),
                          diagnostics=[d.model_dump(mode="json") for d in diagnostics])
    except DiagnosticError:
        pass


def curve_title(name: str, overrides: list[str] | None) -> str:
    """The curves' title: the model name and what was set on the command line, so that runs
    with different settings can be told apart (`line (lr=0.01, seed=3)`). A setting is named
    by its last key unless two share it; the number of epochs is left out (the axis shows it)."""
    split = [s.partition("=") for s in overrides or [] if "=" in s]
    sets = [(path.strip(), value.strip()) for path, _, value in split
            if path.strip() != "train.epochs"]
    last = [path.rsplit(".", 1)[-1] for path, _ in sets]
    parts = [f"{key if last.count(key) == 1 else path}={value}"
             for (path, value), key in zip(sets, last, strict=True)]
    return f"{name} ({', '.join(parts)})" if parts else name


def _finish(rd: RunDir, spec: ir.Spec, exe: Any, result: RunResult, t0: float) -> None:
    if result.status == COMPLETED:
        rd.write_manifest(status=FINISHING)  # training is over; a resume writes what follows
        killpoints.reached("finishing")
    if "weights" in rd.wanted and result.status != FAILED:
        rd.write_weights(weights_of(exe))
    rd.write_results(result, title=curve_title(spec.model.name, rd.manifest.get("overrides")))
    rd.write_manifest(
        status=result.status, end_time=artifacts.now_iso(), epochs_run=result.epochs_run,
        early_stop_epoch=result.early_stop_epoch, best_epoch=result.best_epoch,
        restored_epoch=result.restored_epoch, interrupt_reason=result.interrupt_reason,
        elapsed_s=round(rd.manifest.get("elapsed_s", 0.0) + time.perf_counter() - t0, 3),
        diagnostics=[d.model_dump(mode="json") for d in result.diagnostics])
    if result.status == COMPLETED and "checkpoint" not in rd.wanted:
        rd.drop_checkpoint()  # kept for a resume only; a completed run is not resumed


def _train_and_finish(spec: ir.Spec, data: Any, exe: Any, schedule: Any, rd: RunDir, t0: float,
                      *, reporter: Reporter | None, stop: StopFlag | None, opts: RunOptions,
                      **resume: Any) -> RunResult:
    """From here on a signal stops training gracefully (a checkpoint, then exit 130)."""
    guard = catch_interrupts(stop) if stop is not None else contextlib.nullcontext()
    with guard:
        result = _train(spec, data, exe, schedule, rd, reporter=reporter, stop=stop,
                        opts=opts, **resume)
        try:
            _finish(rd, spec, exe, result, t0)
        except (DiagnosticError, OSError) as exc:
            failure = _write_failed(rd, exc)
            if failure is None:
                raise
            raise failure from exc  # the status stays `finishing`: a resume writes the rest
    return result


Announce = Callable[[list[Diagnostic]], None]


def run_spec(path: str | os.PathLike[str], opts: RunOptions, *, sources: dict[str, str],
             reporter: Reporter | None = None, stop: StopFlag | None = None,
             announce: Announce | None = None) -> RunOutcome:
    """`nnspec run SPEC`: a fresh run into a new (or empty, or overwritten) run directory.

    The folder is claimed and locked as soon as the spec is checked (run/claim.py), and its
    manifest, holding the checked spec, is written first: from then on a kill at any moment
    leaves a folder that `--resume` continues (docs/runs.md). `announce` is given the
    warnings about the spec and the data before the first epoch (they are also in the
    outcome's `warnings`)."""
    from nnspec.unparse import unparse

    t0 = time.perf_counter()
    loaded = load(path, sources)
    spec, judged = override_checked(loaded.spec, cli_overrides(opts), sources)
    device, backend = resolve_device(opts.device or spec.train.device, opts.backend,
                                     spec_path=str(path),
                                     source=None if opts.device else loaded.text)
    out = opts.out or spec.output.dir
    if out is not None and opts.out is None and not os.path.isabs(out) and spec.path:
        out = str(Path(spec.path).parent / out)  # `output { dir "..." }` is spec-relative
    rd = RunDir.create(out, spec.output.artifacts, model_name=spec.model.name,
                       overwrite=opts.overwrite)
    try:
        stored = rebase_paths(spec, Path(spec.path or ".").parent, rd.path)
        resolved = unparse(stored)
        rd.write_manifest(
            format=FORMAT, command=" ".join(sys.argv), device=device, backend=backend,
            device_requested=opts.device or spec.train.device, seed=spec.train.seed,
            spec={"source": str(path), "source_sha256": artifacts.sha256_text(loaded.text),
                  "sha256": artifacts.sha256_text(resolved),
                  "checked": specdiff.comparable(stored)},
            overrides=cli_overrides(opts), artifacts=list(spec.output.artifacts),
            epochs=spec.train.epochs, start_time=artifacts.now_iso(), status=RUNNING,
            resumed=[])
        rd.write_spec(resolved)
        killpoints.reached("importing")

        rd.write_manifest(**artifacts.versions())
        killpoints.reached("data")
        data = dataset_of(spec)
        rd.write_data_schema(data.schema())
        rd.write_manifest(data=data.manifest())
        exe = _prepare(spec, backend, data, reporter)
        schedule = make_schedule(exe.plan)
    except DiagnosticError as exc:
        failure = _write_failed(rd, exc)
        _failed(rd, (failure or exc).diagnostics)
        rd.close()
        if failure is not None:
            raise failure from exc
        raise
    except MemoryError as exc:  # reading or generating the data
        diag = out_of_memory(exc, path=spec.path)
        _failed(rd, [diag])
        rd.close()
        raise DiagnosticError(diag) from exc
    except BaseException:
        rd.close()
        raise
    try:
        warnings = [*_sweep_note(loaded.text, str(path)), *as_run(loaded.warnings, judged),
                    *data.warnings]
        if announce is not None and warnings:
            announce(warnings)
        result = _train_and_finish(spec, data, exe, schedule, rd, t0, reporter=reporter,
                                   stop=stop, opts=opts)
    finally:
        rd.close()
    return RunOutcome(rd.path, result, device, warnings)


def _sweep_note(source: str, shown: str) -> list[Diagnostic]:
    """W119 for a spec with a `sweep` block: `nnspec run` trains the spec as written, once,
    and says so (it used to ignore the block without a word)."""
    from nnspec.diagnostics import note

    # (the spec was parsed when it was checked; without the word, no parse again)
    block = _block(source, "sweep") if "sweep" in source else None
    if block is None:
        return []
    return [note("W119", "this spec has a `sweep` block, which `nnspec run` does not read: "
                 "it trains the spec as written, once", block.kind.span, path=shown,
                 label="not run by `nnspec run`",
                 hints=[f"`nnspec sweep {shown}` trains every point of the sweep"])]


def resume_run(run_dir: str | os.PathLike[str], opts: RunOptions, *, sources: dict[str, str],
               reporter: Reporter | None = None, stop: StopFlag | None = None,
               announce: Announce | None = None) -> RunOutcome:
    """`nnspec run --resume RUN_DIR`: continue exactly where the checkpoint left off (from
    epoch 0 when there is none yet; only the artifacts when training had ended); `--epochs N`
    may extend a run (the schedule then sees the new total). Every refusal comes before the
    folder is changed."""
    if opts.sets or opts.seed is not None or opts.out is not None or opts.overwrite:
        raise DiagnosticError(error(
            "E504", "--set, --seed, --out and --overwrite cannot be combined with --resume",
            path="--resume",
            hints=["a resumed run continues with the options it was started with; only "
                   "--epochs (and --device) may change"]))
    t0 = time.perf_counter()
    rd, notes = RunDir.resume(run_dir)
    try:
        return _resume(rd, opts, notes, t0, sources=sources, reporter=reporter, stop=stop,
                       announce=announce)
    finally:
        rd.close()


def _resume(rd: RunDir, opts: RunOptions, notes: list[Diagnostic], t0: float, *,
            sources: dict[str, str], reporter: Reporter | None, stop: StopFlag | None,
            announce: Announce | None = None) -> RunOutcome:
    from nnspec.unparse import unparse

    status = rd.manifest.get("status")
    stored = (rd.manifest.get("spec") or {}).get("checked")
    text = rd.read_spec()
    if text is None:  # killed between writing the manifest and spec.nn
        if stored is None:
            raise DiagnosticError(error(
                "E504", f"`{rd.path}` has no spec.nn", path=str(rd.path),
                hints=["start the run again with `nnspec run SPEC --out DIR`"]))
        text = unparse(specdiff.restore(stored))
    loaded = load_text(text, str(rd.path / "spec.nn"), sources)
    spec, judged = override_checked(loaded.spec, cli_overrides(opts), sources)
    if stored is not None:
        _same_spec(rd, stored, spec)
    rd.clean_temporary()
    state = rd.load_checkpoint() if rd.has_checkpoint() else None
    if state is None and status == COMPLETED:
        raise DiagnosticError(error(
            "E504", f"`{rd.path}` holds a completed run without a checkpoint",
            path=str(rd.path),
            hints=["it was written without the `checkpoint` artifact; start a new run to "
                   "train longer"]))
    done, batch = (int(state["epoch"]), int(state["batch"])) if state else (0, 0)
    stopped = bool(state and batch == 0 and (state.get("early_stop") or {}).get(
        "stopped_epoch") == done and opts.epochs is None)
    ended = state is not None and batch == 0 and (done >= spec.train.epochs or stopped)
    if status == COMPLETED and ended:
        how = f"stopped early at epoch {done}" if stopped and done < spec.train.epochs else \
            f"already ran {done} of {spec.train.epochs} epochs"
        raise DiagnosticError(error(
            "E504", f"`{rd.path}` {how}", path=str(rd.path),
            hints=[f"pass `--epochs N` with N > {done} to train longer"]))
    device, backend = resolve_device(opts.device or rd.manifest.get("device", "cpu"),
                                     opts.backend or rd.manifest.get("backend"))
    killpoints.reached("importing")

    killpoints.reached("data")
    data = dataset_of(spec)
    _same_data(rd, data)
    exe = _prepare(spec, backend, data, reporter)
    if state is not None:
        _fits(rd, exe, state)
    schedule = make_schedule(exe.plan)
    # Checked: from here on the folder changes.
    if opts.epochs is not None or not rd.has("spec.nn"):
        rd.write_spec(unparse(spec))
    if not rd.has("data.json"):
        rd.write_data_schema(data.schema())
    resumed = [*rd.manifest.get("resumed", []), {"time": artifacts.now_iso(), "epoch": done,
                                                 "batch": batch}]
    spec_facts = {**rd.manifest.get("spec", {}), "checked": specdiff.comparable(spec)}
    rd.write_manifest(format=FORMAT, status=RUNNING, resumed=resumed, epochs=spec.train.epochs,
                      device=device, backend=backend, spec=spec_facts, **artifacts.versions(),
                      **({} if "data" in rd.manifest else {"data": data.manifest()}))
    history, short = _history(rd, state) if state is not None else ([], [])
    warnings = [*notes, *as_run(loaded.warnings, judged), *data.warnings, *short]
    if announce is not None and warnings:
        announce(warnings)
    result = _train_and_finish(spec, data, exe, schedule, rd, t0, reporter=reporter, stop=stop,
                               opts=opts, resume=state, history=history,
                               epochs=done if ended else None)
    return RunOutcome(rd.path, result, device, warnings)


def _same_spec(rd: RunDir, stored: dict[str, Any], spec: ir.Spec) -> None:
    """E508 unless spec.nn is the spec the run started with (but for what may change)."""
    changed = specdiff.changes(stored, specdiff.comparable(spec))
    if changed:
        raise DiagnosticError(error(
            "E508", f"`{rd.path / 'spec.nn'}` is not the spec this run started with: "
            f"{len(changed)} change(s)", path=str(rd.path / "spec.nn"),
            notes=changed,
            hints=["a resume may change only `epochs`, `device`, the `output` block, "
                   "comments and layout; undo the other edits, or start a new run with "
                   "the edited spec"]))


def _fits(rd: RunDir, exe: Any, state: dict[str, Any]) -> None:
    """The checkpoint's arrays have the model's shapes (else it is damaged, or spec.nn was
    edited in a folder written before specs were compared)."""
    from nnspec.backends.base import check_state

    try:
        check_state(exe.plan, state["executable"])
        for key in ("shuffle_rng", "dropout_rng", "schedule", "loss_sum", "n_samples"):
            state[key]  # noqa: B018 - presence
    except (KeyError, TypeError, ValueError) as exc:
        where = rd.path / "checkpoint"
        raise DiagnosticError(error(
            "E504", f"the checkpoint in `{where}` does not fit the model of spec.nn: {exc}",
            path=str(where),
            hints=["undo the edits to spec.nn, or start the run over with --overwrite"])
        ) from None


def _history(rd: RunDir, state: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """The rows of the checkpoint's epochs, from the history log (a checkpoint written before
    the log carried them itself); a W105 warning when the log lacks some of them."""
    done = int(state["epoch"])
    rows = state.pop("history", None)
    if rows is None:
        rows = rd.read_history(done)
    if [r.get("epoch") for r in rows] == list(range(1, done + 1)):
        return rows, []
    return rows, [warning(
        "W105", f"`{rd.history_path}` holds {len(rows)} row(s) for the checkpoint's {done} "
        "epoch(s); the resumed history starts incomplete", path=str(rd.path),
        hints=["the training itself resumes exactly; only the history rows are missing"])]


def _same_data(rd: RunDir, data: Any) -> None:
    """A resumed run must see the same data files, byte for byte."""
    # By role: the paths as written differ (spec.nn's are relative to the run directory).
    before = {f["role"]: (f["path"], f["sha256"])
              for f in rd.manifest.get("data", {}).get("files", [])}
    now = {f.role: f.sha256 for f in data.files}
    changed = [path for role, (path, sha) in before.items() if now.get(role) != sha]
    if changed:
        raise DiagnosticError(error(
            "E504", f"the data changed since the run started: {', '.join(changed)}",
            path=str(rd.path), hints=["a resumed run must train on the same data; start a "
                                      "new run instead"]))
