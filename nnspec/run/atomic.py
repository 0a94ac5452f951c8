"""run.atomic: bytes | text | JSON | arrays -> a file that is either the old one or the new one.

Every artifact of a run directory is written through here: the content goes to a temporary
file in the same folder (same file system, so the rename is atomic), is flushed and fsynced,
then `os.replace`d over the target. A crash or Ctrl-C mid-write leaves the previous file intact
and at worst a stray `.tmp-*` file, never a truncated artifact.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nnspec.diagnostics import DiagnosticError, error


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by the owner only; artifacts get the usual permissions.
_MODE = 0o666 & ~_umask()


def _cannot_write(path: Path, exc: OSError) -> DiagnosticError:
    return DiagnosticError(error(
        "E503", f"cannot write `{path}`: {exc.strerror or exc}", path=str(path),
        hints=("check that the folder is writable and the disk is not full",)))


def write_with(path: str | os.PathLike[str], fill: Callable[[BinaryIO], None]) -> Path:
    """Call `fill(f)` on a temporary binary file next to `path`, then rename it over `path`."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".tmp-{target.name}-")
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    try:
        os.chmod(tmp, _MODE)
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        # Anything (an exception in fill, KeyboardInterrupt, a full disk): drop the temp file
        # so the old artifact stays the only one.
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc) from exc
        raise
    return target


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    def fill(f: BinaryIO) -> None:
        f.write(data)

    return write_with(path, fill)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, dumps(obj, indent=2) + "\n")


def dumps(obj: Any, indent: int | None = None) -> str:
    """Strict JSON: NaN and infinities (a diverged loss) become null, which every parser reads."""
    return json.dumps(finite(obj), indent=indent, default=_jsonable, allow_nan=False)


def finite(obj: Any) -> Any:
    """A copy of `obj` with non-finite floats replaced by None."""
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> Path:
    # np.savez appends ".npz" to plain names, so serialise into memory first.
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
    return write_bytes(path, buf.getvalue())


def _jsonable(obj: Any) -> Any:
    """json.dumps fallback for NumPy scalars and arrays, which history rows may hold."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
