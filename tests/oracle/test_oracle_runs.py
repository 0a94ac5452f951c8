"""oracle: .nn text -> whole nnspec training runs (train loop + backend) checked against
PyTorch doing the same run from the same initial weights.

Every case of oracle_cases.CASES is parsed and checked (pipeline.diagnose), lowered, compiled
by a backend and trained by train.loop.train (shuffle off); torch_oracle.run trains torch
modules from the executable's initial parameters on the same data. Compared: the lr of every
epoch, the per-epoch losses (backends/base.py's definition), the final parameters and the
batchnorm running statistics.

float64: rtol 1e-6 (atol 1e-12 for values near zero) for both backends; measured, both agree
with torch to ~1e-13 relative (worst: deep-mixed, 1.3e-12 on a parameter near zero).
float32 (cpu backend only, the FLOAT32 subset, against torch float32 from the same float32
weights): rtol 1e-5, atol 1e-6; measured: per-epoch losses within 1.1e-7 relative (about one
ulp), parameters within 1.8e-7 and running statistics within 7.2e-7 absolute.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pytest

from nnspec.diagnostics import render
from nnspec.lower import lower
from nnspec.lower.plan import L_CCE
from nnspec.pipeline import diagnose
from nnspec.train.loop import train

torch = pytest.importorskip("torch")
import torch_oracle  # noqa: E402
from oracle_cases import CASES, FLOAT32  # noqa: E402

pytestmark = pytest.mark.torch

BACKENDS = {"reference": "nnspec.backends.reference", "cpu": "nnspec.backends.cpu"}
F64_RTOL, F64_ATOL = 1e-6, 1e-12
# float32: ~5x the worst difference measured (module docstring); the cpu engine's float32
# tanh/sigmoid approximations and BLAS summation order are what differ from torch.
F32_RTOL, F32_ATOL = 1e-5, 1e-6
BY_ID = {c.id: c for c in CASES}


@pytest.fixture(scope="module", autouse=True)
def _torch_threads():
    # Tiny tensors: threads only add overhead, and the machine's 2 cores are shared.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _spec(case, dtype):
    text = case.text(dtype)
    spec, diagnostics = diagnose(text, "oracle.nn")
    assert spec is not None, "\n".join(render(d, text) for d in diagnostics)
    return spec


def _runs(case, backend, dtype):
    """(nnspec history, final params, final buffers, torch run) for one case."""
    spec = _spec(case, dtype)
    plan = lower(spec)
    from nnspec.backends import GRAPHS, missing_kernels

    if not plan.is_chain and backend not in GRAPHS:
        pytest.skip(f"the {backend} backend does not run graphs yet (E506)")
    missing = sorted({n.kind_name for n in missing_kernels(plan, backend)})
    if missing:
        pytest.skip(f"the {backend} backend has no kernels for {', '.join(missing)} yet (E506)")
    exe = importlib.import_module(BACKENDS[backend]).compile(plan)
    params0, buffers0 = exe.get_params(), exe.get_buffers()
    x, y = case.data()
    data = SimpleNamespace(train=SimpleNamespace(x=x, y=y), val=None, test=None)
    result = train(exe.plan, data, exe)
    assert result.status == "completed", result.diagnostics
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    ty = y if plan.loss == L_CCE else y.reshape(len(y), -1)
    ref = torch_oracle.run(torch, spec, plan, params0, buffers0, x, ty, tdtype)
    return result.history, exe.get_params(), exe.get_buffers(), ref


def _compare(history, params, buffers, ref, rtol, atol):
    assert len(history) == len(ref.losses)
    np.testing.assert_allclose([r["lr"] for r in history], ref.lrs, rtol=1e-12, atol=0,
                               err_msg="learning rate per epoch")
    np.testing.assert_allclose([r["loss"] for r in history], ref.losses, rtol=rtol, atol=atol,
                               err_msg="per-epoch loss")
    np.testing.assert_allclose(params, ref.params, rtol=rtol, atol=atol,
                               err_msg="final parameters")
    np.testing.assert_allclose(buffers, ref.buffers, rtol=rtol, atol=atol,
                               err_msg="batchnorm running statistics")


@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_float64_run_matches_torch(case, backend):
    history, params, buffers, ref = _runs(case, backend, "float64")
    _compare(history, params, buffers, ref, F64_RTOL, F64_ATOL)


@pytest.mark.parametrize("case_id", FLOAT32)
def test_float32_run_matches_torch(case_id):
    history, params, buffers, ref = _runs(BY_ID[case_id], "cpu", "float32")
    assert params.dtype == np.float32
    _compare(history, params, buffers, ref, F32_RTOL, F32_ATOL)


def test_cases_train_something():
    """The matrix is not vacuous: every case moves its weights and the runs differ."""
    seen = set()
    for case in CASES:
        spec = _spec(case, "float64")
        plan = lower(spec)
        x, y = case.data()
        ty = y if plan.loss == L_CCE else y.reshape(len(y), -1)
        from nnspec.backends.base import init_rng
        from nnspec.lower import init_buffers, init_params

        p0 = init_params(plan, init_rng(plan.seed))
        ref = torch_oracle.run(torch, spec, plan, p0, init_buffers(plan), x, ty, torch.float64)
        assert np.max(np.abs(ref.params - p0)) > 1e-4, case.id
        key = (round(float(ref.losses[-1]), 10), ref.params.size)
        assert key not in seen, f"{case.id} repeats another case's run"
        seen.add(key)
