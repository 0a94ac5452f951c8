"""cli.landscape: `nnspec landscape RUN_DIR [-o landscape.png]` -> the training loss on a
plane through the final weights with the training path projected on it
(pictures/landscape.py). Exit 0 on success, 1 with rendered diagnostics otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnspec.cli.output import print_diagnostics
from nnspec.diagnostics import DiagnosticError

HELP = "draw the loss landscape around a run's final weights, with its training path"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("landscape", help=HELP, description=HELP + " (docs/pictures.md)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `nnspec run`")
    p.add_argument("-o", "--out", metavar="PNG",
                   help="the picture (default: RUN_DIR/landscape.png)")
    p.add_argument("--directions", choices=("auto", "pca", "random"), default="auto",
                   help="the plane: PCA of the recorded path, or two filter-normalized random "
                   "directions (auto: pca when the run recorded a trajectory)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random directions")
    p.add_argument("--resolution", type=int, default=31, metavar="N",
                   help="grid points per axis (default 31)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from nnspec.pictures import landscape
    from nnspec.pictures.paths import write_png
    from nnspec.pictures.runs import pyplot

    sources: dict[str, str] = {}
    try:
        pyplot("landscape.png")  # before any work: E437 when matplotlib is missing
        land = landscape.landscape_of(args.run_dir, sources, directions=args.directions,
                                      seed=args.seed, resolution=max(5, args.resolution))
        out = Path(args.out) if args.out else Path(args.run_dir) / "landscape.png"
        written = write_png(out, landscape.draw(land))
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return 1
    print(f"{land.kind} directions; loss at the final weights {land.centre_loss:.6g}; "
          f"over the plane {float(land.loss.min()):.6g} .. {float(land.loss.max()):.6g}")
    print(f"wrote {written}")
    sys.stdout.flush()
    return 0
