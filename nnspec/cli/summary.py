"""cli.summary: `nnspec summary FILE` -> a table of layers, shapes, parameters, FLOPs."""

from __future__ import annotations

import argparse
from pathlib import Path

from nnspec.cli.output import add_memory_option, apply_memory_option, print_diagnostics
from nnspec.pipeline import diagnose, read_source
from nnspec.summary import print_summary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="show the model's layers, shapes and sizes",
                       description="Check a spec and print a table of its layers.")
    p.add_argument("file", metavar="FILE", help=".nn spec file")
    add_memory_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not apply_memory_option(args, "summary"):
        return 2
    text, diagnostics = read_source(args.file)
    if text is None:
        print_diagnostics(diagnostics, {})
        return 2 if not Path(args.file).is_file() else 1
    spec, diagnostics = diagnose(text, args.file)
    print_diagnostics(diagnostics, {args.file: text})
    too_big = spec is None and {d.code for d in diagnostics if d.is_error} == {"E311"}
    if too_big:  # the table and the estimate are what the user needs to see now
        spec, _ = diagnose(text, args.file, memory=False)
    if spec is None:
        return 1
    from rich.console import Console  # here, not at import: `nnspec run` builds this parser too

    console = Console(highlight=False)
    print_summary(spec, console)
    from nnspec.memory import memory_lines

    for line in memory_lines(spec):
        console.print(line, markup=False, soft_wrap=True)
    return 1 if too_big else 0
