"""cli.eval: `nnspec eval RUN_DIR [DATA.csv] [--json]` -> loss and metrics of the final
weights, on DATA (which must hold the target column) or on every split of the run's own data.
Exit 0 on success, 1 with a rendered diagnostic otherwise.
"""

from __future__ import annotations

import argparse
import sys

from nnspec.cli.output import print_diagnostics
from nnspec.diagnostics import DiagnosticError, error

HELP = "evaluate a trained run on its splits or on a data file"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help=HELP, description=HELP)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `nnspec run`")
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="CSV (or .npz) with features and targets (default: the run's splits)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from nnspec.run.atomic import dumps
    from nnspec.run.predict import evaluate, evaluate_splits, read_input
    from nnspec.run.restore import restore

    sources: dict[str, str] = {}
    try:
        restored = restore(args.run_dir, sources)
        if args.data is None:
            results = evaluate_splits(restored)
        else:
            features = read_input(restored, args.data)
            if features.y is None:
                targets = ", ".join(restored.schema.get("target_names") or ["?"])
                raise DiagnosticError(error(
                    "E402", f"`{args.data}` has no target column to evaluate against",
                    path=args.data, notes=[f"targets: {targets}"],
                    hints=["use `nnspec predict` for data without targets"]))
            results = {args.data: evaluate(restored, features.x, features.y, args.data,
                                                features.locate)}
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return 1
    if args.json:
        print(dumps(results, indent=2))
    else:
        for name, values in results.items():
            print(f"{name}: " + "  ".join(f"{k} {v:.6g}" for k, v in values.items()))
    sys.stdout.flush()
    return 0

