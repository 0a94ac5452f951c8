"""run.folder: a directory path -> a Folder, whose entries are reached through its descriptor.

A run directory is nnspec's alone, so nothing inside it is trusted to be what its name says:
every entry is opened, replaced and removed relative to the folder's open descriptor
(`dir_fd`) with `O_NOFOLLOW` / `lstat`, and a symbolic link inside the folder is refused
(E503 naming it), never followed. Without this, a `checkpoint/` that is a link made the run
write and delete files in the link's target. The folder's own path may be a link, and so may
any of its parents (people point `runs/` at a bigger disk): that path is the user's choice.

Writes are atomic as in run/atomic.py: a `.tmp-<name>-*` file in the same folder, flushed,
fsynced, then renamed over `<name>` (a rename replaces a link, it does not follow it).
"""

from __future__ import annotations

import errno
import io
import json
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nnspec.diagnostics import DiagnosticError, error
from nnspec.run import killpoints
from nnspec.run.atomic import _MODE, _cannot_write, dumps

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def link_refused(path: Path) -> DiagnosticError:
    return DiagnosticError(error(
        "E503", f"`{path}` is a symbolic link; nnspec does not follow links inside a run "
        "directory", path=str(path),
        hints=["remove the link: a run directory holds its own files (the run directory "
               "itself, or a parent of it, may be a link)"]))


def not_a_file(path: Path, what: str) -> DiagnosticError:
    return DiagnosticError(error(
        "E503", f"`{path}` is {what}, where nnspec keeps a file of its own", path=str(path),
        hints=["move it away, or pick another --out"]))


class Folder:
    """An open directory. `path` is for messages; every operation goes through `fd`."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], create: bool = False) -> Folder:
        """The folder at `path` (links in the path itself followed); created with its
        parents when `create`. Raises OSError as os.open does."""
        p = Path(path)
        if create:
            p.mkdir(parents=True, exist_ok=True)
        return cls(p, os.open(p, os.O_RDONLY | _DIRECTORY | _CLOEXEC))

    def sub(self, name: str, create: bool = False) -> Folder | None:
        """The subfolder `name` (None when absent and not `create`); a link is refused."""
        if create:
            try:
                os.mkdir(name, 0o777, dir_fd=self.fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise _cannot_write(self.path / name, exc) from exc
        try:
            fd = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._refuse_odd(name, exc)
            raise
        return Folder(self.path / name, fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:  # a safety net; RunDir closes its folders itself
        try:
            self.close()
        except OSError:
            pass

    # -- looking --------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(os.listdir(self.fd))

    def kind(self, name: str) -> str | None:
        """'file', 'dir', 'link' or 'other' (lstat: a link is not followed); None if absent."""
        try:
            mode = os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(mode):
            return "link"
        if stat.S_ISREG(mode):
            return "file"
        return "dir" if stat.S_ISDIR(mode) else "other"

    def exists(self, name: str) -> bool:
        return self.kind(name) is not None

    def _refuse_odd(self, name: str, exc: OSError) -> None:
        """Turn the errors of an O_NOFOLLOW open on a link or a non-file into diagnostics."""
        if exc.errno in (errno.ELOOP, errno.EMLINK) or self.kind(name) == "link":
            raise link_refused(self.path / name) from None
        if exc.errno == errno.ENOTDIR:
            raise not_a_file(self.path / name, "not a folder") from None

    # -- reading --------------------------------------------------------------------------

    def open_read(self, name: str) -> BinaryIO:
        """A regular file opened for reading (FileNotFoundError when absent)."""
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            raise
        except OSError as exc:
            self._refuse_odd(name, exc)
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise not_a_file(self.path / name, "not a regular file")
        return os.fdopen(fd, "rb")

    def read_bytes(self, name: str) -> bytes:
        with self.open_read(name) as f:
            return f.read()

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    # -- writing --------------------------------------------------------------------------

    def write_with(self, name: str, fill: Callable[[BinaryIO], None]) -> Path:
        """Call `fill(f)` on a new temporary file in this folder, then rename it to `name`."""
        target = self.path / name
        tmp = f".tmp-{name}-{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC,
                         _MODE, dir_fd=self.fd)
        except OSError as exc:
            raise _cannot_write(target, exc) from exc
        try:
            with os.fdopen(fd, "wb") as f:
                fill(f)
                f.flush()
                os.fsync(f.fileno())
            killpoints.reached(f"write:{name}")
            if self.kind(name) not in (None, "file"):
                raise not_a_file(target, "not a regular file")
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException as exc:
            try:
                os.unlink(tmp, dir_fd=self.fd)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise _cannot_write(target, exc) from exc
            raise
        return target

    def write_bytes(self, name: str, data: bytes) -> Path:
        def fill(f: BinaryIO) -> None:
            f.write(data)

        return self.write_with(name, fill)

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def write_json(self, name: str, obj: Any) -> Path:
        return self.write_text(name, dumps(obj, indent=2) + "\n")

    def write_npz(self, name: str, arrays: Mapping[str, np.ndarray]) -> Path:
        def fill(f: BinaryIO) -> None:
            np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]

        return self.write_with(name, fill)

    def open_append(self, name: str) -> io.TextIOWrapper:
        """A text file opened for appending (created if absent); a link is refused."""
        try:
            fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC,
                         _MODE, dir_fd=self.fd)
        except OSError as exc:
            self._refuse_odd(name, exc)
            raise _cannot_write(self.path / name, exc) from exc
        return open(fd, "a", encoding="utf-8", newline="")  # noqa: SIM115

    # -- removing -------------------------------------------------------------------------

    def remove(self, name: str) -> bool:
        """Remove the regular file `name`; False when absent. A link or a folder in its place
        is refused, so nothing but a file of this folder is ever deleted."""
        kind = self.kind(name)
        if kind is None:
            return False
        if kind == "link":
            raise link_refused(self.path / name)
        if kind != "file":
            raise not_a_file(self.path / name, "not a regular file")
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True

    def rmdir(self, name: str) -> bool:
        """Remove the subfolder `name` if it is empty; True when removed."""
        try:
            os.rmdir(name, dir_fd=self.fd)
        except OSError:
            return False
        return True


def read_json(folder: Folder, name: str) -> Any:
    return json.loads(folder.read_text(name))
