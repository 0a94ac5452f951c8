"""run.paths: ir.Spec + (old folder, new folder) -> the Spec with file paths rebased.

A spec's file paths (data sources, `init from`) are relative to the spec's folder. The run
directory keeps a copy of the resolved spec (`spec.nn`) that must work from there (for
`--resume`, and for reading it later), so its paths are rewritten relative to the run folder.
Absolute paths stay as they are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nnspec import ir


def _rebase(p: str, old: Path, new: Path) -> str:
    if os.path.isabs(p):
        return p
    target = os.path.abspath(old / p)
    return Path(os.path.relpath(target, os.path.abspath(new))).as_posix()


def _source(src: Any, old: Path, new: Path) -> Any:
    if src is None or not getattr(src, "is_file", False):
        return src
    return src.model_copy(update={"path": _rebase(src.path, old, new)})


def rebase_paths(spec: ir.Spec, old: str | os.PathLike[str], new: str | os.PathLike[str]
                 ) -> ir.Spec:
    old, new = Path(old), Path(new)
    model = spec.model
    if model.init_from is not None:
        model = model.model_copy(update={"init_from": _rebase(model.init_from, old, new)})
    data = spec.data
    if data is not None:
        data = data.model_copy(update={
            "source": _source(data.source, old, new),
            "validation": _source(data.validation, old, new),
            "test": _source(data.test, old, new)})
    return spec.model_copy(update={"model": model, "data": data})
