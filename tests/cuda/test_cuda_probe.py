"""Device probing and the E501 diagnostic, lazy imports, and real (non-simulated)
compilation of every kernel to PTX."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cuda_helpers import LOSS, SIMULATED, dense, make_plan

from nnspec.backends import cuda as gpu
from nnspec.backends.cuda import probe
from nnspec.diagnostics import DiagnosticError, render

pytestmark = pytest.mark.cuda
ROOT = Path(__file__).resolve().parents[2]


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.skipif(not SIMULATED, reason="a real GPU is present")
def test_the_simulator_is_not_a_gpu():
    ok, why = gpu.cuda_available()
    assert not ok and "NUMBA_ENABLE_CUDASIM" in why
    assert gpu.is_available() is False
    info = gpu.device_info()
    assert info["simulator"] is True and info["name"] == "CUDA simulator"
    from nnspec.run.session import resolve_device

    assert resolve_device("auto") == ("cpu", "cpu")  # device auto never trains on it


def test_device_cuda_without_a_gpu_is_e501(monkeypatch):
    monkeypatch.setattr(probe, "simulator_requested", lambda: False)
    monkeypatch.setattr(probe, "_has_driver", lambda: False)
    probe._probe.cache_clear()
    try:
        assert gpu.cuda_available() == (False, "no NVIDIA driver (libcuda) on this machine")
        assert gpu.device_info()["name"] is None
        plan = make_plan([dense(2)], LOSS["mse"]())
        with pytest.raises(DiagnosticError) as info:
            gpu.compile(plan)
    finally:
        probe._probe.cache_clear()
    (diag,) = info.value.diagnostics
    text = render(diag)
    assert diag.code == "E501" and "error[E501]" in text
    assert "no NVIDIA driver" in text and "--device cpu" in text


def test_numba_cuda_missing_is_a_reason_not_a_crash(monkeypatch):
    monkeypatch.setattr(probe, "_has_numba_cuda", lambda: False)
    probe._probe.cache_clear()
    try:
        ok, why = gpu.cuda_available()
    finally:
        probe._probe.cache_clear()
    assert not ok and "pip install 'nnspec[cuda]'" in why


def test_importing_and_probing_imports_no_cuda_code():
    """What `device auto` does on a machine without a GPU: no numba.cuda import at all."""
    code = ("import sys, nnspec.backends.cuda as c; c.cuda_available(); c.device_info(); "
            "print('numba.cuda' in sys.modules, c.cuda_available()[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_child_env(), timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    if out.stdout.split()[1] == "True":
        pytest.skip("this machine has a GPU: the probe rightly imports numba.cuda")
    assert out.stdout.split()[0] == "False"


def test_every_kernel_compiles_to_ptx():
    """The simulator runs kernels as Python; NVVM catches what only a GPU build would."""
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "cuda" / "cuda_ptx_check.py"),
                          "float32", "float64"], capture_output=True, text=True,
                         env=_child_env(), timeout=600, cwd=ROOT)
    if out.returncode == 3:
        pytest.skip(out.stdout.strip())
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert out.stdout.count(": ok") >= 40
