"""cli.check: `nnspec check FILE... [--format text|json] [--fix [--diff] [--guesses]]` ->
diagnostics, exit 0/1/2. `--fix` is cli.fix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnspec.cli.output import (
    add_memory_option,
    apply_memory_option,
    count_line,
    print_diagnostics,
)
from nnspec.diagnostics import Diagnostic, Severity, has_errors, to_json
from nnspec.pipeline import diagnose, read_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="report every mistake in spec files",
                       description="Parse and check spec files; print their diagnostics.")
    p.add_argument("files", nargs="+", metavar="FILE", help=".nn spec files")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default, on stderr) or json (on stdout)")
    p.add_argument("--fix", action="store_true",
                   help="apply the fixes the diagnostics carry (did-you-mean replacements, ...) "
                        "to the files and print what changed; exit 1 if errors remain")
    p.add_argument("--diff", action="store_true",
                   help="with --fix: change nothing, print the fixes as a unified diff")
    p.add_argument("--guesses", action="store_true",
                   help="with --fix: also apply the fixes that are guesses (not preferred: "
                        "e.g. a minimal model block), which --fix alone leaves alone")
    add_memory_option(p)
    p.set_defaults(func=run)


def check_files(paths: list[str]) -> tuple[list[Diagnostic], dict[str, str], bool]:
    """(all diagnostics, sources by path, whether some file could not be read)."""
    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    unreadable = False
    for path in paths:
        text, found = read_source(path)
        if text is None:
            unreadable = unreadable or not Path(path).is_file()
            diagnostics += found
            continue
        sources[path] = text
        diagnostics += diagnose(text, path, read_data=True)[1]
    return diagnostics, sources, unreadable


def run(args: argparse.Namespace) -> int:
    if not apply_memory_option(args, "check"):
        return 2
    if args.fix or args.diff or args.guesses:
        from nnspec.cli.fix import run as run_fix

        return run_fix(args)
    diagnostics, sources, unreadable = check_files(args.files)
    if args.format == "json":
        sys.stdout.write(to_json(diagnostics) + "\n")
    else:
        print_diagnostics(diagnostics, sources)
        if diagnostics:
            print(count_line(diagnostics, len(args.files)), file=sys.stderr)
        for path in sources:
            # a note (the data was not read: W113) is information, not a finding
            if not any(d.path == path and d.severity is not Severity.note
                       for d in diagnostics):
                print(f"{path}: ok", file=sys.stdout)
    if unreadable:
        return 2
    return 1 if has_errors(diagnostics) else 0
