"""run.session: a spec path (or a run directory to resume) + options -> a finished run dir.

The whole of `nnspec run`, without argument parsing or printing: front end (diagnose),
overrides, device, data, lower, compile, train, artifacts. Every failure is raised as a
DiagnosticError (the CLI renders it); `sources` collects the texts diagnostics point into.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspec import ir
from nnspec.diagnostics import Diagnostic, DiagnosticError, error, has_errors, warning
from nnspec.pipeline import compile_spec, dataset_of
from nnspec.run import artifacts
from nnspec.run.overrides import apply_overrides
from nnspec.run.paths import rebase_paths
from nnspec.run.restore import weights_of
from nnspec.run.rundir import RunDir, default_dir
from nnspec.train.interrupt import StopFlag
from nnspec.train.loop import COMPLETED, FAILED, INTERRUPTED, RunResult, train
from nnspec.train.progress import Reporter
from nnspec.train.schedules import make_schedule

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


def load(path: str | os.PathLike[str], sources: dict[str, str]) -> Loaded:
    from nnspec.pipeline import diagnose, read_source

    shown = str(path)
    text, problems = read_source(shown)
    if text is None:
        raise DiagnosticError(problems)
    sources[shown] = text
    spec, diagnostics = diagnose(text, shown, require_data=True)
    if spec is None or has_errors(diagnostics):
        raise DiagnosticError(diagnostics)
    return Loaded(spec, text, diagnostics)


def override(spec: ir.Spec, sets: list[str], sources: dict[str, str]) -> ir.Spec:
    """apply_overrides, then the whole checker again: pydantic validates each field, but the
    rules between fields (warmup shorter than training, a monitor that needs a validation
    split, shapes) live in check(). Its findings are shown against the spec as overridden."""
    if not sets:
        return spec
    from nnspec.pipeline import diagnose
    from nnspec.unparse import unparse

    new = apply_overrides(spec, sets)
    shown = f"{spec.path or 'spec'} (with {' '.join('--set ' + s for s in sets)})"
    text = unparse(new)
    _, diagnostics = diagnose(text, shown, require_data=True)
    if has_errors(diagnostics):
        sources[shown] = text
        raise DiagnosticError([d for d in diagnostics if d.is_error])
    return new


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


def _statement_span(source: str, block: str, keyword: str):
    """The span of `keyword` in `block` of a spec's source text, or None."""
    from nnspec.parse import parse

    doc, _ = parse(source)
    for b in doc.blocks:
        if b.kind.value == block:
            for st in b.statements:
                if st.keyword.value == keyword:
                    return st.span
    return None


def _gpu_usable() -> tuple[bool, str]:
    import importlib

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


def _train(spec: ir.Spec, data: Any, exe: Any, schedule: Any, rd: RunDir, *,
           reporter: Reporter | None, stop: StopFlag | None, opts: RunOptions,
           resume: dict[str, Any] | None = None,
           history: list[dict[str, Any]] | None = None) -> RunResult:
    ckpt = rd.save_checkpoint if "checkpoint" in rd.wanted else None
    rd.start_history(history or [])
    try:
        result = train(exe.plan, data, exe, schedule, resume=resume, history=history,
                       reporter=reporter, stop=stop, on_checkpoint=ckpt,
                       on_epoch=rd.append_history, chunk_target_s=opts.chunk_target_s,
                       out_dir=str(rd.path))
    except DiagnosticError:
        rd.write_manifest(status=FAILED, end_time=artifacts.now_iso())
        raise
    except Exception as exc:  # noqa: BLE001
        rd.write_manifest(status=FAILED, end_time=artifacts.now_iso())
        raise DiagnosticError(error("E502", f"training failed: {type(exc).__name__}: {exc}",
                                    path=spec.path,
                                    hints=["this is a bug in nnspec; please report it"])) from exc
    if result.status == INTERRUPTED and ckpt is None:
        rd.save_checkpoint(result.checkpoint)  # resuming needs it even if not selected
    return result


def _finish(rd: RunDir, spec: ir.Spec, exe: Any, result: RunResult, t0: float) -> None:
    if "weights" in rd.wanted and result.status != FAILED:
        rd.write_weights(weights_of(exe))
    rd.write_results(result, title=spec.model.name)
    rd.write_manifest(
        status=result.status, end_time=artifacts.now_iso(), epochs_run=result.epochs_run,
        early_stop_epoch=result.early_stop_epoch, best_epoch=result.best_epoch,
        restored_epoch=result.restored_epoch, interrupt_reason=result.interrupt_reason,
        elapsed_s=round(rd.manifest.get("elapsed_s", 0.0) + time.perf_counter() - t0, 3),
        diagnostics=[d.model_dump(mode="json") for d in result.diagnostics])


def run_spec(path: str | os.PathLike[str], opts: RunOptions, *, sources: dict[str, str],
             reporter: Reporter | None = None, stop: StopFlag | None = None) -> RunOutcome:
    """`nnspec run SPEC`: a fresh run into a new run directory."""
    from nnspec.unparse import unparse

    t0 = time.perf_counter()
    loaded = load(path, sources)
    spec = override(loaded.spec, cli_overrides(opts), sources)
    device, backend = resolve_device(opts.device or spec.train.device, opts.backend,
                                     spec_path=str(path),
                                     source=None if opts.device else loaded.text)
    data = dataset_of(spec)
    exe = compile_spec(spec, backend)
    schedule = make_schedule(exe.plan)
    out = opts.out or spec.output.dir
    if out is not None and opts.out is None and not os.path.isabs(out) and spec.path:
        out = str(Path(spec.path).parent / out)  # `output { dir "..." }` is spec-relative
    rd = RunDir.create(out or default_dir(spec.model.name), spec.output.artifacts)
    resolved = unparse(rebase_paths(spec, Path(spec.path or ".").parent, rd.path))
    rd.write_spec(resolved)
    rd.write_data_schema(data.schema())
    rd.write_manifest(
        **artifacts.versions(), command=" ".join(sys.argv), device=device, backend=backend,
        device_requested=opts.device or spec.train.device, seed=spec.train.seed,
        spec={"source": str(path), "source_sha256": artifacts.sha256_text(loaded.text),
              "sha256": artifacts.sha256_text(resolved)},
        overrides=cli_overrides(opts), data=data.manifest(),
        artifacts=list(spec.output.artifacts), epochs=spec.train.epochs,
        start_time=artifacts.now_iso(), status="running", resumed=[])
    warnings = [*loaded.warnings, *data.warnings]
    result = _train(spec, data, exe, schedule, rd, reporter=reporter, stop=stop, opts=opts)
    _finish(rd, spec, exe, result, t0)
    return RunOutcome(rd.path, result, device, warnings)


def resume_run(run_dir: str | os.PathLike[str], opts: RunOptions, *, sources: dict[str, str],
               reporter: Reporter | None = None, stop: StopFlag | None = None) -> RunOutcome:
    """`nnspec run --resume RUN_DIR`: continue exactly where the checkpoint left off;
    `--epochs N` may extend a run (the schedule then sees the new total)."""
    from nnspec.unparse import unparse

    t0 = time.perf_counter()
    if opts.sets or opts.seed is not None or opts.out is not None:
        raise DiagnosticError(error(
            "E504", "--set, --seed and --out cannot be combined with --resume", path="--resume",
            hints=["a resumed run continues with the options it was started with; only "
                   "--epochs (and --device) may change"]))
    rd = RunDir.open(run_dir)
    loaded = load(rd.path / "spec.nn", sources)
    spec = override(loaded.spec, cli_overrides(opts), sources)
    rd.clean_temporary()
    state = rd.load_checkpoint()
    done = int(state["epoch"])
    if done >= spec.train.epochs and int(state["batch"]) == 0:
        raise DiagnosticError(error(
            "E504", f"`{rd.path}` already ran {done} of {spec.train.epochs} epochs",
            path=str(rd.path), hints=[f"pass `--epochs N` with N > {done} to train longer"]))
    device, backend = resolve_device(opts.device or rd.manifest.get("device", "cpu"),
                                     opts.backend or rd.manifest.get("backend"))
    data = dataset_of(spec)
    _same_data(rd, data)
    exe = compile_spec(spec, backend)
    schedule = make_schedule(exe.plan)
    if opts.epochs is not None:
        rd.write_spec(unparse(spec))
    resumed = [*rd.manifest.get("resumed", []), {"time": artifacts.now_iso(), "epoch": done,
                                                 "batch": int(state["batch"])}]
    rd.write_manifest(status="running", resumed=resumed, epochs=spec.train.epochs,
                      device=device, backend=backend)
    history, short = _history(rd, state)
    result = _train(spec, data, exe, schedule, rd, reporter=reporter, stop=stop, opts=opts,
                    resume=state, history=history)
    _finish(rd, spec, exe, result, t0)
    return RunOutcome(rd.path, result, device, [*loaded.warnings, *data.warnings, *short])


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
