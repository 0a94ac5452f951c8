"""`compile(plan)` starts from the plan's initial weights whoever calls it: with `init from`
the saved weights (a Python caller of compile(lower(spec)) used to get random ones), checked
key by key (E410); `initial_weights=False` leaves the file alone for callers that load
weights of their own next."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnspec.backends import compile as compile_plan
from nnspec.diagnostics import DiagnosticError
from nnspec.lower import lower
from nnspec.pipeline import diagnose
from nnspec.weights import save

SPEC = """model m {{
    input 3
    {init}
    dense 4 tanh
    batchnorm
    dense 1
}}
train {{ loss mse; dtype float64 }}
"""


def _plan(folder: Path, init: str = ""):  # type: ignore[no-untyped-def]
    path = folder / "m.nn"
    path.write_text(SPEC.format(init=init), encoding="utf-8")
    spec, diagnostics = diagnose(path.read_text(), str(path))
    assert spec is not None, diagnostics
    return lower(spec)


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_compile_applies_init_from(tmp_path: Path, backend: str) -> None:
    plain = _plan(tmp_path)
    rng = np.random.default_rng(3)
    params = rng.normal(size=plain.n_params)
    buffers = rng.uniform(0.5, 2.0, size=plain.n_buffers)
    save(tmp_path / "w.npz", plain, params, buffers)
    plan = _plan(tmp_path, 'init from "w.npz"')
    assert plan.init_from == str(tmp_path / "w.npz")
    exe = compile_plan(plan, backend)
    np.testing.assert_array_equal(exe.get_params(), params)
    np.testing.assert_array_equal(exe.get_buffers(), buffers)
    fresh = compile_plan(plan, backend, initial_weights=False)
    np.testing.assert_array_equal(fresh.get_params(), compile_plan(plain, backend).get_params())


def test_a_missing_or_misshapen_file_is_a_diagnostic(tmp_path: Path) -> None:
    plan = _plan(tmp_path, 'init from "w.npz"')
    with pytest.raises(DiagnosticError):
        compile_plan(plan, "reference")
    np.savez(tmp_path / "w.npz", **{"layers.0.weight": np.zeros((2, 2))})
    with pytest.raises(DiagnosticError) as info:
        compile_plan(plan, "reference")
    assert {d.code for d in info.value.diagnostics} == {"E410"}
    compile_plan(plan, "reference", initial_weights=False)  # the file is not read


GRAPH = """model g {
    input 3
    dense 4 tanh
    residual { dense 4 relu }
    dense 1
}
train { loss mse; dtype float64 }
"""


def test_a_backend_that_runs_chains_only_says_so(tmp_path: Path, monkeypatch) -> None:
    """E506 at the first statement that branches, before the backend is even imported. Every
    backend runs graphs now, so cuda is taken out of GRAPHS here to stand for one that runs
    chains only (as it did before it ran graphs)."""
    import os

    from nnspec import backends
    from nnspec.diagnostics import render

    assert set(backends.GRAPHS) == set(backends.BACKENDS)
    monkeypatch.setattr(backends, "GRAPHS", ("reference", "cpu"))
    GRAPHS = backends.GRAPHS

    path = tmp_path / "g.nn"
    path.write_text(GRAPH, encoding="utf-8")
    spec, _ = diagnose(GRAPH, str(path))
    assert spec is not None
    plan = lower(spec)
    assert not plan.is_chain and "reference" in GRAPHS
    compile_plan(plan, "reference")  # runs graphs
    with pytest.raises(DiagnosticError) as info:
        compile_plan(plan, "cuda")
    (d,) = info.value.diagnostics
    assert d.code == "E506" and d.span is not None and d.span.line == 4
    text = render(d, GRAPH).replace(str(path), "g.nn")
    golden = Path(__file__).resolve().parent / "golden" / "E506.stderr"
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        golden.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == golden.read_text(encoding="utf-8")
