"""bugs: an exception nnspec did not expect -> a diagnostic (E509 out of memory, else E502).

Every catch-all (the CLI's, the checker's, compiling, warming up and training) builds its
diagnostic here. Memory running out is the machine's limit, not a bug: E509 (`unexpected`
and the CLI map every MemoryError to it). Anything else is E502 "this is a bug in nnspec",
built by `internal_error` alone, so what counts as a bug is this one function, whatever the
wording of the message. With the test hook NNSPEC_TEST_BUG_LOG=<file> set, each call also
appends one JSON line to that file: where it was caught, the exception's type and text, and
the traceback. The property tests (tests/run/test_train_fuzz.py) run mutated specs with it
set and assert that nothing a user can write reaches a catch-all.
"""

from __future__ import annotations

import json
import os
import resource
import traceback
from collections.abc import Iterable

from nnspec.diagnostics import Diagnostic, Span, error

VARIABLE = "NNSPEC_TEST_BUG_LOG"
HINT = "this is a bug in nnspec; please report it with the command and the spec file"


def internal_error(where: str, message: str, exc: BaseException, span: Span | None = None, *,
                   path: str | None = None, hints: Iterable[str] = (HINT,)) -> Diagnostic:
    """The E502 diagnostic of an unexpected exception `exc` caught at `where`, recorded for
    the tests when the hook is set."""
    record(where, exc)
    return error("E502", message, span, path=path, hints=hints)


def unexpected(where: str, message: str, exc: BaseException, *,
               path: str | None = None) -> Diagnostic:
    """The diagnostic of an exception caught by a catch-all: E509 when memory ran out,
    else `internal_error`."""
    if isinstance(exc, MemoryError):
        return out_of_memory(exc, path=path)
    return internal_error(where, message, exc, path=path)


def out_of_memory(exc: MemoryError, *, path: str | None = None) -> Diagnostic:
    """E509: the run asked for more memory than the process may have."""
    what = str(exc).strip() or "the machine could not give the memory asked for"
    notes = []
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        notes.append(f"this process may use at most {soft / 2**30:.1f} GiB of address space "
                     "(RLIMIT_AS, `ulimit -v`)")
    return error("E509", f"out of memory: {what}", path=path, notes=notes,
                 hints=["a size in the spec (units, samples, batch, a data file) asks for more "
                        "memory than this machine allows: `nnspec summary SPEC` shows the "
                        "sizes; make them smaller or run where there is more memory"])


def record(where: str, exc: BaseException) -> None:
    """Append the exception to the NNSPEC_TEST_BUG_LOG file, when that is set."""
    target = os.environ.get(VARIABLE)
    if not target:
        return
    line = json.dumps({"where": where, "type": type(exc).__name__, "message": str(exc)[:2000],
                       "traceback": "".join(traceback.format_exception(exc))[-6000:],
                       "pid": os.getpid()})
    # O_APPEND: forked children of one test process share the file, a line each.
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
