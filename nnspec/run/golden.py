"""run.golden: a spec -> a short training summary, compared with tests/golden/<name>.json.

`nnspec golden SPEC` trains the spec with its own seed for the first few epochs (default 3:
the run is cut short, the spec itself is unchanged, so schedules run as in the full run) on
the CPU and summarises it: the history rows (without times), the final metrics and a digest
of the weights per tensor (shape, sum, L2 norm, max |w| and the first values). Numbers are
stored rounded to 7 significant digits. A spec with a layer the cpu engine has no kernel for
(conv and pooling, until they land) is trained on the reference backend instead, in the
spec's dtype.

Comparison: keys, epochs and shapes must match exactly; every number must satisfy
|actual - expected| <= atol + rtol * |expected| with rtol = 1e-4, atol = 1e-6 (float32
training on another machine or BLAS differs in the last bits, which this tolerance absorbs;
a changed formula, default or seed moves values by far more). `--update` rewrites the file;
its diff is the review.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.run.atomic import dumps, write_text

RTOL, ATOL = 1e-4, 1e-6
HEAD = 4  # leading values of each tensor kept in the digest


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.7g}") if math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_round(x) for x in v]
    return v


def weights_digest(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    out = {}
    for key in sorted(arrays):
        a = np.asarray(arrays[key], dtype=np.float64)
        flat = a.reshape(-1)
        out[key] = {"shape": list(a.shape), "sum": float(flat.sum()),
                    "l2": float(np.sqrt((flat**2).sum())),
                    "absmax": float(np.abs(flat).max()) if flat.size else 0.0,
                    "head": [float(v) for v in flat[:HEAD]]}
    return out


def summarize(spec_path: str | Path, epochs: int = 3, sources: dict[str, str] | None = None
              ) -> dict[str, Any]:
    """Train the first `epochs` epochs of the spec (CPU, its seed) and summarise the run."""
    from nnspec.backends import missing_kernels
    from nnspec.lower import lower
    from nnspec.pipeline import train_spec
    from nnspec.run.restore import weights_of
    from nnspec.run.session import load

    spec = load(spec_path, sources if sources is not None else {}).spec
    backend = "reference" if missing_kernels(lower(spec), "cpu") else "cpu"
    result, exe = train_spec(spec, backend, epochs=min(epochs, spec.train.epochs))
    history = [{k: v for k, v in row.items() if k != "time"} for row in result.history]
    return _round({
        "spec": Path(spec_path).name, "epochs": result.epochs_run, "seed": spec.train.seed,
        "dtype": spec.train.dtype, "tolerance": {"rtol": RTOL, "atol": ATOL},
        "status": result.status, "history": history, "metrics": result.metrics,
        "weights": weights_digest(weights_of(exe))})


def compare(actual: Any, expected: Any, where: str = "", rtol: float = RTOL,
            atol: float = ATOL) -> list[str]:
    """Every difference, as `path: expected X, got Y` lines (empty when they agree)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            here = f"{where}.{key}" if where else key
            if key not in actual:
                out.append(f"{here}: missing")
            elif key not in expected:
                out.append(f"{here}: not in the golden file")
            elif key != "tolerance":
                out += compare(actual[key], expected[key], here, rtol, atol)
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: expected {len(expected)} items, got {len(actual)}"]
        return [d for i, (a, e) in enumerate(zip(actual, expected, strict=True))
                for d in compare(a, e, f"{where}[{i}]", rtol, atol)]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers) \
            and not isinstance(expected, bool) and not isinstance(actual, bool):
        a, e = float(actual), float(expected)
        if (math.isnan(a) and math.isnan(e)) or a == e:
            return []
        if math.isfinite(a) and math.isfinite(e) and abs(a - e) <= atol + rtol * abs(e):
            return []
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    if actual != expected:
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


def golden_path(spec_path: str | Path, folder: str | Path) -> Path:
    return Path(folder) / f"{Path(spec_path).stem}.json"


def write_golden(path: Path, summary: dict[str, Any]) -> None:
    write_text(path, dumps(summary, indent=2) + "\n")
