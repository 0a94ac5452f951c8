"""data.files: a data path -> an open descriptor of a regular file, or the reason it is not one.

Only regular files are read. A folder, a named pipe (FIFO), a socket or a device (/dev/zero)
as a data path is refused by name before a byte is read: a FIFO would block the reader
forever, a device would be read until memory runs out. The file is opened with O_NONBLOCK (so
opening a FIFO without a writer returns at once) and the *descriptor* is checked with fstat:
checking the path first and opening it afterwards would race with a rename. Reads then go
through that descriptor, so what was checked is what is read.

Standard library only: `nnspec check` and the language server use `probe()` without importing
NumPy.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
          | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


class NotRegular(OSError):
    """The path exists but is not a regular file; `kind` says what it is ("a folder", ...)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind}, not a regular file")
        self.kind = kind


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words, with an article: `a named pipe (FIFO)`."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of the regular file at `path` (the caller closes it).

    Raises FileNotFoundError, NotRegular, or another OSError (permission, ...). Never blocks:
    O_NONBLOCK makes opening a FIFO return at once; the descriptor is then refused.
    """
    try:
        fd = os.open(path, _FLAGS)
    except OSError as e:
        # Opening a socket gives ENXIO; say what it is rather than "No such device".
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise e from None
        if not stat.S_ISREG(mode):
            raise NotRegular(kind_of(mode)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(kind_of(mode))
        if hasattr(os, "set_blocking"):
            # Regular files ignore O_NONBLOCK; clearing it keeps later reads plain.
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def probe(path: str | os.PathLike[str]) -> str | None:
    """What is wrong with reading `path` as a data file, if it is *there* and not a regular
    file (`a named pipe (FIFO)`, ...); None for a regular file, a missing one or one that
    cannot be examined (the reader reports those with their own codes). From `stat` alone:
    nothing is opened (the language server probes on every edit; the reader checks the
    descriptor it reads again, so a rename in between changes nothing)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else kind_of(mode)


def refusal(path: str, kind: str) -> tuple[str, str, list[str]]:
    """(message, caret label, hints) of E413 for a data path that is `kind`, not a file: the
    same words from `check`, `run`, `eval`, `predict` and the language server."""
    if kind == "a folder":
        return f"`{path}` is a folder, not a data file", "not a file", []
    return (f"`{path}` is {kind}, not a regular file: data is read only from regular files",
            "not a regular file", ["write the data to a file first, e.g. `cat ... > data.csv`"])


def resolve(path: str, base: Path | str) -> Path:
    """A relative path is relative to the spec's folder `base`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base) / p
