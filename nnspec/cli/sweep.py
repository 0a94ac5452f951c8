"""cli.sweep: `nnspec sweep SPEC [--grid PATH=[...]] [--random PATH=DIST] ...` -> exit status.

Runs the spec once per point of its `sweep` block (or of `--grid` / `--random`, which replace
the block's grid and random settings; `--seeds`, `--trials`, `--parallel`, `--metric` replace
the block's) into a sweep folder (nnspec/sweep/run.py). Every point is checked before anything
runs. Exit status: 0 when every trial ended (diverged ones included: they are a result), 1
when a trial failed or the spec has errors, 2 for usage errors, 130 when interrupted (a rerun
with the same `--out` continues).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nnspec.cli.output import print_diagnostics
from nnspec.diagnostics import DiagnosticError, error

HELP = "run a spec once per setting of its sweep block; compare the runs"


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("sweep", help=HELP, description=HELP)
    p.add_argument("spec", help="the .nn spec (with a `sweep { ... }` block, or --grid/--random)")
    p.add_argument("--grid", action="append", default=[], metavar="PATH=[V,...]",
                   help="try every value, e.g. --grid 'train.optimizer.lr=[0.01, 0.1, 1]' "
                        "(repeatable: every combination)")
    p.add_argument("--random", action="append", default=[], metavar="PATH=DIST",
                   help="draw a value per trial, e.g. --random "
                        "'train.optimizer.lr=loguniform(0.0001, 1)' (or uniform(LOW, HIGH), "
                        "choice(V, ...))")
    p.add_argument("--trials", type=int, metavar="N", help="random points per grid point")
    p.add_argument("--seeds", type=int, metavar="K", help="run every point with K seeds")
    p.add_argument("--parallel", "-j", type=int, metavar="N", help="trials at once")
    p.add_argument("--metric", metavar="NAME", help="rank by this history column "
                   "(default: the block's `metric`, else val_loss or loss)")
    p.add_argument("--executor", choices=("pool", "ray"), default="pool",
                   help="pool: local processes (default); ray: Ray Tune")
    p.add_argument("--address", metavar="A", help="the Ray cluster (default: RAY_ADDRESS, "
                   "else a local Ray on 127.0.0.1)")
    p.add_argument("--out", "-o", metavar="SWEEP_DIR",
                   help="the sweep folder (default sweeps/<model>-<timestamp>); rerunning "
                        "into it continues an interrupted sweep")
    p.add_argument("--backend", choices=("reference", "cpu"), help=argparse.SUPPRESS)
    p.add_argument("--no-pictures", action="store_true", help="skip curves.png and final.png")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    p.set_defaults(func=main)
    return p


def _cli_block(args: argparse.Namespace) -> str | None:
    lines = [f"    grid {g.partition('=')[0]} = {g.partition('=')[2]}" if "=" in g else
             f"    grid {g}" for g in args.grid]
    lines += [f"    random {r.partition('=')[0]} = {r.partition('=')[2]}" if "=" in r else
              f"    random {r}" for r in args.random]
    for key in ("trials", "seeds", "parallel"):
        if getattr(args, key) is not None:
            lines.append(f"    {key} {getattr(args, key)}")
    if args.metric:
        lines.append(f"    metric {args.metric}")
    return "sweep {\n" + "\n".join(lines) + "\n}\n" if lines else None


def sweep_of(text: str, shown: str, spec: Any, sources: dict[str, str]) -> Any:
    """The Sweep of a text's `sweep` block checked against `spec` (None when there is none)."""
    from nnspec.check.context import Ctx
    from nnspec.check.sweep import check_sweep
    from nnspec.parse import parse

    doc, problems = parse(text, shown)
    block = next((b for b in doc.blocks if b.kind.value == "sweep"), None)
    if problems or block is None:
        if problems:
            sources[shown] = text
            raise DiagnosticError(problems)
        return None
    ctx = Ctx(shown)
    found = check_sweep(ctx, block, spec)
    if ctx.failed:
        sources[shown] = text
        raise DiagnosticError([d for d in ctx.diagnostics if d.is_error])
    return found


def merged(base: Any, cli: Any, args: argparse.Namespace) -> Any:
    if base is None:
        return cli
    if cli is None:
        return base
    update: dict[str, Any] = {}
    if args.grid or args.random:
        update.update(grid=cli.grid, random=cli.random)
    for key in ("trials", "parallel", "metric"):
        if getattr(args, key) is not None:
            update[key] = getattr(cli, key)
    if args.seeds is not None:
        update["seeds"] = cli.seeds
    return base.model_copy(update=update)


def _again(sweep_dir: Any) -> str:
    """The command that continues this sweep: the same arguments, with its folder."""
    import shlex

    argv = sys.argv[1:] if sys.argv[1:2] == ["sweep"] else ["sweep", "SPEC"]
    if not any(a in ("-o", "--out") or a.startswith("--out=") for a in argv):
        argv += ["--out", str(sweep_dir)]
    return "nnspec " + " ".join(shlex.quote(a) for a in argv)


def main(args: argparse.Namespace) -> int:
    from nnspec.run.session import load
    from nnspec.sweep.run import SweepOptions, run_sweep

    sources: dict[str, str] = {}
    say = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
    try:
        loaded = load(args.spec, sources)
        print_diagnostics(loaded.warnings, sources)
        base = sweep_of(loaded.text, args.spec, loaded.spec, sources)
        cli_text = _cli_block(args)
        cli = sweep_of(cli_text, "the command line", loaded.spec, sources) if cli_text else None
        sweep = merged(base, cli, args)
        if sweep is None:
            raise DiagnosticError(error(
                "E315", "nothing to sweep: the spec has no `sweep` block", path=args.spec,
                hints=["add e.g. `sweep { grid train.optimizer.lr = [0.01, 0.1, 1] }`, or "
                       "pass --grid 'train.optimizer.lr=[0.01, 0.1, 1]'"]))
        opts = SweepOptions(out=args.out, executor=args.executor, parallel=args.parallel,
                            address=args.address, metric=args.metric, backend=args.backend,
                            pictures=not args.no_pictures)
        outcome = run_sweep(loaded.spec, loaded.text, sweep, opts, sources=sources, say=say)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return 1
    except KeyboardInterrupt:
        print("nnspec sweep: aborted", file=sys.stderr)
        return 130
    print(outcome.table)
    if outcome.interrupted:
        print(f"interrupted; continue with: {_again(outcome.sweep_dir)}", file=sys.stderr)
    else:
        where = ", ".join(str(p) for p in outcome.pictures) or (
            "none" if args.no_pictures else 'none (pip install "nnspec[pictures]" to draw them)')
        print(f"sweep folder: {outcome.sweep_dir}; table: sweep.csv; pictures: {where}")
    return outcome.exit_code
