"""pipeline: source text -> Spec -> Plan -> Executable, + data -> RunResult.

Start reading here. Each stage is a package named after its entry function:

    text --parse()--> syntax.Document --check()--> ir.Spec --lower()--> Plan
         --backends.compile(plan, backend)--> Executable
    ir.Spec --data.load_spec_data()--> Dataset (files read, split, scaled)
    train.train(plan, dataset, executable) --> RunResult (history, metrics, checkpoint)

and `nnspec run` (run/session.py) writes the RunResult into a run directory. After `lower()`
nothing reads the IR: the Plan carries the model and the whole training plan.

`diagnose()` is the single front end: `nnspec check`, the language server and `nnspec run`
all call it, so the editor and the CLI can never disagree about a file. Every stage reports
problems as `Diagnostic`s (nnspec/diagnostics.py), never as tracebacks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nnspec import ir
from nnspec.check import check
from nnspec.diagnostics import Diagnostic, error, has_errors, sort_key
from nnspec.parse import parse

# With syntax errors, only the checker's findings that are local to one statement are kept:
# a missing block, statement or layer, or a shape that does not fit, may just be a
# consequence of the statement the parser had to skip.
LOCAL_CODES = frozenset({"E201", "E202", "E203", "E204", "E205", "E206", "E207", "E208",
                         "E209", "E210", "E211", "E212", "E213", "E214", "E301", "E302",
                         "E303", "E304"})


def diagnose(text: str, path: str | None = None, *, require_data: bool = False,
             memory: bool = True) -> tuple[ir.Spec | None, list[Diagnostic]]:
    """parse + check: the Spec (None when there is an error) and every diagnostic, sorted.

    `require_data=True` (what `nnspec run` asks for) also requires the `data` block.
    `memory=False` leaves out the estimate of a training run's memory (E311 / W107,
    nnspec/memory/): `eval` and `predict` read a trained run's spec but train nothing.
    """
    doc, diagnostics = parse(text, path)
    spec, found = check(doc)
    if has_errors(diagnostics):
        return None, sorted([*diagnostics, *(d for d in found if d.code in LOCAL_CODES)],
                            key=sort_key)
    diagnostics = [*diagnostics, *found]
    if memory and spec is not None and not has_errors(diagnostics):
        found = _memory(spec, doc)
        diagnostics += found
        if has_errors(found):
            spec = None
    if require_data and spec is not None and spec.data is None:
        diagnostics.append(error("E308", "missing `data` block: `run` needs data to train on",
                                 None, path=path,
                                 hints=['add e.g. `data { source csv("data.csv", '
                                        'target=label) }`']))
        spec = None
    return spec, sorted(diagnostics, key=sort_key)


def _memory(spec: ir.Spec, doc: Any) -> list[Diagnostic]:
    """E311 / W107 when the run's estimated memory (nnspec/memory/) exceeds the machine's or
    half of it. The estimate is advice: should it fail, the spec is not held up by it."""
    from nnspec.memory import memory_diagnostics

    try:
        return memory_diagnostics(spec, doc)
    except Exception:  # noqa: BLE001 - see the docstring
        return []


def read_source(path: str | Path) -> tuple[str | None, list[Diagnostic]]:
    """The text of a spec file; a missing, unreadable or non-UTF-8 file is a diagnostic."""
    from nnspec.data.files import NotRegular, open_regular

    where = str(path)
    try:
        # opened without blocking and refused unless a regular file (a FIFO would hang)
        with os.fdopen(open_regular(path), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, [error("E505", "file not found", None, path=where)]
    except NotRegular as exc:
        return None, [error("E505", f"this is {exc.kind}, not a spec file", None, path=where)]
    except IsADirectoryError:
        return None, [error("E505", "this is a directory, not a spec file", None,
                            path=where)]
    except OSError as exc:
        return None, [error("E505", f"cannot read the file: {exc.strerror or exc}", None,
                            path=where)]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        byte = data[exc.start]
        return None, [error("E505", f"not valid UTF-8 text (byte 0x{byte:02x} "
                            f"at line {line}, column {col})", None, path=where,
                            hints=["save the file as UTF-8"])]


def load_spec(path: str | Path, *, require_data: bool = False
              ) -> tuple[ir.Spec | None, list[Diagnostic]]:
    """read_source + diagnose."""
    text, diagnostics = read_source(path)
    if text is None:
        return None, diagnostics
    return diagnose(text, str(path), require_data=require_data)


def compile_spec(spec: ir.Spec, backend: str = "cpu") -> Any:
    """lower + compile: the Executable of a checked Spec (`init from` applied). A failure
    inside a backend is an E502 diagnostic ("a bug in nnspec"), not a traceback."""
    from nnspec.backends import compile as compile_plan
    from nnspec.diagnostics import DiagnosticError
    from nnspec.lower import lower

    try:
        return compile_plan(lower(spec), backend)
    except DiagnosticError:
        raise
    except Exception as exc:  # noqa: BLE001 - a backend bug is a diagnostic, not a traceback
        raise DiagnosticError(error("E502", f"the {backend} backend failed to compile the "
                                    f"model: {type(exc).__name__}: {exc}", path=spec.path,
                                    hints=["this is a bug in nnspec; please report it"])) from exc


def dataset_of(spec: ir.Spec) -> Any:
    """The spec's Dataset: its files read (or data generated), split and scaled."""
    from nnspec.data import load_spec_data

    return load_spec_data(spec)


def train_spec(spec: ir.Spec, backend: str = "cpu", **kwargs: Any) -> tuple[Any, Any]:
    """The whole chain in memory, without a run directory: (RunResult, Executable).
    kwargs go to `train.train` (e.g. `epochs=`, `reporter=`)."""
    from nnspec.train import train

    exe = compile_spec(spec, backend)
    return train(exe.plan, dataset_of(spec), exe, **kwargs), exe
