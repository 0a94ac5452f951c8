"""weights: flat parameters <-> `.npz` files with PyTorch state_dict names.

Keys are `layers.<i>.weight` (dense: (out, in), batchnorm: gamma), `layers.<i>.bias`,
`layers.<i>.running_mean` and `layers.<i>.running_var` (batchnorm), i = the zero-based
position among the model's layer statements (lower/plan.py `tensors`), so
`torch.nn.Module.load_state_dict({k: torch.from_numpy(v) ...}, strict=False)` of a
`layers = nn.ModuleList/Sequential` model reads them, and a state_dict saved from such a
model loads here (its batchnorm `num_batches_tracked` entries are accepted and ignored).

Writes are atomic (a temporary file in the same folder, then os.replace), so an interrupted
run never leaves a half-written file. Loading for `init from` checks every key and shape
and reports each mismatch as an E410 diagnostic naming the layer, at its span.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from typing import BinaryIO

import numpy as np

from nnspec.diagnostics import Diagnostic, DiagnosticError, Span, error
from nnspec.lower.init import init_buffers
from nnspec.lower.plan import BATCHNORM, Plan

IGNORED_SUFFIX = ".num_batches_tracked"  # PyTorch batchnorm bookkeeping, not needed here


def named_tensors(plan: Plan, params: np.ndarray, buffers: np.ndarray) -> dict[str, np.ndarray]:
    """{key: array of the slot's shape} (copies) from the flat buffers."""
    out: dict[str, np.ndarray] = {}
    for slot in plan.tensors:
        src = params if slot.buffer == "params" else buffers
        out[slot.key] = np.array(src[slot.offset:slot.offset + slot.size]).reshape(slot.shape)
    return out


def save(path: str | os.PathLike[str], plan: Plan, params: np.ndarray,
         buffers: np.ndarray | None = None) -> None:
    """Write the model's tensors to `path` (.npz, uncompressed), atomically."""
    if buffers is None:
        buffers = init_buffers(plan)
    arrays = named_tensors(plan, np.asarray(params), np.asarray(buffers))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".weights-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_executable(path: str | os.PathLike[str], exe: object) -> None:
    """save() of an Executable's current parameters and running statistics."""
    save(path, exe.plan, exe.get_params(), exe.get_buffers())  # type: ignore[attr-defined]


def _layer_span(plan: Plan, layer: int) -> Span | None:
    return plan.layers[layer].span if 0 <= layer < len(plan.layers) else None


def load(path: str | os.PathLike[str], plan: Plan, span: Span | None = None, *,
         opened: BinaryIO | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(params, buffers) as float64 flat arrays from an .npz that fits `plan` exactly
    (read from `opened` when given, a file opened for it; `path` then only names it).

    Raises DiagnosticError E410 listing every missing key, unexpected key and wrong shape
    (each at the span of the layer it concerns; `span`, e.g. the `init from` statement, for
    problems with the file as a whole)."""
    path = os.fspath(path)
    spec_path = plan.spec_path
    try:
        with np.load(opened if opened is not None else path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except FileNotFoundError:
        raise DiagnosticError(error("E410", f"weights file `{path}` not found", span,
                                    path=spec_path)) from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DiagnosticError(error("E410", f"cannot read weights file `{path}`: {exc}", span,
                                    hints=["expected an .npz written by nnspec or numpy.savez"],
                                    path=spec_path)) from None

    diags: list[Diagnostic] = []
    params = np.zeros(plan.n_params)
    buffers = np.zeros(plan.n_buffers)
    for slot in plan.tensors:
        layer = plan.layers[slot.layer]
        if slot.key not in arrays:
            diags.append(error(
                "E410", f"`{path}` has no `{slot.key}` for {layer.label}",
                layer.span, label=f"needs `{slot.key}` {slot.shape}", path=spec_path))
            continue
        value = arrays.pop(slot.key)
        if value.shape != slot.shape:
            diags.append(error(
                "E410", f"`{slot.key}` in `{path}` has shape {value.shape}; {layer.label} "
                f"needs {slot.shape}", layer.span, label=f"expects {slot.shape}", path=spec_path,
                notes=["dense weights are stored (out_features, in_features), as PyTorch"]))
            continue
        if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
            diags.append(error("E410", f"`{slot.key}` in `{path}` is not numeric "
                               f"({value.dtype})", layer.span, path=spec_path))
            continue
        dst = params if slot.buffer == "params" else buffers
        dst[slot.offset:slot.offset + slot.size] = value.astype(np.float64).ravel()
    for key in sorted(arrays):
        layer_index = _layer_index(key)
        if key.endswith(IGNORED_SUFFIX) and layer_index is not None and \
                layer_index < len(plan.layers) and plan.layers[layer_index].kind == BATCHNORM:
            continue
        known = ", ".join(s.key for s in plan.tensors) or "none"
        diags.append(error("E410", f"`{path}` has `{key}`, which the model does not have",
                           _layer_span(plan, layer_index) if layer_index is not None else span,
                           notes=[f"the model's tensors: {known}"], path=spec_path))
    if diags:
        raise DiagnosticError(diags)
    return params, buffers


def load_into(exe: object, path: str | os.PathLike[str], span: Span | None = None, *,
              opened: BinaryIO | None = None) -> None:
    """load() into an Executable (parameters and running statistics; moments untouched)."""
    params, buffers = load(path, exe.plan, span, opened=opened)  # type: ignore[attr-defined]
    exe.set_params(params)  # type: ignore[attr-defined]
    exe.set_buffers(buffers)  # type: ignore[attr-defined]


def _layer_index(key: str) -> int | None:
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "layers" and parts[1].isdigit():
        return int(parts[1])
    return None
