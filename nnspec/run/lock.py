"""run.lock: a run folder -> an exclusive lock on it for the life of a run (or refusal E507).

The lock is `fcntl.flock` on `.nnspec.lock` inside the folder, which holds the process id of
its owner. The kernel drops a flock when its process dies however it dies (kill -9
included), so a lock file left by a dead process is simply taken over: nothing has to guess
from a pid whether its process still lives. A second run, or a `--resume`, into a folder
whose lock is held is refused naming the pid. The file is removed when the run ends; a run
that takes the lock checks that the file it locked is still the one in the folder (the owner
may have removed it between our open and our flock) and tries again if not.
"""

from __future__ import annotations

import errno
import os

from nnspec.diagnostics import DiagnosticError, error
from nnspec.run.folder import Folder, link_refused

LOCK_NAME = ".nnspec.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: runs are not locked
    fcntl = None  # type: ignore[assignment]


class RunLock:
    """Held by one run; `previous_pid` is the pid a dead owner left in the file, if any."""

    def __init__(self, folder: Folder, fd: int, previous_pid: int | None):
        self.folder, self.fd, self.previous_pid = folder, fd, previous_pid

    def release(self) -> None:
        """Remove the lock file (if it is still ours) and drop the lock."""
        if self.fd < 0:
            return
        try:
            mine = os.fstat(self.fd)
            now = os.stat(LOCK_NAME, dir_fd=self.folder.fd, follow_symlinks=False)
            if (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino):
                os.unlink(LOCK_NAME, dir_fd=self.folder.fd)
        except OSError:
            pass
        os.close(self.fd)  # closing drops the flock
        self.fd = -1


def in_use(folder: Folder, pid: int | None) -> DiagnosticError:
    who = f"process {pid}" if pid else "another process"
    return DiagnosticError(error(
        "E507", f"`{folder.path}` is in use by {who} (a run or a resume holds its lock)",
        path=str(folder.path),
        hints=["wait for that run to end (or stop it with Ctrl-C), or pick another --out"]))


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def acquire(folder: Folder) -> RunLock:
    """Take the folder's lock, or raise E507 naming the pid that holds it."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        try:
            fd = os.open(LOCK_NAME, flags, 0o644, dir_fd=folder.fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise link_refused(folder.path / LOCK_NAME) from None
            raise DiagnosticError(error(
                "E503", f"cannot lock `{folder.path}`: {exc.strerror or exc}",
                path=str(folder.path),
                hints=["check that the folder is writable"])) from exc
        if fcntl is None:  # pragma: no cover
            return RunLock(folder, fd, None)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise in_use(folder, pid) from None
            raise DiagnosticError(error(
                "E503", f"cannot lock `{folder.path}`: {exc.strerror or exc}",
                path=str(folder.path))) from exc
        mine = os.fstat(fd)
        try:
            now = os.stat(LOCK_NAME, dir_fd=folder.fd, follow_symlinks=False)
        except FileNotFoundError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
            os.close(fd)  # its owner removed it meanwhile: lock the folder's current file
            continue
        previous = _read_pid(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return RunLock(folder, fd, previous)
    raise in_use(folder, None)


def holder(folder: Folder) -> tuple[bool, int | None]:
    """Whether a live process holds the folder's lock, and its pid; for readers (predict,
    eval), which neither take the lock nor create the lock file."""
    if fcntl is None:  # pragma: no cover
        return False, None
    try:
        fd = os.open(LOCK_NAME, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0), dir_fd=folder.fd)
    except FileNotFoundError:
        return False, None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise link_refused(folder.path / LOCK_NAME) from None
        return False, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True, _read_pid(fd)
            return False, None
        return False, None
    finally:
        os.close(fd)  # drops the shared lock, if it was taken
