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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnspec import ir
from nnspec.bugs import unexpected
from nnspec.check import Parts, check
from nnspec.diagnostics import Diagnostic, error, has_errors, note, sort_key
from nnspec.parse import parse

# With syntax errors, only the checker's findings that are local to one statement are kept:
# a missing block, statement or layer, or a shape that does not fit, may just be a
# consequence of the statement the parser had to skip.
LOCAL_CODES = frozenset({"E201", "E202", "E203", "E204", "E205", "E206", "E207", "E208",
                         "E209", "E210", "E211", "E212", "E213", "E214", "E301", "E302",
                         "E303", "E304"})


FactsOf = Callable[[Any, Path, str], Any]  # (source, spec folder, role) -> Facts | None


def diagnose(text: str, path: str | None = None, *, require_data: bool = False,
             read_data: bool = False, facts_of: FactsOf | None = None,
             keep_spec: bool = False, memory: bool = True
             ) -> tuple[ir.Spec | None, list[Diagnostic]]:
    """parse + check: the Spec (None when there is an error) and every diagnostic, sorted.

    `require_data=True` (what `nnspec run` asks for) also requires the `data` block.
    `read_data=True` (`nnspec check`, the language server) also reads the data files of csv
    and npz sources (data_diagnostics): `run` reads them itself, with the same diagnostics.
    `keep_spec=True` (the language server) keeps the checked Spec when only the data (or the
    memory estimate, E311) has errors: hover and inlay hints show the model's shapes even
    while a data file is wrong.
    `memory=False` leaves out the estimate of a training run's memory (E311 / W107,
    nnspec/memory/): `eval` and `predict` read a trained run's spec but train nothing.
    """
    doc, diagnostics = parse(text, path)
    parts = Parts()
    spec, found = check(doc, parts)
    if has_errors(diagnostics):
        return None, sorted([*diagnostics, *(d for d in found if d.code in LOCAL_CODES)],
                            key=sort_key)
    diagnostics = [*diagnostics, *found]
    if require_data and spec is not None and spec.data is None:
        diagnostics.append(error("E308", "missing `data` block: `run` needs data to train on",
                                 None, path=path,
                                 hints=['add e.g. `data { source csv("data.csv", '
                                        'target=label) }`']))
        spec = None
    facts: dict[str, Any] = {}  # what reading the data found, by role: sizes the estimate
    if read_data:
        def remember(src: Any, where: Path, role: str) -> Any:
            if facts_of is None:
                from nnspec.data.facts import read_facts

                got = read_facts(src, where, role)
            else:
                got = facts_of(src, where, role)
            facts[role] = got
            return got

        from_data = data_diagnostics(parts, path, remember)
        diagnostics += from_data
        if has_errors(from_data) and not keep_spec:
            spec = None
    if memory and spec is not None and not has_errors(diagnostics):
        # the language server (facts_of) opens no data file here: its reads are cached
        found = _memory(spec, doc, facts, read=facts_of is None)
        diagnostics += found
        if has_errors(found) and not keep_spec:
            spec = None
    return spec, sorted(diagnostics, key=sort_key)


def _memory(spec: ir.Spec, doc: Any, facts: dict[str, Any], *, read: bool
            ) -> list[Diagnostic]:
    """E311 / W107 when the run's estimated memory (nnspec/memory/) exceeds the machine's or
    half of it. The estimate is advice: should it fail, the spec is not held up by it."""
    from nnspec.memory import memory_diagnostics

    try:
        return memory_diagnostics(spec, doc, facts=facts, read=read)
    except Exception:  # noqa: BLE001 - see the docstring
        return []


def file_sources(data: ir.Data | None) -> list[tuple[str, Any]]:
    """(role, source) of each source of `data` that is a file: csv, npz or a text() file."""
    if data is None:
        return []
    from nnspec.ops.sources import Csv, Npz, Text  # (not data.facts: it imports NumPy)

    return [(role, src) for role in ("source", "validation", "test")
            if isinstance(src := getattr(data, role), (Csv, Npz))
            or (isinstance(src, Text) and src.path is not None)]


def data_diagnostics(parts: Parts, path: str | None,
                     facts_of: FactsOf | None = None) -> list[Diagnostic]:
    """What reading the data files says (data.facts), judged against what checked: E401-E406,
    E412-E414 as `run` reports them, at the `source` statement; W113 when a file was too
    large to read. `facts_of` gives the facts of one source (default: read them now, up to
    data.facts.LIMIT); it may return None for facts not known yet (the language server reads
    in the background): those sources are left out, and so is what needs every source.

    A path that is not a regular file was refused by check() (E413) and is not opened; a
    relative path in a document without a file (an unsaved editor buffer) is W114."""
    sources = file_sources(parts.data)
    if not sources:
        return []
    from nnspec.data.files import probe, resolve

    base = Path(path).parent if path else None
    found: list[Diagnostic] = []
    known = []
    for role, src in sources:
        if base is None and not Path(src.path).expanduser().is_absolute():
            found.append(note(
                "W114", f"`{src.path}` is relative, but this document is not saved in a "
                "folder: its data was not read", src.span, path=path,
                label="relative to which folder?",
                hints=["save the spec next to its data (or give an absolute path) to have "
                       "the data checked"]))
            continue
        where = base if base is not None else Path(".")
        if "\0" in src.path or probe(resolve(src.path, where)) is not None:
            continue  # E413 from check(): never opened
        if facts_of is None:
            from nnspec.data.facts import read_facts

            facts = read_facts(src, where, role)
        else:
            facts = facts_of(src, where, role)
        if facts is not None:
            known.append((facts, src.span))
    if not known:
        return found
    from nnspec.data.facts import judge
    complete = len(known) == len(sources)
    task = parts.task if complete else None
    return [*found, *judge(known, path, n_inputs=parts.n_inputs, n_outputs=parts.n_outputs,
                           task=task)]


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
        raise DiagnosticError(unexpected(
            "compile", f"the {backend} backend failed to compile the model: "
            f"{type(exc).__name__}: {exc}", exc, path=spec.path)) from exc


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
