"""Forked `nnspec` commands for the kill -9 tests: a child of the (warm) test process runs
`nnspec.cli.main(argv)`, so it starts in milliseconds with every kernel already compiled.
A plain module (not conftest.py) so tests import it by a name no other folder uses."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Sequence

import pytest

from nnspec.run.killpoints import VARIABLE

needs_fork = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32",
                                reason="POSIX fork and signals")


def start(argv: Sequence[str], *, kill_at: str | None = None, cwd: str | None = None,
          before: Callable[[], None] | None = None) -> int:
    """Fork a child running `nnspec <argv>` (output to /dev/null); returns its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 99
    try:  # the child: never return into pytest
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        if kill_at is not None:
            os.environ[VARIABLE] = kill_at
        else:
            os.environ.pop(VARIABLE, None)
        if cwd is not None:
            os.chdir(cwd)
        if before is not None:
            before()
        from nnspec.cli import main

        code = main([str(a) for a in argv])
    finally:
        os._exit(code)


def wait(pid: int, timeout: float = 120.0) -> int:
    """The child's exit code (-N when a signal N ended it); killed and failed after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"forked nnspec {pid} did not end in {timeout} s")
        time.sleep(0.005)


def run(argv: Sequence[str], **kwargs) -> int:
    return wait(start(argv, **kwargs))
