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
Bad data raises `nnspec.diagnostics.DiagnosticError` (E305, E401-E406, E409, E412, E413).
"""

from nnspec.data.dataset import TASKS, Dataset, FileInfo, Part, Table
from nnspec.data.features import Features, load_features
from nnspec.data.generators import generate
from nnspec.data.load import load_data, load_spec_data, n_outputs_of, read_source, task_of
from nnspec.data.scaling import Scaler

__all__ = ["TASKS", "Dataset", "Features", "FileInfo", "Part", "Scaler", "Table", "generate",
           "load_data", "load_features", "load_spec_data", "n_outputs_of", "read_source",
           "task_of"]
