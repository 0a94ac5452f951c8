"""run.checkpoint: training state (nested dicts of arrays and plain values) <-> checkpoint/.

A state is a nested dict whose leaves are NumPy arrays or JSON values (numbers, strings,
lists, the Generator's `bit_generator.state`). Arrays go to `checkpoint/state-<tag>.npz`,
everything else to `checkpoint/state.json`, which names its npz and is written LAST: at every
instant `state.json` points at a complete npz, so a crash mid-save leaves the previous
checkpoint loadable. Older npz files are removed once the new json is in place.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.diagnostics import DiagnosticError, error
from nnspec.run.atomic import write_json, write_npz

VERSION = 1
_SEP = "/"


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


def save(folder: str | os.PathLike[str], state: dict[str, Any], tag: str) -> Path:
    """Write `state` into `folder` (created if needed); returns the path of state.json."""
    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    plain = _split(state, "", arrays)
    npz_name = f"state-{tag}.npz"
    write_npz(folder / npz_name, arrays)
    meta = {"version": VERSION, "arrays": npz_name, "state": plain}
    path = write_json(folder / "state.json", meta)
    for old in folder.glob("state-*.npz"):
        if old.name != npz_name:
            old.unlink(missing_ok=True)
    return path


def prune(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove `state-*.npz` files that state.json does not name (a save interrupted between
    writing its json and removing the older arrays); returns what was removed."""
    folder = Path(folder)
    try:
        keep = json.loads((folder / "state.json").read_text(encoding="utf-8"))["arrays"]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # nothing trustworthy names an npz: leave everything for load() to judge
    removed = []
    for old in folder.glob("state-*.npz"):
        if old.name != keep:
            old.unlink(missing_ok=True)
            removed.append(old)
    return removed


def load(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by `save`; a missing or broken one is an E504 diagnostic."""
    folder = Path(folder)
    meta_path = folder / "state.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("version") != VERSION:
            raise ValueError(f"checkpoint version {meta.get('version')}, expected {VERSION}")
        with np.load(folder / meta["arrays"], allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        return _join(meta["state"], arrays)
    except FileNotFoundError as exc:
        raise DiagnosticError(error(
            "E504", f"no checkpoint in `{folder}` ({Path(exc.filename or meta_path).name} "
            "is missing)", path=str(folder),
            hints=("resume needs a run directory written with the `checkpoint` artifact",)),
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DiagnosticError(error("E504", f"cannot read the checkpoint in `{folder}`: {exc}",
                                    path=str(folder))) from exc
