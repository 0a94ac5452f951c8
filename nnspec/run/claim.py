"""run.claim: an --out path (or a run folder to resume) -> that folder, judged and locked.

A run writes only into a folder that is absent, empty, or a run directory of nnspec's,
recognised by the manifest's `format` field ({"name": "nnspec-run", "version": 2}), which no
other tool writes. Anything else is refused by name and left untouched. The table of what a
rerun and a `--resume` do for each manifest status is in docs/runs.md; in short, a rerun
into a run folder needs `--overwrite` when the folder holds a completed run or a checkpoint
(training that would be lost), and then deletes nnspec's own files, by name, and nothing else.

The order matters: a folder is judged before anything is written into it (a foreign folder
gets no lock file), then locked (run/lock.py), then judged again under the lock, since
another run may have finished in it meanwhile. A new default folder is made with `mkdir`,
which fails when the name is taken, and the next suffix is tried: two runs started in the
same second get two folders.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nnspec.diagnostics import Diagnostic, DiagnosticError, error, warning
from nnspec.run.folder import Folder, link_refused
from nnspec.run.lock import LOCK_NAME, RunLock, acquire

FORMAT_NAME, FORMAT_VERSION = "nnspec-run", 2
FORMAT: dict[str, Any] = {"name": FORMAT_NAME, "version": FORMAT_VERSION}
CHECKPOINT_DIR = "checkpoint"
# Every file nnspec writes into a run folder: a rerun deletes these (and only these).
OWN_FILES = ("manifest.json", "spec.nn", "data.json", "history.csv", "history.json",
             "metrics.json", "weights.npz", "curves.png", "trajectory.bin", "trajectory.npz",
             "landscape.png")
CHECKPOINT_FILES = ("state.json", "history.csv")
_STATE_NPZ = re.compile(r"state-[A-Za-z0-9_-]+\.npz\Z")
_TEMP = re.compile(r"\.tmp-(.+)-[0-9a-z_]+\Z")


def is_checkpoint_file(name: str) -> bool:
    return name in CHECKPOINT_FILES or bool(_STATE_NPZ.match(name))


def is_own_temp(name: str) -> bool:
    """A temporary file of an atomic write of ours (`.tmp-<our file>-<random>`)."""
    m = _TEMP.match(name)
    return m is not None and (m.group(1) in OWN_FILES or is_checkpoint_file(m.group(1)))


@dataclass
class Found:
    """What a folder holds: kind is empty | run | old | newer | foreign."""

    kind: str
    manifest: dict[str, Any] = field(default_factory=dict)
    checkpoint_epoch: int | None = None  # the epoch of checkpoint/state.json, if there is one
    strangers: list[str] = field(default_factory=list)  # entries that are not nnspec's

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))


def manifest_kind(manifest: Any) -> str:
    """run | old | newer | foreign: whose manifest this is (the `format` field)."""
    if not isinstance(manifest, dict):
        return "foreign"
    fmt = manifest.get("format")
    if isinstance(fmt, dict) and fmt.get("name") == FORMAT_NAME:
        version = fmt.get("version")
        if version == FORMAT_VERSION:
            return "run"
        return "newer" if isinstance(version, int) and version > FORMAT_VERSION else "old"
    # written before the format field: nnspec's version, its command and a status
    if isinstance(manifest.get("nnspec"), str) and "status" in manifest:
        return "old"
    return "foreign"


def inspect(folder: Folder) -> Found:
    """Judge a folder without changing it."""
    names = [n for n in folder.names() if n != LOCK_NAME and not is_own_temp(n)]
    if not names:
        return Found("empty")
    if folder.kind("manifest.json") != "file":
        return Found("foreign", strangers=names)
    try:
        manifest = json.loads(folder.read_text("manifest.json"))
    except (OSError, ValueError):
        return Found("foreign", strangers=names)
    kind = manifest_kind(manifest)
    if kind == "foreign":
        return Found(kind, strangers=names)
    for name in (*OWN_FILES, CHECKPOINT_DIR):
        if folder.kind(name) == "link":
            raise link_refused(folder.path / name)
    found = Found(kind, manifest, strangers=[n for n in names if n not in OWN_FILES
                                             and n != CHECKPOINT_DIR])
    ckpt = folder.sub(CHECKPOINT_DIR)
    if ckpt is not None:
        try:
            if ckpt.kind("state.json") == "file":
                try:
                    found.checkpoint_epoch = int(json.loads(
                        ckpt.read_text("state.json"))["state"]["epoch"])
                except (OSError, ValueError, KeyError, TypeError):
                    found.checkpoint_epoch = -1  # there, but damaged: still training to keep
        finally:
            ckpt.close()
    return found


def _listing(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:4])
    return shown + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _refuse_new(path: Path, found: Found, overwrite: bool) -> None:
    """Raise unless a new run may use a folder holding `found`."""
    if found.kind == "empty":
        return
    if found.kind == "foreign":
        raise DiagnosticError(error(
            "E503", f"`{path}` is not empty and is not an nnspec run directory (it holds "
            f"{_listing(found.strangers)})", path=str(path),
            hints=["pick another --out (absent or empty); nnspec never writes into a folder "
                   "it did not make"]))
    if found.kind in ("old", "newer"):
        which = "an older" if found.kind == "old" else "a newer"
        raise DiagnosticError(error(
            "E503", f"`{path}` holds a run written by {which} nnspec", path=str(path),
            hints=[f"continue it with `nnspec run --resume {path}`, or pick another --out"
                   if found.kind == "old" else "pick another --out"]))
    if overwrite:
        return
    if found.status == "completed":
        raise DiagnosticError(error(
            "E503", f"`{path}` already holds a completed run", path=str(path),
            hints=[f"extend it with `nnspec run --resume {path} --epochs N`, replace it with "
                   "--overwrite, or pick another --out"]))
    if found.checkpoint_epoch is not None:
        epochs = found.manifest.get("epochs")
        at = (f"epoch {found.checkpoint_epoch} of {epochs}" if found.checkpoint_epoch >= 0
              else "a checkpoint")
        raise DiagnosticError(error(
            "E503", f"`{path}` already holds a run (status {found.status}) with a checkpoint "
            f"at {at}", path=str(path),
            hints=[f"continue it with `nnspec run --resume {path}`, start it over with "
                   "--overwrite, or pick another --out"]))


def clear(folder: Folder) -> None:
    """Delete nnspec's own files, by name (a rerun starts from an empty folder)."""
    ckpt = folder.sub(CHECKPOINT_DIR)
    if ckpt is not None:
        try:
            for name in ckpt.names():
                if is_checkpoint_file(name) or is_own_temp(name):
                    ckpt.remove(name)
        finally:
            ckpt.close()
        folder.rmdir(CHECKPOINT_DIR)
    for name in folder.names():
        if name in OWN_FILES or is_own_temp(name):
            folder.remove(name)


def _mkdir_new(base: Path) -> Path:
    """mkdir base, base-2, base-3...: the first that did not exist (made, not checked)."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10000):
        path = base if i == 1 else base.with_name(f"{base.name}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(str(base))


def default_dir(model_name: str, root: str | os.PathLike[str] = "runs") -> Path:
    """runs/<model>-<YYYYmmdd-HHMMSS> (-2, -3... if that second is taken), made here."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return _mkdir_new(Path(root) / f"{model_name}-{stamp}")


def _cannot_create(path: Path, exc: OSError) -> DiagnosticError:
    return DiagnosticError(error("E503", f"cannot create `{path}`: {exc.strerror or exc}",
                                 path=str(path)))


def _open(path: Path) -> Folder:
    try:
        return Folder.open(path)
    except NotADirectoryError:
        raise DiagnosticError(error(
            "E503", f"`{path}` is a file, not a folder", path=str(path),
            hints=["pick another --out"])) from None
    except OSError as exc:
        raise _cannot_create(path, exc) from exc


def claim_new(path: Path | None, model_name: str, overwrite: bool = False
              ) -> tuple[Folder, RunLock, Found]:
    """The folder for a new run (`path`, or a new runs/<model>-<time>), locked and cleared."""
    try:
        if path is None:
            path = default_dir(model_name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                path.mkdir()
            except FileExistsError:
                pass
    except OSError as exc:
        raise _cannot_create(path or Path("runs"), exc) from exc
    folder = _open(path)
    try:
        _refuse_new(path, inspect(folder), overwrite)  # before anything is written
        lock = acquire(folder)
    except BaseException:
        folder.close()
        raise
    try:
        found = inspect(folder)  # again, under the lock
        _refuse_new(path, found, overwrite)
        clear(folder)
    except BaseException:
        lock.release()
        folder.close()
        raise
    return folder, lock, found


def not_a_run(path: Path, why: str) -> DiagnosticError:
    if _is_spec(path):  # the commonest mix-up: the spec where its run is meant
        return DiagnosticError(error(
            "E504", f"`{path}` is a spec file, not a run directory", path=str(path),
            notes=["eval, predict and --resume work on what a run left: a folder with "
                   "manifest.json and weights.npz"],
            hints=[f"train it with `nnspec run {path}`, then pass the run directory it "
                   "prints (runs/<model>-<time> unless the spec or --out names one)"]))
    return DiagnosticError(error(
        "E504", f"`{path}` is not a run directory ({why})", path=str(path),
        hints=["pass the folder `nnspec run` printed, e.g. runs/<model>-<time>"]))


def _is_spec(path: Path) -> bool:
    """A .nn file, or a file that starts like one (`model NAME {`, after comments)."""
    try:
        if not path.is_file():
            return False
        if path.suffix == ".nn":
            return True
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return False
    lines = [ln.strip() for ln in head.splitlines() if ln.strip() and not
             ln.strip().startswith("#")]
    return bool(lines) and lines[0].startswith("model ") and lines[0].endswith("{")


def claim_resume(path: Path) -> tuple[Folder, RunLock, Found, list[Diagnostic]]:
    """A run folder to resume, locked; W106 when an older nnspec wrote it."""
    try:
        folder = Folder.open(path)
    except FileNotFoundError:
        raise not_a_run(path, "it does not exist") from None
    except NotADirectoryError:
        raise not_a_run(path, "it is a file") from None
    except OSError as exc:
        raise not_a_run(path, exc.strerror or str(exc)) from exc
    try:
        found = inspect(folder)
        _refuse_resume(path, found)
        lock = acquire(folder)
    except BaseException:
        folder.close()
        raise
    try:
        found = inspect(folder)
        _refuse_resume(path, found)
    except BaseException:
        lock.release()
        folder.close()
        raise
    warnings: list[Diagnostic] = []
    if found.kind == "old":
        warnings.append(warning(
            "W106", f"`{path}` was written by an older nnspec (before the run format "
            f"{FORMAT_VERSION}): its spec.nn is resumed without comparing it with the spec "
            "it started with", path=str(path),
            hints=["make sure spec.nn was not edited since the run started"]))
    return folder, lock, found, warnings


def _refuse_resume(path: Path, found: Found) -> None:
    if found.kind == "empty":
        raise not_a_run(path, "no manifest.json")
    if found.kind == "foreign":
        why = ("no manifest.json" if "manifest.json" not in found.strangers
               else "its manifest.json is not nnspec's")
        raise not_a_run(path, why)
    if found.kind == "newer":
        raise DiagnosticError(error(
            "E504", f"`{path}` was written by a newer nnspec (run format "
            f"{found.manifest['format'].get('version')}, this one reads {FORMAT_VERSION})",
            path=str(path), hints=["resume it with the nnspec that started it"]))
