"""backends/cpu/precompile.py: the helper process that compiles half of the engine on a
second core during the first run."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cpu_nets import NETS
from plan_nets import make_plan

from nnspec.backends import cpu
from nnspec.backends.cpu import precompile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _kernel(module: str, name: str):  # type: ignore[no-untyped-def]
    return getattr(importlib.import_module(precompile.PACKAGE + module), name)


@pytest.mark.parametrize("job", [*precompile.JOBS, precompile.ENTRY],
                         ids=lambda j: f"{j[0]}.{j[1]}")
def test_each_job_spells_one_type_per_parameter(job):
    module, name, codes = job
    params = inspect.signature(_kernel(module, name).py_func).parameters
    assert len(codes) == len(params), f"{name}{tuple(params)} against {codes!r}"


def _work(dtype: str = "float32"):  # type: ignore[no-untyped-def]
    layers, loss, n_in = NETS["tanh-sigmoid-bce"]
    return cpu.compile(make_plan(layers, loss, n_in=n_in, dtype=dtype))._get_work(1)


def test_jobs_take_their_types_from_the_workspace():
    todo = precompile.jobs(_work("float64"))
    assert [name for _, name, _, _ in todo][-1] == "infer"
    assert [entry for *_, entry in todo] == [False] * len(precompile.JOBS) + [True]
    step_rows = dict((name, sig) for _, name, sig, _ in todo)["step_rows"]
    assert str(step_rows[1]).startswith("array(float64, 1d, C")


def test_no_helper_on_a_warm_cache_or_when_switched_off(monkeypatch):
    work = _work()
    with precompile.helping(work, cold=False) as helper:
        assert helper is None
    monkeypatch.setenv("NNSPEC_NO_COMPILE_HELPER", "1")
    with precompile.helping(work, cold=True) as helper:
        assert helper is None


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in state  # a zombie whose new parent has not reaped it yet


def _helper_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}


def _wait_for(predicate, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_the_helper_stops_when_the_warm_up_is_done(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", _helper_env()["PYTHONPATH"])
    helper = precompile.Helper([("precompile_sleeper", "job", (), False)])
    try:
        assert _wait_for(lambda: helper.last == "job")  # compiling (sleeping) now
        t = time.monotonic()
        helper.settle(timeout=0.3)  # its last job: waited for, briefly, then stopped
        assert helper.proc.poll() is not None
        assert time.monotonic() - t < 3.0
    finally:
        helper.close()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_the_helper_ends_when_its_parent_is_killed():
    parent = textwrap.dedent("""
        import os, time
        from nnspec.backends.cpu.precompile import Helper
        helper = Helper([("precompile_sleeper", "job", (), False)])
        while helper.last != "job":
            time.sleep(0.05)
        print(helper.proc.pid, flush=True)
        os._exit(0)  # as a kill: nothing closes the helper
    """)
    out = subprocess.run([sys.executable, "-c", parent], env=_helper_env(), timeout=60,
                         capture_output=True, text=True, check=True).stdout
    pid = int(out.split()[-1])
    assert _wait_for(lambda: _gone(pid)), f"helper {pid} outlived its parent"


def test_a_helper_job_compiles_into_the_cache_the_main_process_reads(tmp_path):
    """One real job in a helper process with an empty cache: the kernel is then loaded,
    not compiled, here (Numba looks in its cache before compiling)."""
    env = {**_helper_env(), "NUMBA_CACHE_DIR": str(tmp_path)}
    work = _work()
    todo = [job for job in precompile.jobs(work) if job[1] == "clip"]
    code = textwrap.dedent("""
        import pickle, sys
        from nnspec.backends.cpu import precompile
        helper = precompile.Helper(pickle.loads(bytes.fromhex(sys.argv[1])))
        helper.proc.wait(120)
        from nnspec.backends.cpu import optimizers
        sig = pickle.loads(bytes.fromhex(sys.argv[1]))[0][2]
        optimizers.clip.compile(sig)
        print(sum(optimizers.clip.stats.cache_hits.values()),
              sum(optimizers.clip.stats.cache_misses.values()))
    """)
    import pickle

    out = subprocess.run([sys.executable, "-c", code, pickle.dumps(todo).hex()], env=env,
                         timeout=300, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "0"]


@pytest.mark.slow
def test_the_jobs_are_the_signatures_train_chunk_asks_for(tmp_path):
    """A whole first compile without the helper, every nested compile recorded: each job's
    signature is one that train_chunk (or infer) asked for. (~40 s.)"""
    code = textwrap.dedent("""
        import json, os, sys
        from numba.core import event
        asked = set()
        class L(event.Listener):
            def on_start(self, ev):
                d = ev.data["dispatcher"]
                asked.add(f"{d.py_func.__module__}.{d.py_func.__name__}{tuple(ev.data['args'])}")
            def on_end(self, ev):
                pass
        event.register("numba:compile", L())
        import numpy as np
        sys.path[:0] = sys.argv[1].split(os.pathsep)
        from cpu_nets import NETS
        from plan_nets import make_plan
        from nnspec.backends import cpu
        from nnspec.backends.cpu import precompile
        layers, loss, n_in = NETS["tanh-sigmoid-bce"]
        exe = cpu.compile(make_plan(layers, loss, n_in=n_in, dtype="float32"))
        x = np.zeros((4, n_in), np.float32); y = np.zeros((4, 1), np.float32)
        exe.train_epoch(x, y, np.arange(4), 0.1, 0, 1, np.random.default_rng(0))
        exe.evaluate(x, y)
        wanted = [f"{m}.{n}{tuple(sig)}" for m, n, sig, _ in precompile.jobs(exe._get_work(1))]
        print(json.dumps([w for w in wanted if w not in asked]))
    """)
    env = {**_helper_env(), "NUMBA_CACHE_DIR": str(tmp_path), "NNSPEC_NO_COMPILE_HELPER": "1"}
    paths = os.pathsep.join([str(HERE), str(HERE.parent / "support")])
    out = subprocess.run([sys.executable, "-c", code, paths], env=env, timeout=900,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_settle_stops_a_helper_still_on_earlier_jobs(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", _helper_env()["PYTHONPATH"])
    helper = precompile.Helper([("precompile_sleeper", "job", (), False),
                                ("engine", "infer", (), True)])
    try:
        assert _wait_for(lambda: helper.last == "job")
        t = time.monotonic()
        helper.settle(timeout=30.0)  # not on the last job: no wait
        assert helper.proc.poll() is not None and time.monotonic() - t < 3.0
    finally:
        helper.close()


def test_a_helper_that_cannot_start_is_no_helper(monkeypatch):
    def broken(todo):  # type: ignore[no-untyped-def]
        raise RuntimeError("no process for you")

    monkeypatch.setattr(precompile, "Helper", broken)
    monkeypatch.setattr(precompile, "_cores", lambda: 2)
    monkeypatch.delenv("NNSPEC_NO_COMPILE_HELPER", raising=False)
    with precompile.helping(_work(), cold=True) as helper:
        assert helper is None
