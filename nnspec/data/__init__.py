"""data: ir.Data -> Dataset (read files or generate, encode targets, split, scale).

The public API (everything else in this package is internal):

    load_data(data, *, spec_dir, seed, n_inputs, n_outputs, task, dtype=np.float32,
              spec_path=None) -> Dataset
    load_spec_data(spec, *, spec_dir=None, spec_path=None, dtype=None) -> Dataset
    task_of(spec) -> "regression" | "binary" | "multiclass"
    load_features(path, schema, *, dtype=np.float32, header=None, delimiter=None) -> Features
    generate(source, seed) -> Table            (a built-in generator's raw samples)
    Scaler.fit / .apply / .to_dict / .from_dict

`Dataset`: train / val / test `Part`s (x: (N, F) dtype, y: (N, K) float or int64 (N,)
class indices for multiclass, rows: source row indices), `scaler`, `classes`, `feature_names`,
`target_names`, `files` (sha256 of each file read), `hashes`, `schema()` (save it in the run
directory for `load_features`), `manifest()`, `summary()`, `warnings` (W105 diagnostics).
Bad data raises `nnspec.diagnostics.DiagnosticError` (E305, E401-E406, E409, E412-E415).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Attributes are imported on first use (PEP 562), so that `nnspec.data.files` (what `check`
# and the language server use to refuse a FIFO as a data path) does not import NumPy.
_WHERE = {"TASKS": "dataset", "Dataset": "dataset", "FileInfo": "dataset", "Part": "dataset",
          "Table": "dataset", "Features": "features", "load_features": "features",
          "generate": "generators", "load_data": "load", "load_spec_data": "load",
          "n_outputs_of": "load", "read_source": "load", "task_of": "load",
          "Scaler": "scaling"}

if TYPE_CHECKING:
    from nnspec.data.dataset import TASKS, Dataset, FileInfo, Part, Table
    from nnspec.data.features import Features, load_features
    from nnspec.data.generators import generate
    from nnspec.data.load import load_data, load_spec_data, n_outputs_of, read_source, task_of
    from nnspec.data.scaling import Scaler

__all__ = ["TASKS", "Dataset", "Features", "FileInfo", "Part", "Scaler", "Table", "generate",
           "load_data", "load_features", "load_spec_data", "n_outputs_of", "read_source",
           "task_of"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
