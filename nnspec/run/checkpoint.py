"""run.checkpoint: training state (nested dicts of arrays and plain values) <-> checkpoint/.

A state is a nested dict whose leaves are NumPy arrays or JSON values (numbers, strings,
lists, the Generator's `bit_generator.state`). Arrays go to `checkpoint/state-<tag>.npz`,
everything else to `checkpoint/state.json`, which names its npz and is written LAST: at every
instant `state.json` points at a complete npz, so a crash mid-save leaves the previous
checkpoint loadable. Older npz files are removed once the new json is in place. In a run
folder every file is reached through the folder's descriptor (run/folder.py: `checkpoint/`
as a link is refused, never followed). A damaged checkpoint is an E504 that says so and what
to do, never a reader's own wording ("contains pickled data", "File is not a zip file").
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.diagnostics import DiagnosticError, error
from nnspec.run.folder import Folder

VERSION = 1
_SEP = "/"
_NPZ = re.compile(r"state-[A-Za-z0-9_-]+\.npz\Z")


def _split(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-ready form: arrays moved to `arrays`, non-finite floats (a plateau schedule's
    best = inf, a NaN loss in the history) spelled out so they load back exactly."""
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, dict):
        for key in value:
            assert _SEP not in str(key), key
        return {str(k): _split(v, f"{prefix}{_SEP if prefix else ''}{k}", arrays)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(v, f"{prefix}{_SEP}{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    return value


def _join(plain: Any, arrays: Any) -> Any:
    if isinstance(plain, dict):
        if set(plain) == {"__array__"}:
            return np.array(arrays[plain["__array__"]])
        if set(plain) == {"__float__"}:
            return float(plain["__float__"])
        return {k: _join(v, arrays) for k, v in plain.items()}
    if isinstance(plain, list):
        return [_join(v, arrays) for v in plain]
    return plain


def _open(where: Folder | str | os.PathLike[str], create: bool) -> tuple[Folder, bool]:
    """(folder, whether we opened it and must close it)."""
    if isinstance(where, Folder):
        return where, False
    return Folder.open(where, create=create), True


def save(where: Folder | str | os.PathLike[str], state: dict[str, Any], tag: str) -> Path:
    """Write `state` into the folder (created if a path is given); returns state.json's path."""
    folder, owned = _open(where, create=True)
    try:
        arrays: dict[str, np.ndarray] = {}
        plain = _split(state, "", arrays)
        npz_name = f"state-{tag}.npz"
        folder.write_npz(npz_name, arrays)
        meta = {"version": VERSION, "arrays": npz_name, "state": plain}
        path = folder.write_json("state.json", meta)
        for old in folder.names():
            if _NPZ.match(old) and old != npz_name:
                folder.remove(old)
        return path
    finally:
        if owned:
            folder.close()


def exists(where: Folder) -> bool:
    """Is there a checkpoint (a state.json) in the folder?"""
    return where.kind("state.json") is not None


def prune(where: Folder | str | os.PathLike[str]) -> list[Path]:
    """Remove `state-*.npz` files that state.json does not name (a save interrupted between
    writing its arrays and its json, or between the json and removing the older arrays);
    returns what was removed. Without a state.json no npz can be used: all go."""
    folder, owned = _open(where, create=False)
    try:
        try:
            keep = json.loads(folder.read_text("state.json"))["arrays"]
        except FileNotFoundError:
            keep = None
        except (OSError, ValueError, KeyError, TypeError):
            return []  # a damaged state.json: leave everything for load() to judge
        removed = []
        for old in folder.names():
            if _NPZ.match(old) and old != keep and folder.remove(old):
                removed.append(folder.path / old)
        return removed
    finally:
        if owned:
            folder.close()


def damaged(folder: Folder, what: str) -> DiagnosticError:
    return DiagnosticError(error(
        "E504", f"the checkpoint in `{folder.path}` is damaged: {what}", path=str(folder.path),
        hints=[f"it cannot be resumed from; delete `{folder.path}` and resume again to train "
               "from epoch 0, or start the run over with --overwrite"]))


def load(where: Folder | str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by `save`; a missing or damaged one is an E504 diagnostic
    that says which (never numpy's or zipfile's wording alone)."""
    try:
        folder, owned = _open(where, create=False)
    except OSError:
        where = Path(where)  # type: ignore[arg-type]
        raise DiagnosticError(error(
            "E504", f"no checkpoint in `{where}` (the folder is missing)", path=str(where),
            hints=("resume needs a run directory written with the `checkpoint` artifact",)),
        ) from None
    try:
        return _load(folder)
    finally:
        if owned:
            folder.close()


def _load(folder: Folder) -> dict[str, Any]:
    try:
        text = folder.read_text("state.json")
    except FileNotFoundError:
        raise DiagnosticError(error(
            "E504", f"no checkpoint in `{folder.path}` (state.json is missing)",
            path=str(folder.path),
            hints=("resume needs a run directory written with the `checkpoint` artifact",)),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise damaged(folder, f"state.json cannot be read ({exc})") from None
    try:
        meta = json.loads(text)
        npz_name = meta["arrays"]
        version = meta.get("version")
        plain = meta["state"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise damaged(folder, "state.json is truncated or not a checkpoint's") from None
    if version != VERSION:
        raise DiagnosticError(error(
            "E504", f"the checkpoint in `{folder.path}` has version {version}, this nnspec "
            f"reads version {VERSION}", path=str(folder.path),
            hints=["resume it with the nnspec that wrote it"]))
    if not isinstance(npz_name, str) or not _NPZ.match(npz_name):
        raise damaged(folder, "state.json names no arrays file")
    try:
        with folder.open_read(npz_name) as f, np.load(f, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise damaged(folder, f"`{npz_name}`, which state.json names, is missing") from None
    except DiagnosticError:
        raise
    except Exception:  # noqa: BLE001 - zipfile, numpy and OS errors alike: a broken file
        raise damaged(folder, f"`{npz_name}` is truncated or not an arrays file") from None
    try:
        state = _join(plain, arrays)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise damaged(folder, f"`{npz_name}` lacks arrays that state.json names") from None
    if not isinstance(state, dict) or not {"epoch", "batch", "executable"} <= set(state):
        raise damaged(folder, "state.json lacks the training state")
    return state
