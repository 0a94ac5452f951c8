"""cli.plan: `nnspec plan FILE [--layout [ROWS]]` -> the lowered Plan as text.

What `lower()` made of a spec: every node with its inputs, shapes, kernel numbers and
tensors (offsets into the flat buffers, initializers), the loss, the optimizer and the
training plan; `--layout` adds the CPU engine's tables for batches of ROWS (default: the
spec's batch size, or 32 for `batch full`). Neither needs numba to be compiled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnspec.cli.output import print_diagnostics
from nnspec.pipeline import diagnose, read_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="print the lowered plan (nodes, shapes, offsets)",
                       description="Check a spec, lower it and print the Plan backends run.")
    p.add_argument("file", metavar="FILE", help=".nn spec file")
    p.add_argument("--layout", nargs="?", type=int, const=0, default=None, metavar="ROWS",
                   help="also print the cpu engine's tables for batches of ROWS samples")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    text, diagnostics = read_source(args.file)
    if text is None:
        print_diagnostics(diagnostics, {})
        return 2 if not Path(args.file).is_file() else 1
    spec, diagnostics = diagnose(text, args.file)
    print_diagnostics(diagnostics, {args.file: text})
    if spec is None:
        return 1
    if args.layout is not None and args.layout < 0:
        print("nnspec plan: --layout ROWS must be positive", file=sys.stderr)
        return 2
    from nnspec.lower import lower
    from nnspec.lower.show import format_plan

    plan = lower(spec)
    sys.stdout.write(format_plan(plan))
    if args.layout is not None:
        from nnspec.backends import missing_kernels

        missing = sorted({n.kind_name for n in missing_kernels(plan, "cpu")})
        if missing:  # the cpu engine would refuse this plan (E506): no layout to show
            print("cpu layout: none, the cpu backend has no kernels yet for "
                  + ", ".join(missing))
            return 0
        from nnspec.backends.cpu.layout import format_layout

        rows = args.layout or (plan.batch or 32)
        sys.stdout.write(format_layout(plan, rows))
    return 0
