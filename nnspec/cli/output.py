"""cli.output: diagnostics -> the terminal (colour on a TTY, plain text otherwise)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from nnspec.diagnostics import Diagnostic, render

_HEAD = re.compile(r"^(.*?: )(error|warning|note)(\[\w+\])(: .*)$")
_STYLE = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def print_diagnostics(diagnostics: Iterable[Diagnostic], sources: dict[str, str],
                      stream: TextIO | None = None) -> None:
    """Each rendered diagnostic followed by a blank line."""
    stream = stream or sys.stderr
    colour = use_colour(stream)
    for d in diagnostics:
        text = render(d, sources.get(d.path or ""))
        if colour:
            _print_coloured(text, d.severity.value, stream)
        else:
            stream.write(text + "\n\n")


def _print_coloured(text: str, severity: str, stream: TextIO) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, force_terminal=True, soft_wrap=True)
    style = _STYLE.get(severity, "bold")
    for i, line in enumerate(text.split("\n")):
        out = Text()
        m = _HEAD.match(line) if i == 0 else None
        if m:
            out.append(m.group(1), "bold")
            out.append(m.group(2) + m.group(3), style)
            out.append(m.group(4), "bold")
        elif "^" in line and line.lstrip().startswith("|"):
            bar, _, rest = line.partition("|")
            out.append(bar + "|", "blue")
            out.append(rest, style)
        elif line.strip().startswith("= "):
            out.append(line, "cyan")
        else:
            out.append(line)
        console.print(out)
    console.print()


def count_line(diagnostics: list[Diagnostic], files: int) -> str:
    errors = sum(d.is_error for d in diagnostics)
    warnings = sum(d.severity.value == "warning" for d in diagnostics)

    def n(k: int, word: str) -> str:
        return f"{k} {word}{'' if k == 1 else 's'}"

    return f"{n(errors, 'error')}, {n(warnings, 'warning')} in {n(files, 'file')}"


def add_memory_option(p: Any) -> None:
    """`--max-memory SIZE` (check, run, summary): the memory a run may use (memory.limit)."""
    p.add_argument("--max-memory", metavar="SIZE", type=_size, default=None,
                   help="the memory a run may use, e.g. 24G or 512MiB (default: the smallest "
                        "of physical memory, the cgroup limit and RLIMIT_AS; also "
                        "NNSPEC_MAX_MEMORY)")


def apply_memory_option(args: Any, command: str) -> bool:
    """Set the process's memory limit from --max-memory; False (after saying why) when
    NNSPEC_MAX_MEMORY is set to something that is not a size."""
    from nnspec.memory.limit import env_problem, set_override

    set_override(getattr(args, "max_memory", None))
    problem = None if args.max_memory is not None else env_problem()
    if problem is not None:
        print(f"nnspec {command}: {problem}", file=sys.stderr)
        return False
    return True


def _size(text: str) -> int:
    import argparse

    from nnspec.memory.limit import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
