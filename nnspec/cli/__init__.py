"""cli: argv -> exit code. `nnspec <command> ...`.

Each command is a module of this package with `register(subparsers)`, which adds its
parser and sets `func(args) -> int`. To add a command, write the module and add its name to
`COMMANDS`. Exit codes: 0 success (warnings allowed), 1 diagnostics with errors (or, for
`fmt --check`, files that would change), 2 usage errors (bad arguments, missing files),
3 an internal error (a bug: reported as E502, never as a traceback).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from nnspec import __version__

COMMANDS = ("check", "fmt", "schema", "summary", "plan", "run", "sweep", "predict", "eval",
            "golden", "lsp", "export", "paths", "landscape")

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnspec", description="A declarative neural-network spec compiler.")
    parser.add_argument("--version", action="version", version=f"nnspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"nnspec.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script `nnspec` (pyproject); returns the exit code."""
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return int(args.func(args))
    except KeyboardInterrupt:
        print("nnspec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`nnspec schema | head`): not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by it
    except MemoryError as exc:  # the machine's limit, not a bug (nnspec/bugs.py)
        from nnspec.bugs import out_of_memory
        from nnspec.diagnostics import render

        print(render(out_of_memory(exc, path="nnspec")), file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001  (the contract: no tracebacks for any input)
        from nnspec.bugs import internal_error
        from nnspec.diagnostics import render

        diag = internal_error("cli", f"internal error: {type(exc).__name__}: {exc}", exc,
                              path="nnspec")
        print(render(diag), file=sys.stderr)
        return EXIT_INTERNAL


def entry() -> None:
    """The `nnspec` console script and `python -m nnspec`: main(), then exit.

    Before exiting, every object still alive is moved to the collector's permanent
    generation (gc.freeze): the interpreter's shutdown would otherwise run full collections
    over everything Numba, pydantic and the spec's run created, ~0.2 s of a ~1.1 s short
    `nnspec run` on a 2-core VM (measured: a process that imports the engine and the front
    end exits in 0.69 s instead of 0.91 s). Every file was written and closed by main();
    the shutdown still runs (atexit handlers, buffered output flushed), it only skips
    collecting what the process drops anyway. Not in main() itself, which tests and the
    Python API call many times in one process."""
    code = main()
    gc.freeze()
    sys.exit(code)
