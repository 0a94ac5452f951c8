"""Issue 18 item 1: one compiled cpu engine per dtype runs every plan (chains, graphs, image
layers, dropout, embeddings, split layers), so that a learner's later specs compile nothing;
and the first run says that it compiles."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cpu_nets import GRAPH_NETS, IMAGE_GRAPH_NETS, NETS
from numba import prange
from plan_nets import OPT, data, make_plan, order

from nnspec.backends import cpu
from nnspec.backends.base import dropout_rng
from nnspec.backends.cpu import engine, executable

KINDS = ["relu-bn-dropout-softmax-cce", "embedding-flatten-tanh-sparse-cce",
         "conv-maxpool-cce", "wide-tanh-relu-bce"]


def _plans(dtype):
    for name in KINDS:
        layers, loss, n_in = NETS[name]
        yield make_plan(layers, loss, n_in=n_in, dtype=dtype, batch=4,
                        optimizer=OPT["adam"](lr=0.01))
    for nets in (GRAPH_NETS, IMAGE_GRAPH_NETS):
        name = next(iter(nets))
        layers, loss, n_in = nets[name][:3]
        yield make_plan(layers, loss, n_in=n_in, dtype=dtype, batch=4)


def _signatures(fn, dtype):
    return [sig for sig in fn.signatures if str(sig[0].dtype) == dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_kind_of_plan_runs_one_compiled_engine(dtype):
    kinds = set()
    for plan in _plans(dtype):
        exe = cpu.compile(plan)
        x, y = data(plan, 10)
        chunk = exe.train_epoch(x, y, order(10), 0.01, 0, 3, dropout_rng(0))
        assert chunk.n_batches == 3 and np.isfinite(chunk.loss_sum)
        loss, out = exe.evaluate_outputs(x, y)
        assert np.isfinite(loss) and out.shape == (10, plan.n_outputs)
        np.testing.assert_array_equal(exe.predict(x), out)
        kinds.add((plan.has_dropout, plan.token_input, bool(plan.outputs[1:]),
                   any(la.kind_name == "conv2d" for la in plan.layers)))
    assert len(kinds) >= 4  # the plans differ in what used to select a compiled variant
    assert len(_signatures(engine.train_chunk, dtype)) == 1
    assert len(_signatures(engine.infer, dtype)) == 1
    assert executable.engine_cached(np.dtype(dtype)) is True  # written to the disk cache


def test_dropout_draws_are_split_across_engine_calls_without_changing_them(monkeypatch):
    layers, loss, n_in = NETS["relu-bn-dropout-softmax-cce"]
    plan = make_plan(layers, loss, n_in=n_in, batch=4)
    x, y = data(plan, 10)
    runs = []
    for limit in (executable.MAX_DRAWS, executable.dropout_draws(plan, 4)):  # 3 calls, 1 each
        monkeypatch.setattr(executable, "MAX_DRAWS", limit)
        exe = cpu.compile(plan)
        rng = dropout_rng(3)
        chunk = exe.train_epoch(x, y, order(10), 0.1, 0, 3, rng)
        runs.append((exe.get_params(), chunk.terms, rng.random()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]  # the Generator advanced by the same draws


def test_the_first_run_says_it_compiles(monkeypatch):
    layers, loss, n_in = NETS["tanh-sigmoid-bce"]
    exe = cpu.compile(make_plan(layers, loss, n_in=n_in, dtype="float32"))
    monkeypatch.setattr(executable, "engine_cached", lambda dtype: False)
    note = exe.compile_notice()
    assert note is not None and "compiling the float32 engine" in note and "once" in note
    monkeypatch.setattr(executable, "engine_cached", lambda dtype: True)
    assert exe.compile_notice() is None
    monkeypatch.setattr(executable, "engine_cached", lambda dtype: None)  # unreadable cache
    assert exe.compile_notice() is None


def test_run_says_it_compiles_before_the_live_view_starts(tmp_path, monkeypatch):
    from nnspec.run.session import RunOptions, run_spec
    from nnspec.train.progress import Reporter

    log: list[str] = []

    class Events(Reporter):
        def start(self, info) -> None:  # type: ignore[no-untyped-def]
            super().start(info)
            log.append("start")

        def message(self, text: str) -> None:
            log.append(text)

    spec = tmp_path / "m.nn"
    spec.write_text("model m {\n    input 2\n    dense 1 sigmoid\n}\n"
                    "data { source moons(samples=40) }\n"
                    "train {\n    loss binary_crossentropy\n    epochs 1\n    batch 8\n}\n")
    monkeypatch.setattr(executable, "engine_cached", lambda dtype: False)  # a first run
    outcome = run_spec(spec, RunOptions(out=str(tmp_path / "r")), sources={},
                       reporter=Events())
    assert outcome.exit_code == 0
    assert log[0].startswith("compiling the float32 engine") and log.index("start") == 1
    log.clear()
    monkeypatch.setattr(executable, "engine_cached", lambda dtype: True)
    run_spec(spec, RunOptions(out=str(tmp_path / "r2")), sources={}, reporter=Events())
    assert not any(e.startswith("compiling") for e in log)


def test_no_kernel_reads_a_global_array():
    """Numba freezes a module-level array a kernel reads into a read-only constant; passed
    on to another kernel, it compiles that kernel (and everything it calls) once more for a
    read-only argument. engine.infer did so with NO_DRAWS: engine.forward's whole subtree
    compiled twice per dtype. Kernels take their arrays as arguments."""
    found = []
    for module, name, py_func in kernel_functions():
        arrays = [g for g in py_func.__code__.co_names
                  if isinstance(vars(module).get(g), np.ndarray)]
        found += [f"{module.__name__}.{name} reads {g}" for g in arrays]
    assert found == []


def test_no_kernel_assigns_an_array_to_a_slice():
    """`a[i:j] = b` with an array b makes Numba compile the message of its shape-mismatch
    error (`raise_with_shape_context`: str, repr and f-string helpers) into the engine:
    without the three there were, the engine compiles 35 functions fewer (145 -> 110).
    Kernels copy element by element; a constant (`gw[:] = 0`) is no such assignment."""
    import ast
    import inspect
    import textwrap

    found = []
    for module, name, py_func in kernel_functions():
        tree = ast.parse(textwrap.dedent(inspect.getsource(py_func)))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                sliced = any(isinstance(t, ast.Subscript) and any(
                    isinstance(n, ast.Slice) for n in ast.walk(t.slice)) for t in targets)
                if sliced and not isinstance(node.value, ast.Constant | ast.UnaryOp):
                    found.append(f"{module.__name__}.{name}, line {node.lineno}")
    assert found == []


def kernel_functions():
    """(module, name, Python function) of every Numba kernel defined in backends/cpu."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(cpu.__path__):
        module = importlib.import_module(f"{cpu.__name__}.{info.name}")
        for name, obj in vars(module).items():
            py_func = getattr(obj, "py_func", None)
            if py_func is not None and getattr(py_func, "__module__", None) == module.__name__:
                yield module, name, py_func


def _big_inner(x):  # type: ignore[no-untyped-def]
    """A callee too large for LLVM to inline at two call sites."""
    acc = 0.0
    for i in range(int(x) + 20):
        acc = acc * 0.5 + math.sin(x + i) * math.cos(acc - i) + math.sqrt(abs(acc) + i)
        if acc > 10.0:
            acc = math.log(acc) - math.exp(-acc)
    return acc


def _probe_kernels(big=False):  # type: ignore[no-untyped-def]
    """An entry point and the kernel it calls, as functions of the nnspec package (jit.py
    decides by the module of the outermost compile), compiled afresh (no disk cache)."""
    from numba import njit

    def inner(x):  # type: ignore[no-untyped-def]
        return x * 2.0 + 1.0

    fn = _big_inner if big else inner
    probe = type(fn)(fn.__code__, fn.__globals__, fn.__name__)  # (its own __module__)
    probe.__module__ = "nnspec.backends.cpu._probe"
    inner_k = njit(inline="never")(probe)

    def outer(x):  # type: ignore[no-untyped-def]
        return inner_k(x) - 3.0

    def outer_big(x):  # type: ignore[no-untyped-def]
        return inner_k(x) + inner_k(x + 1.0) - 3.0

    if big:
        outer = outer_big

    outer.__module__ = "nnspec.backends.cpu._probe"
    return njit(outer), inner_k


def test_only_entry_points_get_numbas_module_optimisation(monkeypatch):
    """A kernel compiled for another kernel's call is linked into that caller's module,
    which is optimised as a whole: its own module-level optimisation is skipped (jit.py)."""
    from nnspec.backends.cpu import jit

    if jit._FULL_OPTIMISE is None:
        pytest.skip("this Numba lacks CPUCodeLibrary._optimize_final_module")
    full = jit._FULL_OPTIMISE
    optimised: list[str] = []

    def record(library):  # type: ignore[no-untyped-def]
        optimised.append(library.name)
        full(library)

    monkeypatch.setattr(jit, "_FULL_OPTIMISE", record)
    outer, inner = _probe_kernels()
    assert outer(2.0) == 2.0
    assert any(name.endswith("outer") for name in optimised), optimised
    assert not any(name.endswith("inner") for name in optimised), optimised
    optimised.clear()
    assert inner(5.0) == 11.0  # the callee's own machine code works, unoptimised
    assert optimised == []  # (already compiled: called from Python it is not compiled again)
    _, fresh_inner = _probe_kernels()
    assert fresh_inner(1.0) == 3.0  # called from Python first: an entry point itself
    assert any(name.endswith("inner") for name in optimised), optimised


def test_an_entry_points_calls_bind_to_its_own_optimised_callees():
    """An entry point's linked-in callees carry names of their own (jit._rename_callees):
    under its plain name, a weak symbol, a call binds to the callee's own unoptimised machine
    code wherever that was loaded first, as in the process that compiled the engine (the
    words model trained there at 8.2 ms a batch, 2.0-2.6 with the renaming)."""
    from llvmlite.binding import Linkage

    from nnspec.backends.cpu import jit

    if jit._FULL_OPTIMISE is None:
        pytest.skip("this Numba lacks CPUCodeLibrary._optimize_final_module")
    outer, inner = _probe_kernels(big=True)
    assert inner(3.0) == pytest.approx(_big_inner(3.0))  # its own machine code loaded first
    assert outer(3.0) == pytest.approx(_big_inner(3.0) + _big_inner(4.0) - 3.0)
    module = outer.overloads[outer.signatures[0]].library._final_module
    shared = (Linkage.linkonce_odr, Linkage.weak_odr)
    copies = [f.name for f in module.functions if not f.is_declaration and f.linkage in shared]
    inner_name = inner.overloads[inner.signatures[0]].fndesc.llvm_func_name
    assert inner_name + jit.ENTRY_SUFFIX in copies
    assert all(name.endswith(jit.ENTRY_SUFFIX) or name.startswith("NRT_") for name in copies)
    assert inner_name not in [f.name for f in module.functions]


def test_a_stale_engine_is_dropped_from_numba_cache_dir_too(tmp_path):
    """With NUMBA_CACHE_DIR set, Numba keeps the kernels in a folder it derives inside it;
    compiled from other sources, they are deleted on import there too (a stale engine
    loaded from such a folder crashed a run: a segmentation fault)."""
    root = Path(__file__).resolve().parents[2]
    probe = ("from nnspec.backends.cpu import engine, jit; "
             "print(jit.cache_dir()); print(engine.train_chunk._cache._cache_path)")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    first = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    ours, numbas = first.stdout.split()
    assert Path(ours) == Path(numbas) and Path(ours).parent == tmp_path
    stale = Path(ours) / "engine.train_chunk-1.py311.nbi"
    stale.write_bytes(b"compiled from other sources")
    (Path(ours) / "nnspec-kernels.sha256").write_text("other sources")
    again = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert not stale.exists()
    assert (Path(ours) / "nnspec-kernels.sha256").read_text() != "other sources"


def _sum_in_parallel(x):  # type: ignore[no-untyped-def]
    total = 0.0
    for i in prange(x.shape[0]):
        total += x[i]
    return total


def test_a_prange_kernel_compiled_first_from_python_runs():
    """A parallel kernel compiled as an entry point from Python: Numba builds its prange
    body in libraries of their own that find each other's symbols by name, so only the
    entry point's own library is renamed (renaming them all: "LLVM ERROR: Symbol not
    found: __gufunc__..." and an abort)."""
    from numba import njit

    fn = _sum_in_parallel
    probe = type(fn)(fn.__code__, fn.__globals__, fn.__name__)
    probe.__module__ = "nnspec.backends.cpu._probe"
    assert njit(parallel=True)(probe)(np.arange(10.0)) == 45.0


@pytest.mark.slow
def test_kernels_called_from_python_after_the_engine_loads_from_a_warm_cache(tmp_path):
    """A process that loads the engine from the disk cache and then calls, from Python,
    kernels that were compiled as the engine's callees (the non-finite locator does; so do
    the kernel tests): the second of two runs on one cache. A change that made an entry
    point's linked-in callees internal to its module passed the first run and crashed in the
    second (NRT_incref, a call bound to another loaded object's code: benchmarks/README.md);
    this holds any such change to it (~2 min: the first run compiles)."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               NNSPEC_NO_COMPILE_HELPER="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           "tests/cpu/test_cpu_one_engine.py::test_every_kind_of_plan_runs_one_compiled_engine",
           "tests/cpu/test_cpu_ops.py::test_dense_forward_and_backward_against_numpy",
           "tests/cpu/test_cpu_split.py::test_transposed_dense_against_numpy"]
    for run in ("cold cache", "warm cache"):
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True,
                              timeout=1200)
        assert done.returncode == 0, f"{run}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
