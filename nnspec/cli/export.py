"""cli.export: `nnspec export RUN_DIR -o MODEL.onnx` -> an ONNX file (nnspec/exporter/).

Exit 0 when the file is written (warnings allowed), 1 with rendered diagnostics otherwise:
a run that cannot be read (E503/E504/E511, as `nnspec predict`), a layer with no ONNX form
(E512, at its statement in the run's spec.nn), onnx not installed (E513, with the pip
command), a path that cannot be written (E514).
"""

from __future__ import annotations

import argparse
import sys

from nnspec.cli.output import print_diagnostics
from nnspec.diagnostics import DiagnosticError

HELP = "export a trained run to an ONNX file"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help=HELP, description=HELP + " (opset 17, float32, dynamic "
                       "batch; the run's scaler is the graph's first nodes: it takes raw "
                       "features, as `nnspec predict`)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `nnspec run`")
    p.add_argument("-o", "--output", metavar="MODEL.onnx", required=True,
                   help="the ONNX file to write (replaced if it exists)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from nnspec.exporter import export

    sources: dict[str, str] = {}
    try:
        done = export(args.run_dir, args.output, sources=sources)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return 1
    print_diagnostics(done.warnings, sources)
    (x, xs), (y, ys) = done.input, done.output

    def shape(s: tuple[int | None, ...]) -> str:
        return "[" + ", ".join("batch" if d is None else str(d) for d in s) + "]"

    print(f"exported {args.run_dir} to {done.path} (ONNX opset {done.opset}; input `{x}` "
          f"{shape(xs)}, output `{y}` {shape(ys)})", file=sys.stderr)
    return 0
