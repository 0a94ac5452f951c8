"""cli.paths: `nnspec paths DIR... [-o paths.png]` -> the exact loss surface of a
two-parameter model with each run's recorded path on it (pictures/paths.py).
Exit 0 on success (warnings allowed), 1 with rendered diagnostics otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnspec.cli.output import print_diagnostics
from nnspec.diagnostics import DiagnosticError

HELP = "draw the loss surface of a two-parameter model with each run's path on it"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("paths", help=HELP, description=HELP + " (runs recorded with "
                       "`output { trajectory }`; docs/pictures.md)")
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="run directories, or folders holding them (a sweep's folder)")
    p.add_argument("-o", "--out", metavar="PNG",
                   help="the picture (default: paths.png in the first DIR)")
    p.add_argument("--resolution", type=int, default=61, metavar="N",
                   help="grid points per axis of the surface (default 61)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from nnspec.pictures import paths
    from nnspec.pictures.runs import find_runs, load_run, pyplot

    sources: dict[str, str] = {}
    try:
        pyplot("paths.png")  # before any work: E437 when matplotlib is missing
        runs = [load_run(d, sources) for d in find_runs(args.dirs)]
        picture = paths.compute(runs, resolution=max(5, args.resolution))
        if picture.warnings:
            print_diagnostics(picture.warnings, sources)
        out = Path(args.out) if args.out else Path(args.dirs[0]) / "paths.png"
        written = paths.write_png(out, paths.draw(picture))
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return 1
    for run, label, pts in zip(picture.runs, picture.labels, picture.points, strict=True):
        print(f"{run.path}: {label or run.path.name}: {len(pts)} points, "
              f"({pts[0, 0]:.4g}, {pts[0, 1]:.4g}) -> ({pts[-1, 0]:.4g}, {pts[-1, 1]:.4g})")
    print(f"wrote {written}")
    sys.stdout.flush()
    return 0
