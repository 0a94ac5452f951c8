"""cli.summary: `nnspec summary FILE` -> a table of layers, shapes, parameters, FLOPs."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from nnspec.cli.output import print_diagnostics
from nnspec.pipeline import diagnose, read_source
from nnspec.summary import print_summary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="show the model's layers, shapes and sizes",
                       description="Check a spec and print a table of its layers.")
    p.add_argument("file", metavar="FILE", help=".nn spec file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    text, diagnostics = read_source(args.file)
    if text is None:
        print_diagnostics(diagnostics, {})
        return 2 if not Path(args.file).is_file() else 1
    spec, diagnostics = diagnose(text, args.file)
    print_diagnostics(diagnostics, {args.file: text})
    if spec is None:
        return 1
    print_summary(spec, Console(highlight=False))
    return 0
