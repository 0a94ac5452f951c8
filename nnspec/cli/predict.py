"""cli.predict: `nnspec predict RUN_DIR INPUT.csv [-o OUT.csv]` -> predictions as CSV.

The input is read the way the training data was (data.json: columns by name or position,
the same scaling); see nnspec/run/predict.py for the columns written. For an image model the
input may be a folder of images (or an .npz of images); the table then starts with a `file`
column naming each image. Exit 0 on success,
1 with a rendered diagnostic otherwise.
"""

from __future__ import annotations

import argparse
import io
import sys

from nnspec.cli.output import print_diagnostics
from nnspec.diagnostics import DiagnosticError

HELP = "predict new samples with a trained run"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help=HELP, description=HELP)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `nnspec run`")
    p.add_argument("input", metavar="INPUT", help="CSV (or .npz, or a folder of images) of "
                   "samples to predict")
    p.add_argument("-o", "--output", metavar="OUT.csv", help="write here (default: stdout)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from nnspec.run.atomic import write_text
    from nnspec.run.predict import predict, prediction_table, read_input, write_csv
    from nnspec.run.restore import restore

    sources: dict[str, str] = {}
    try:
        restored = restore(args.run_dir, sources)
        features = read_input(restored, args.input)
        header, rows = prediction_table(restored, predict(restored, features, args.input))
        files = getattr(getattr(features.table, "locator", None), "files", None)
        if files is not None:  # a folder of images: say which row is which image
            header, rows = ["file", *header], [[f, *r] for f, r in zip(files, rows, strict=True)]
        buf = io.StringIO()
        write_csv(header, rows, buf)
        if args.output:
            write_text(args.output, buf.getvalue())
        else:
            sys.stdout.write(buf.getvalue())
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return 1
    if args.output:
        print(f"{len(rows)} predictions written to {args.output}", file=sys.stderr)
    return 0
