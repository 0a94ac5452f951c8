"""cli.run: `nnspec run SPEC [options]` / `nnspec run --resume RUN_DIR` -> exit status.

Exit status: 0 when training completed (early stopping included), 130 when interrupted
(Ctrl-C / SIGTERM / SIGHUP while training: a checkpoint is written and the message says how
to resume), 1 for any error, which is printed as a rendered diagnostic on stderr, never as a
traceback. Before training starts (importing, reading data, compiling) a signal ends the
process at once (train/interrupt.py): the shell sees 130 for Ctrl-C, and the run folder is
left for `--resume` or a rerun (docs/runs.md).
With `--json`, stdout carries exactly one JSON object per epoch and nothing else.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nnspec.cli.output import add_memory_option, apply_memory_option, print_diagnostics
from nnspec.diagnostics import DiagnosticError

HELP = "train a spec and write a run directory"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="?", help="the .nn spec to train")
    p.add_argument("--out", metavar="DIR",
                   help="run directory (default: runs/<model>-<YYYYmmdd-HHMMSS>)")
    p.add_argument("--epochs", type=int, metavar="N", help="override train.epochs")
    p.add_argument("--seed", type=int, metavar="N", help="override train.seed")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help="override train.device")
    p.add_argument("--backend", choices=("reference", "cpu", "cuda"),
                   help="force a backend: `reference` is the NumPy float64 definition of "
                        "every op (slow; it runs layers the compiled engines lack kernels "
                        "for)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE",
                   help="override any spec value, e.g. --set train.optimizer.lr=0.01 "
                        "(repeatable)")
    p.add_argument("--overwrite", action="store_true",
                   help="let a run replace what --out holds: a completed run, or one with a "
                        "checkpoint (only nnspec's own files are deleted)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run (or extend one with --epochs)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing while training")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per epoch on stdout (nothing else on stdout)")
    add_memory_option(p)


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("run", help=HELP, description=HELP)
    add_arguments(p)
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from nnspec.train.interrupt import StopFlag, exit_at_once

    with exit_at_once():  # until training starts, a signal ends the process at once
        return _run(args, StopFlag())


def _run(args: argparse.Namespace, stop: Any) -> int:
    from nnspec.run.session import RunOptions, resume_run, run_spec
    from nnspec.train.progress import make_reporter

    if not apply_memory_option(args, "run"):
        return 2

    sources: dict[str, str] = {}
    opts = RunOptions(out=args.out, epochs=args.epochs, seed=args.seed, device=args.device,
                      sets=tuple(args.sets), overwrite=args.overwrite, backend=args.backend)
    if (args.spec is None) == (args.resume is None):
        print("nnspec run: give either SPEC or --resume RUN_DIR", file=sys.stderr)
        return 2
    if args.epochs is not None and args.epochs <= 0:
        print("nnspec run: --epochs must be positive", file=sys.stderr)
        return 2
    reporter = make_reporter(quiet=args.quiet, json_lines=args.json)
    announced: list[Any] = []

    def announce(warnings: list[Any]) -> None:
        # before the first epoch, where the user can still stop a run the data makes pointless
        print_diagnostics(warnings, sources)
        announced.extend(warnings)

    try:
        if args.resume is not None:
            outcome = resume_run(args.resume, opts, sources=sources, reporter=reporter,
                                 stop=stop, announce=announce)
        else:
            outcome = run_spec(args.spec, opts, sources=sources, reporter=reporter, stop=stop,
                               announce=announce)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics, sources)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C: the user wants out now
        print("nnspec run: aborted", file=sys.stderr)
        return 130
    print_diagnostics([*(w for w in outcome.warnings if w not in announced),
                       *outcome.result.diagnostics], sources)
    _summary(outcome, quiet=args.quiet, json_lines=args.json)
    return outcome.exit_code


def _summary(outcome: Any, *, quiet: bool, json_lines: bool) -> None:
    result, where = outcome.result, outcome.run_dir
    out = sys.stderr if json_lines else sys.stdout
    if result.status == "interrupted":
        s = result.checkpoint
        at = f"epoch {s['epoch'] + 1}, batch {s['batch']}" if s["batch"] else \
            f"the end of epoch {s['epoch']}"
        print(f"interrupted at {at}; checkpoint written to {where}/checkpoint\n"
              f"resume with: nnspec run --resume {where}", file=sys.stderr)
        return
    if result.status == "failed":
        print(f"training failed after {result.epochs_run} epoch(s); history in {where}",
              file=sys.stderr)
        return
    if quiet:
        return
    final = result.metrics
    parts = [f"{split} " + ", ".join(f"{k} {v:.4g}" for k, v in values.items())
             for split, values in final.items()]
    stopped = (f" (early stop at epoch {result.early_stop_epoch})"
               if result.early_stop_epoch else "")
    if result.diverged_epoch is not None:
        stopped += f" (diverged from epoch {result.diverged_epoch}: see W109)"
    print(f"done: {result.epochs_run} epochs in {result.elapsed:.1f}s{stopped}; "
          + "; ".join(parts), file=out)
    print(f"run directory: {where}", file=out)
