"""cli.fmt: `nnspec fmt FILE... [--check]` -> files rewritten in the canonical layout.

A file is rewritten atomically (a temporary file in the same folder, then os.replace), so an
interrupted run never leaves half a spec. A file with syntax errors is not touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from nnspec.cli.output import print_diagnostics
from nnspec.diagnostics import error
from nnspec.fmt import format_source
from nnspec.pipeline import read_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fmt", help="reformat spec files in place",
                       description="Rewrite spec files in the canonical layout (comments kept).")
    p.add_argument("files", nargs="+", metavar="FILE", help=".nn spec files")
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 if some file would be reformatted")
    p.set_defaults(func=run)


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except OSError:
            pass  # keep the new file's default mode rather than fail
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    status = 0
    for name in args.files:
        text, diags = read_source(name)
        if text is None:
            print_diagnostics(diags, {})
            status = 2 if not Path(name).is_file() else max(status, 1)
            continue
        new, diags = format_source(text, name)
        if new is None:
            print_diagnostics(diags, {name: text})
            print(f"{name}: not formatted (fix the syntax errors first)", file=sys.stderr)
            status = max(status, 1)
            continue
        if new == text:
            continue
        if args.check:
            print(f"{name}: would reformat", file=sys.stdout)
            status = max(status, 1)
            continue
        try:
            write_atomic(Path(name), new)
        except OSError as exc:
            print_diagnostics([error("E503", f"cannot write the file: {exc.strerror or exc}",
                                     path=name)], {})
            status = max(status, 1)
            continue
        print(f"{name}: reformatted", file=sys.stdout)
    return status
