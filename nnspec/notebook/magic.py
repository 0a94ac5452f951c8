"""notebook.magic: a `%%nnspec` cell -> the spec checked, saved and trained (`%load_ext nnspec`).

    %%nnspec moons.nn --epochs 20 --out runs/moons-nb
    model moons { ... }
    data { ... }
    train { ... }

The cell's text is checked first, as `nnspec check` (data included; relative paths are
relative to the notebook's folder): diagnostics point at lines of the cell and are printed,
never raised as a traceback. `--check` stops there. Otherwise the text is saved to the file
named on the magic's line (as %%writefile does; default `<model name>.nn`, replaced if it
exists), trained with `nnspec.fit` (live progress and curves in the cell), and the Run is
the cell's value (`Out[n]`, or `_` in the next cell). Options as `nnspec run`: --epochs,
--seed, --out, --device, --set PATH=VALUE (repeatable), --overwrite, --quiet.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from nnspec.diagnostics import DiagnosticError

MAGIC = "nnspec"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel's process
        raise _UsageError(f"%%nnspec: {message}\n{self.format_usage().strip()}")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%%nnspec", add_help=False,
                description="check, save and train the spec written in the cell")
    p.add_argument("file", nargs="?", help="where the cell is saved (default <model>.nn)")
    p.add_argument("--check", action="store_true", help="only check the cell")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run directory (default runs/<model>-<time>)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"))
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", "-q", action="store_true")
    return p


def nnspec_cell(line: str, cell: str) -> Any:
    """The magic: the Run, or None after printing what went wrong."""
    from nnspec.cli.output import print_diagnostics
    from nnspec.run.session import load_text

    try:
        args = parser().parse_args(shlex.split(line))
    except (_UsageError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return None
    shown = args.file or "cell.nn"
    sources: dict[str, str] = {}
    try:
        loaded = load_text(cell, shown, sources)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return None
    if args.check:
        print_diagnostics(loaded.warnings, sources)
        print(f"{shown}: ok" if not loaded.warnings else
              f"{shown}: ok ({len(loaded.warnings)} warning(s))")
        return None
    import nnspec

    path = Path(args.file or f"{loaded.spec.model.name}.nn")
    try:
        path.write_text(cell if cell.endswith("\n") else cell + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"%%nnspec: cannot write `{path}`: {exc.strerror or exc}", file=sys.stderr)
        return None
    print(f"spec saved to {path}")
    sets = dict(s.split("=", 1) for s in args.sets if "=" in s)
    try:
        return nnspec.fit(path, epochs=args.epochs, seed=args.seed, out=args.out,
                          device=args.device, set=sets, quiet=args.quiet,
                          overwrite=args.overwrite)
    except nnspec.SpecError as exc:
        print(str(exc), file=sys.stderr)
        return None


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(nnspec_cell, magic_kind="cell", magic_name=MAGIC)
