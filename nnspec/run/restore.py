"""run.restore: a run directory -> a ready Executable with the run's final weights.

What `nnspec predict` and `nnspec eval` start from. Only a run that ended is read
(`completed`, or `interrupted` with the weights it had then): a folder that a live run holds
is refused with E507 naming its process; one whose run never finished (`running` with no
owner, `finishing`, `failed`) with E511, saying what to do; one written by a newer nnspec,
or whose data.json lacks what predict needs (an older format), with E511 too, never a
KeyError. The resolved `spec.nn` is checked and lowered again, compiled for the CPU (the
reference backend for layers the cpu engine has no kernels for yet), and `weights.npz` is
loaded into it (keys `layers.<i>.<name>`, checked by nnspec.weights: a missing or misshapen
tensor is E410). Every file of the folder is read through its descriptor with O_NOFOLLOW
(run/folder.py): a symbolic link planted in the folder is refused (E503), never followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspec import ir
from nnspec.diagnostics import DiagnosticError, error
from nnspec.run import claim, lock
from nnspec.run.rundir import RunDir

FINISHED = ("completed", "interrupted")
# What predict and eval read from data.json, with the type each must have.
SCHEMA: dict[str, type | tuple[type, ...]] = {
    "task": str, "n_features": int, "n_outputs": int, "feature_names": list,
    "target_names": list, "scaler": dict}


def weights_of(exe: Any) -> dict[str, np.ndarray]:
    """{layers.<i>.<name>: array} of the executable's current tensors (nnspec.weights)."""
    from nnspec.weights import named_tensors

    return named_tensors(exe.plan, exe.get_params(), exe.get_buffers())


@dataclass
class Restored:
    rd: RunDir
    spec: ir.Spec
    exe: Any
    schema: dict[str, Any]


def _unusable(rd: RunDir, message: str, hint: str, notes: tuple[str, ...] = ()
              ) -> DiagnosticError:
    return DiagnosticError(error("E511", message, path=str(rd.path), notes=notes,
                                 hints=[hint]))


def _written_by(rd: RunDir) -> str:
    fmt = rd.manifest.get("format")
    version = fmt.get("version") if isinstance(fmt, dict) else None
    by = rd.manifest.get("nnspec")
    return (f"run format {version}" if version is not None else "no run format") + (
        f", nnspec {by}" if isinstance(by, str) else "")


def refuse_unfinished(rd: RunDir) -> None:
    """Raise unless `rd` holds a run that ended (see the module docstring)."""
    kind = claim.manifest_kind(rd.manifest)
    if kind == "foreign":
        raise claim.not_a_run(rd.path, "its manifest.json is not nnspec's")
    if kind == "newer":
        raise _unusable(
            rd, f"`{rd.path}` was written by a newer nnspec ({_written_by(rd)}; this one reads "
            f"run format {claim.FORMAT_VERSION})", "use the nnspec that trained it")
    held, pid = lock.holder(rd.folder)
    if held:
        who = f"process {pid}" if pid else "another process"
        raise DiagnosticError(error(
            "E507", f"`{rd.path}` is in use by {who}: it is still training, and only a run "
            "that has ended can predict or evaluate", path=str(rd.path),
            hints=["wait for the run to end (or stop it with Ctrl-C: an interrupted run "
                   "keeps the weights it had)"]))
    status = rd.manifest.get("status")
    if kind == "old" or status in FINISHED:
        return
    resume = f"`nnspec run --resume {rd.path}`"
    if status == "running":
        raise _unusable(rd, f"`{rd.path}` never finished: its run stopped before the end "
                        "(killed, or out of memory) and left no final weights",
                        f"{resume} continues it from its last checkpoint")
    if status == "finishing":
        raise _unusable(rd, f"`{rd.path}` never finished: its run was stopped while writing "
                        "its final artifacts", f"{resume} writes them, without training again")
    if status == "failed":
        codes = [d.get("code", "?") for d in rd.manifest.get("diagnostics") or []
                 if isinstance(d, dict)]
        notes = (f"it failed with {', '.join(codes)} (see `{rd.path / 'manifest.json'}`)",
                 ) if codes else ()
        raise _unusable(rd, f"`{rd.path}` holds a run that failed; it has no trained model",
                        f"fix what it failed on, then {resume} or run the spec again", notes)
    raise _unusable(rd, f"`{rd.path}` has status {status!r}, which this nnspec does not know "
                    f"({_written_by(rd)})", "use the nnspec that trained it")


def check_schema(rd: RunDir, schema: Any) -> dict[str, Any]:
    """data.json as predict and eval read it, or E511 naming what an older nnspec left out."""
    name = rd.path / "data.json"
    if not isinstance(schema, dict):
        raise _unusable(rd, f"`{name}` is not what this nnspec writes (not a JSON object; "
                        f"{_written_by(rd)})", "train the run again with this nnspec")
    missing = [k for k, t in SCHEMA.items() if not isinstance(schema.get(k), t)]
    if missing:
        raise _unusable(
            rd, f"`{name}` lacks {', '.join(f'`{k}`' for k in missing)}: it was written by "
            f"another version of nnspec ({_written_by(rd)}; this one writes run format "
            f"{claim.FORMAT_VERSION})",
            "train the run again with this nnspec, or predict with the nnspec that trained it")
    return schema


def restore(run_dir: str | Path, sources: dict[str, str]) -> Restored:
    rd = RunDir.open(run_dir)
    try:
        return _restore(rd, sources)
    except BaseException:
        rd.close()
        raise


def read_run(rd: RunDir, sources: dict[str, str]) -> tuple[ir.Spec, dict[str, Any], Any]:
    """(spec, data.json's schema, plan) of the ended run in `rd`, nothing compiled (restore,
    and the ONNX exporter, which needs no engine)."""
    from nnspec.lower import lower
    from nnspec.run.session import load_text

    refuse_unfinished(rd)
    try:
        text = rd.folder.read_text("spec.nn")
    except FileNotFoundError:
        raise DiagnosticError(error(
            "E504", f"`{rd.path}` has no spec.nn", path=str(rd.path),
            hints=["the run folder is incomplete; run the spec again"])) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DiagnosticError(error("E504", f"cannot read `{rd.path / 'spec.nn'}`: {exc}",
                                    path=str(rd.path))) from exc
    # eval / predict train nothing: the training run's memory estimate does not apply
    spec = load_text(text, str(rd.path / "spec.nn"), sources, memory=False).spec
    schema = check_schema(rd, rd.read_json("data.json"))
    return spec, schema, lower(spec)


def open_weights(rd: RunDir) -> Any:
    """The run's weights.npz, opened through the folder's descriptor (E504 without one)."""
    try:
        return rd.folder.open_read("weights.npz")
    except FileNotFoundError:
        raise DiagnosticError(error(
            "E504", f"`{rd.path}` has no weights.npz", path=str(rd.path),
            hints=["the run failed before its end, or `output { artifacts ... }` left out "
                   "`weights`"])) from None


def _restore(rd: RunDir, sources: dict[str, str]) -> Restored:
    from nnspec.backends import compile as compile_plan
    from nnspec.backends import runs_on
    from nnspec.weights import load_into

    spec, schema, plan = read_run(rd, sources)
    # the cpu engine where it has every kernel, else the reference backend (image layers)
    backend = "cpu" if "cpu" in runs_on(plan) else "reference"
    exe = compile_plan(plan, backend, initial_weights=False)  # weights.npz is loaded next
    with open_weights(rd) as weights:
        load_into(exe, rd.path / "weights.npz", opened=weights)
    return Restored(rd, spec, exe, schema)
