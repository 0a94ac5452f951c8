"""cli.fix: `nnspec check --fix [--diff] [--guesses] FILE...` -> files, their fixes applied.

Each file's preferred fixes (did-you-mean replacements, a missing block or statement whose
form is certain, ...), with `--guesses` also the fixes that are guesses, are applied
textually (comments and layout survive), the file is checked again and the new text written
atomically; what was changed is printed (`path:line:col: fixed: replace `rleu` with
`relu``). `--diff` only prints a unified diff. Files that are not regular files (a FIFO, a
device) are refused unread.
"""

from __future__ import annotations

import argparse
import difflib
import os
import stat
import sys
from pathlib import Path

from nnspec.cli.fmt import write_atomic
from nnspec.cli.output import count_line, print_diagnostics
from nnspec.diagnostics import Diagnostic, error, has_errors, to_json
from nnspec.fix import fix_source
from nnspec.pipeline import read_source


def _regular(path: str) -> Diagnostic | None:
    """None for a regular file (or a missing one: read_source reports that)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    return error("E505", "not a regular file: `--fix` only rewrites regular files", None,
                 path=path)


def run(args: argparse.Namespace) -> int:
    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    usage = False
    for path in args.files:
        refused = _regular(path)
        text, found = (None, [refused]) if refused is not None else read_source(path)
        if text is None:
            diagnostics += found
            usage = True
            continue
        fixed = fix_source(text, path, guesses=getattr(args, "guesses", False))
        sources[path] = fixed.text if not args.diff else text
        diagnostics += fixed.diagnostics
        if not fixed.applied:
            continue
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(keepends=True), fixed.text.splitlines(keepends=True),
                f"a/{path}", f"b/{path}"))
            continue
        try:
            write_atomic(Path(path), fixed.text)
        except OSError as exc:
            diagnostics.append(error("E503", f"cannot write the file: {exc.strerror or exc}",
                                     path=path))
            continue
        for fix, old in fixed.applied:
            was = "" if not old or f"`{old}`" in fix.title else f" (was `{old}`)"
            guess = "" if fix.preferred else " (a guess)"
            print(f"{path}:{fix.span.line}:{fix.span.col}: fixed{guess}: {fix.title}{was}",
                  file=sys.stdout)
    if args.format == "json":
        sys.stdout.write(to_json(diagnostics) + "\n")
    elif diagnostics:
        print_diagnostics(diagnostics, sources)
        print(count_line(diagnostics, len(args.files)), file=sys.stderr)
    if usage:
        return 2
    return 1 if has_errors(diagnostics) else 0
