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
    text = p.add_argument_group("a run trained on text(...): INPUT is a prompt")
    text.add_argument("--top", type=int, metavar="K", help="print the K most probable next "
                      "tokens with their probabilities (the default for a text run: 5)")
    text.add_argument("--generate", type=int, metavar="N", help="continue the prompt by N "
                      "tokens")
    text.add_argument("--temperature", type=float, default=1.0, metavar="T",
                      help="sampling temperature for --generate (0: always the most "
                      "probable token; default 1)")
    text.add_argument("--seed", type=int, default=0, metavar="S",
                      help="seed of the sampling for --generate (default 0)")
    p.set_defaults(func=main)


def _text(args: argparse.Namespace, restored: object) -> str:
    """`--top` / `--generate` on a text run: the prompt is args.input (run.textgen)."""
    from nnspec.run.textgen import generate, top_tokens

    if args.top is not None and args.top < 1 or args.generate is not None and args.generate < 0 \
            or args.temperature < 0:
        raise ValueError("--top must be at least 1, --generate and --temperature at least 0")
    if args.generate is not None:
        return generate(restored, args.input, args.generate, args.temperature, args.seed) + "\n"
    rows = top_tokens(restored, args.input, args.top or 5)
    width = max(len(repr(t)) for t, _ in rows)
    return "".join(f"{repr(t):<{width}}  {p:.4f}\n" for t, p in rows)


def main(args: argparse.Namespace) -> int:
    from nnspec.data.text import is_text
    from nnspec.run.atomic import write_text
    from nnspec.run.predict import predict, prediction_table, read_input, write_csv
    from nnspec.run.restore import restore

    sources: dict[str, str] = {}
    try:
        restored = restore(args.run_dir, sources)
        if (args.top is not None or args.generate is not None
                or is_text(restored.schema.get("layout"))):
            try:
                out = _text(args, restored)
            except ValueError as exc:
                print(f"nnspec predict: error: {exc}", file=sys.stderr)
                return 2
            if args.output:
                write_text(args.output, out)
            else:
                sys.stdout.write(out)
            return 0
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
