"""Start-up cost: each command imports only what it needs (checked in a fresh interpreter).

`nnspec check` never imports NumPy, Numba, SciPy, matplotlib or Pillow (NumPy only to read a
csv or npz data file: tests/data/test_check_reads_data.py); `nnspec run` imports Pillow only
when the curves are drawn, and never matplotlib; nor the `scipy.linalg` package (Numba's BLAS
module is loaded on its own: backends.cpu.blas), rich when nothing is drawn live, or the CUDA
backend on a machine with no NVIDIA driver; and a run whose kernels are in Numba's cache
does not refresh Numba's target context (backends.cpu.jit._load_without_refresh: the
registries of every Numba feature, ~0.2 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "numba", "scipy", "matplotlib", "PIL", "scipy.linalg", "rich", "numba.cuda",
         "nnspec.backends.cuda")
# imported by Numba's target-context refresh (numba/core/cpu.py), by nothing a run calls
REFRESH = ("numba.np.random.generator_methods", "numba.typed.typeddict", "numba.np.npdatetime")

SPEC = """model m {{
    input 2
    dense 4 tanh
    dense 1 sigmoid
}}
data {{
    source moons(samples=40)
}}
train {{
    loss binary_crossentropy
    epochs 1
}}
output {{ artifacts {artifacts} }}
"""


def loaded_after(argv: list[str], cwd: Path) -> tuple[int, list[str]]:
    code = (f"import json, sys\nfrom nnspec.cli import main\nrc = main({argv!r})\n"
            f"print(json.dumps([rc, sorted(m for m in {HEAVY + REFRESH!r} "
            f"if m in sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                         timeout=300)
    assert out.returncode == 0, out.stderr
    rc, modules = json.loads(out.stdout.strip().splitlines()[-1])
    return rc, modules


def test_check_imports_nothing_heavy(tmp_path):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC.format(artifacts="weights"))
    assert loaded_after(["check", str(spec)], tmp_path) == (0, [])


@pytest.mark.parametrize("artifacts, plots", [("weights, history", False),
                                              ("weights, curves", True)])
def test_run_imports_pillow_only_to_draw(tmp_path, artifacts, plots):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC.format(artifacts=artifacts))
    rc, modules = loaded_after(["run", str(spec), "--out", str(tmp_path / "r"), "-q"], tmp_path)
    assert rc == 0 and "numpy" in modules
    assert ("PIL" in modules) == plots and "matplotlib" not in modules
    # the BLAS module the engine calls is there, its package's __init__ is not; no live view
    assert "scipy" in modules and "scipy.linalg" not in modules and "rich" not in modules


def test_run_skips_the_cuda_probe_without_a_driver(tmp_path):
    from nnspec.run.session import _no_driver

    if not _no_driver():
        pytest.skip("this machine may have an NVIDIA driver: the probe must run")
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC.format(artifacts="weights"))  # device auto (the default)
    rc, modules = loaded_after(["run", str(spec), "--out", str(tmp_path / "r"), "-q"], tmp_path)
    assert rc == 0 and "numba.cuda" not in modules and "nnspec.backends.cuda" not in modules


def test_a_cached_engine_loads_without_refreshing_numba(tmp_path):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC.format(artifacts="weights"))
    argv = ["run", str(spec), "--out", str(tmp_path / "r"), "-q", "--overwrite"]
    loaded_after(argv, tmp_path)  # compiles the engine if this installation has not yet
    rc, modules = loaded_after(argv, tmp_path)
    assert rc == 0 and "numba" in modules
    assert not set(REFRESH) & set(modules), modules
