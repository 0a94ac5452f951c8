"""cli.golden: `nnspec golden SPEC... [--update] [--epochs N] [--dir DIR]` -> exit 0 when
every spec's short training summary matches DIR/<spec name>.json (see nnspec/run/golden.py
for what is compared and the tolerance), 1 otherwise (differences listed on stderr)."""

from __future__ import annotations

import argparse
import json
import sys

from nnspec.cli.output import print_diagnostics
from nnspec.diagnostics import DiagnosticError

HELP = "compare a short seeded training run with its golden summary"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("golden", help=HELP, description=HELP)
    p.add_argument("specs", nargs="+", metavar="SPEC", help=".nn spec files")
    p.add_argument("--update", action="store_true", help="rewrite the golden files")
    p.add_argument("--epochs", type=int, default=3, metavar="N",
                   help="epochs to train (default 3)")
    p.add_argument("--dir", default="tests/golden", metavar="DIR",
                   help="where the golden files are (default tests/golden)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from nnspec.run.golden import compare, golden_path, summarize, write_golden

    if args.epochs <= 0:
        print("nnspec golden: --epochs must be positive", file=sys.stderr)
        return 2
    failed = False
    for spec in args.specs:
        sources: dict[str, str] = {}
        try:
            summary = summarize(spec, args.epochs, sources)
        except DiagnosticError as exc:
            print_diagnostics(exc.diagnostics, sources)
            failed = True
            continue
        path = golden_path(spec, args.dir)
        if args.update:
            write_golden(path, summary)
            print(f"updated {path}")
            continue
        try:
            expected = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            print(f"{spec}: no golden file {path}; create it with --update", file=sys.stderr)
            failed = True
            continue
        except ValueError as exc:
            print(f"{spec}: {path} is not valid JSON ({exc})", file=sys.stderr)
            failed = True
            continue
        diffs = compare(summary, expected)
        if diffs:
            failed = True
            print(f"{spec}: {len(diffs)} difference(s) from {path}:", file=sys.stderr)
            for d in diffs[:30]:
                print(f"  {d}", file=sys.stderr)
        else:
            print(f"ok {spec} ({summary['epochs']} epochs)")
    return 1 if failed else 0
