"""api: the pipeline as Python functions, for notebooks and scripts (`import nnspec`).

    spec = nnspec.load("moons.nn", set={"train.optimizer.lr": 0.01})  # checked, or SpecError
    run = nnspec.fit(spec, epochs=50)            # trains and writes a run directory
    run.history[-1]["val_loss"], run.metrics["val"]["accuracy"]
    probabilities = run.predict([[0.5, -0.2]])   # raw features, scaled as in training
    nnspec.check("moons.nn")                     # every diagnostic, nothing raised
    nnspec.export(run, "moons.onnx")             # ONNX (pip install 'nnspec[onnx]')

Every function is the same path the CLI takes (`nnspec check`, `nnspec run`, `nnspec
predict` are thin layers over the modules used here), so a spec behaves the same from
either. Mistakes are raised as one `SpecError` that carries every diagnostic (rendered
with file:line:col, caret and hint in its message), never as a bare traceback from inside.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspec import ir
from nnspec.diagnostics import Diagnostic, DiagnosticError, render_all

__all__ = ["Run", "Spec", "SpecError", "check", "export", "fit", "load", "open_run"]

PathLike = str | os.PathLike[str]


class SpecError(DiagnosticError):
    """Every diagnostic of a failed load, fit or predict; `str()` renders them all."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: Mapping[str, str]) -> None:
        super().__init__(list(diagnostics))
        self.sources = dict(sources)

    def __str__(self) -> str:
        return render_all(self.diagnostics, self.sources)


@dataclass(frozen=True)
class Spec:
    """A checked spec file and the overrides applied to it (what `fit` trains)."""

    path: Path
    ir: ir.Spec
    sets: tuple[str, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def name(self) -> str:
        return self.ir.model.name


def _override_args(values: Mapping[str, Any] | None) -> tuple[str, ...]:
    """{"train.optimizer.lr": 0.01, "train.batch": "full"} -> `--set` arguments."""
    out = []
    for key, value in (values or {}).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append(f"{key}={text}")
    return tuple(out)


def check(path: PathLike) -> list[Diagnostic]:
    """Every diagnostic of a spec file (`nnspec check`): an empty list when it is clean."""
    from nnspec.pipeline import load_spec

    return load_spec(path)[1]


def load(path: PathLike, *, set: Mapping[str, Any] | None = None) -> Spec:  # noqa: A002
    """Read and check a spec file (the data block included), then apply overrides by dotted
    path as `nnspec run --set` does; raises SpecError with every diagnostic."""
    from nnspec.run.session import as_run, override_checked
    from nnspec.run.session import load as load_checked

    sources: dict[str, str] = {}
    sets = _override_args(set)
    try:
        loaded = load_checked(path, sources)
        spec, judged = override_checked(loaded.spec, list(sets), sources)
    except DiagnosticError as exc:
        raise SpecError(exc.diagnostics, sources) from None
    return Spec(Path(path), spec, sets, tuple(as_run(loaded.warnings, judged)))


@dataclass
class Run:
    """A finished (or interrupted) run: its directory and what it left there."""

    dir: Path
    status: str  # completed | interrupted | failed
    history: list[dict[str, Any]] = field(repr=False)  # a notebook shows the Run: keep it short
    metrics: dict[str, dict[str, float]]
    warnings: list[Diagnostic] = field(default_factory=list)
    _restored: Any = field(default=None, repr=False)

    def _model(self) -> Any:
        if self._restored is None:
            from nnspec.run.restore import restore

            sources: dict[str, str] = {}
            try:
                self._restored = restore(self.dir, sources)
            except DiagnosticError as exc:
                raise SpecError(exc.diagnostics, sources) from None
        return self._restored

    def predict(self, x: Any) -> Any:
        """The model's outputs (eval mode) for raw samples x, (N, features) or one sample:
        scaled with the training split's statistics as `nnspec predict` does. Probabilities
        for classifiers (sigmoid or softmax units), values for regression."""
        import numpy as np

        restored = self._model()
        plan = restored.exe.plan
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        arr = arr.reshape(arr.shape[0], -1)
        if arr.shape[1] != plan.n_inputs:
            raise ValueError(f"expected samples of {plan.n_inputs} values, got {arr.shape[1]}")
        from nnspec.data.scaling import Scaler

        scaled = Scaler.from_dict(restored.schema["scaler"]).apply(arr, np.dtype(plan.dtype))
        out = np.asarray(restored.exe.predict(scaled), dtype=np.float64)
        if plan.task == "multiclass" and plan.layers[-1].act_name == "log_softmax":
            out = np.exp(out)
        return out


def open_run(run_dir: PathLike) -> Run:
    """A run directory written earlier (by `fit` or `nnspec run`), ready to `predict`.

    Its files are read through the folder's descriptor with O_NOFOLLOW (run/folder.py): a
    symbolic link planted in the folder is refused, never followed."""
    from nnspec.run.rundir import RunDir

    where = Path(run_dir)
    try:
        rd = RunDir.open(where)
        try:
            history = rd.read_json("history.json")
            metrics = rd.read_json("metrics.json")
            manifest = rd.manifest
        finally:
            rd.close()
    except DiagnosticError as exc:
        raise SpecError(exc.diagnostics, {}) from None
    rows = history.get("rows", history) if isinstance(history, dict) else history
    return Run(where, str(manifest.get("status", "completed")), list(rows), metrics)


def fit(spec: Spec | PathLike, *, epochs: int | None = None, seed: int | None = None,
        out: PathLike | None = None, device: str | None = None,
        set: Mapping[str, Any] | None = None, quiet: bool = False,  # noqa: A002
        overwrite: bool = False) -> Run:
    """Train a spec (`nnspec run`): a loaded Spec or a path, with the same overrides as the
    CLI; writes the run directory (`out`, default runs/<model>-<timestamp>) and returns the
    Run. A script prints what `nnspec run` prints (progress unless `quiet`, warnings, the
    closing summary); in a Jupyter kernel the cell shows live progress and curves instead,
    and ends with the final table and the curves (nnspec/notebook/). Ctrl-C stops at the
    next chunk with a checkpoint (status `interrupted`, resumable with `nnspec run
    --resume`)."""
    import contextlib
    import io

    from nnspec.cli.output import print_diagnostics
    from nnspec.cli.run import _summary as print_summary  # the CLI's closing lines
    from nnspec.notebook import in_notebook
    from nnspec.run.session import RunOptions, curve_title, run_spec
    from nnspec.train.interrupt import StopFlag
    from nnspec.train.progress import make_reporter

    if not isinstance(spec, Spec):
        spec = load(spec)
    sets = (*spec.sets, *_override_args(set))
    opts = RunOptions(out=None if out is None else str(out), epochs=epochs, seed=seed,
                      device=device, sets=sets, overwrite=overwrite)
    sources: dict[str, str] = {}
    stop = StopFlag()
    # In a notebook: live progress and curves in the cell (nnspec/notebook/); elsewhere what
    # `nnspec run` prints (a live bar on a terminal, one line per epoch otherwise).
    notebook = not quiet and in_notebook()
    if notebook:
        from nnspec.notebook.progress import NotebookReporter

        reporter: Any = NotebookReporter(title=curve_title(spec.name, list(sets)))
    else:
        reporter = make_reporter(quiet=quiet, json_lines=False)
    announced: list[Diagnostic] = []

    def announce(warnings: list[Diagnostic]) -> None:  # before the first epoch, as the CLI
        print_diagnostics(warnings, sources)
        announced.extend(warnings)

    try:  # run_spec stops training gracefully on Ctrl-C (before training: KeyboardInterrupt)
        outcome = run_spec(spec.path, opts, sources=sources, reporter=reporter, stop=stop,
                           announce=announce)
    except DiagnosticError as exc:
        raise SpecError(exc.diagnostics, sources) from None
    print_diagnostics([*(w for w in outcome.warnings if w not in announced),
                       *outcome.result.diagnostics], sources)
    if notebook:
        text = io.StringIO()
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            print_summary(outcome, quiet=False, json_lines=False)
        reporter.finish(outcome.result, outcome.run_dir, text.getvalue().strip())
    else:
        print_summary(outcome, quiet=quiet, json_lines=False)
    result = outcome.result
    return Run(outcome.run_dir, result.status, list(result.history), result.metrics,
               [*outcome.warnings, *result.diagnostics])


def export(run: Run | PathLike, path: PathLike) -> Any:
    """Write a finished run (a Run or its directory) as an ONNX file (`nnspec export`; see
    nnspec/exporter/): opset 17, float32, dynamic batch, input `features` (raw values, the
    run's scaler is inside), output `probabilities` or `prediction`. Returns the
    exporter's `Exported` (path, opset, input and output names and shapes, warnings); raises
    SpecError (E512 for a layer with no ONNX form, E513 without the onnx package)."""
    from nnspec.exporter import export as export_run

    sources: dict[str, str] = {}
    try:
        return export_run(run.dir if isinstance(run, Run) else run, path, sources=sources)
    except DiagnosticError as exc:
        raise SpecError(exc.diagnostics, sources) from None
