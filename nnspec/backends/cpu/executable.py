"""backends.cpu.executable: Plan -> CpuExecutable, the Python face of the compiled engine.

Holds the flat buffers (parameters, gradients, batchnorm running statistics, optimizer
moments) in the plan dtype and one workspace per batch size; every call runs a whole chunk
of work inside backends/cpu/engine.py. The contract is backends/base.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from nnspec.backends.base import EpochChunk, HostState, as_inputs, as_targets, init_rng
from nnspec.backends.cpu import engine, optimizers, tables
from nnspec.backends.cpu.layout import Layout, layout, step_parts
from nnspec.lower.init import init_buffers, init_params
from nnspec.lower.plan import Plan

EVAL_ROWS = 1024  # rows per chunk in predict / evaluate


class _Work:
    """A layout and its buffers for batches of up to `rows` samples, and the engine's `net`
    for them (tables.py): hyper and parts (the optimizer step's threads) are the
    executable's, computed from the plan when not given."""

    def __init__(self, plan: Plan, rows: int, hyper: np.ndarray | None = None,
                 parts: int | None = None):
        self.layout: Layout = layout(plan, rows)
        self.ws = np.zeros(self.layout.ws_size, dtype=plan.dtype)
        self.g1 = np.zeros(self.layout.g_size, dtype=plan.dtype)
        self.g2 = np.zeros(self.layout.g_size, dtype=plan.dtype)
        graph = self.layout.graph
        self.gws = None if graph is None else np.zeros(graph.gws_size, dtype=plan.dtype)
        self.values = np.zeros(len(plan.outputs), dtype=np.float64)
        self.no_heads = np.zeros((0, max(len(plan.outputs) - 1, 0)), dtype=np.float64)
        # the float32 approximations of tanh/sigmoid (backends/cpu/approx.py); float64 exact
        fast = np.dtype(plan.dtype) == np.float32
        self.net = tables.net(plan, self.layout,
                              optimizers.hyper_array(plan.optimizer) if hyper is None else hyper,
                              step_parts(plan.n_params) if parts is None else parts, fast)
        self.mem: tuple = ()  # memory(exe) of the executable that owns it (CpuExecutable)

    def graph(self, head_terms: np.ndarray | None = None) -> tuple | None:
        """The engine's `graph` argument: None for a chain (tables.graph)."""
        return tables.graph(self.layout, self.gws, self.values,
                            self.no_heads if head_terms is None else head_terms)

    def memory(self, exe: HostState) -> tuple:
        """The engine's `mem`: exe's flat buffers and this workspace (tables.memory)."""
        return tables.memory(exe.params, exe.grad, exe.buffers, exe.state, self.ws, self.g1,
                             self.g2)


_BLAS_LIBS: list | None = None
_NO_LIMIT = contextlib.nullcontext()


def _big(split: bool) -> bool | None:
    """The engine's `big` argument: None when nothing is split, so that Numba compiles the
    engine without its multi-threaded paths (engine.forward)."""
    return True if split else None


def one_blas_thread(on: bool) -> contextlib.AbstractContextManager[None]:
    """BLAS limited to one thread meanwhile (when `on`): the split kernels (backends/cpu/
    blas.py) call single-threaded gemms from every Numba thread, where a threaded OpenBLAS
    would start more threads per call; and OpenBLAS's idle threads spin, slowing the Numba
    threads of optimizers.step_parts. The previous counts are restored after. (When off, a
    shared null context: this runs on every train_epoch call, ~1 us as a generator.)"""
    return _one_blas_thread() if on else _NO_LIMIT


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    global _BLAS_LIBS
    if _BLAS_LIBS is None:
        import threadpoolctl

        # the controller lists the BLAS libraries loaded now: Numba's (scipy's OpenBLAS) is
        # loaded by the import of backends.cpu (blas.ensure_blas)
        _BLAS_LIBS = threadpoolctl.ThreadpoolController().select(
            user_api="blas").lib_controllers
    saved = [lib.num_threads for lib in _BLAS_LIBS]
    for lib in _BLAS_LIBS:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(_BLAS_LIBS, saved, strict=True):
            lib.set_num_threads(n)


def _engine_inputs(plan: Plan, x: np.ndarray, memo: list) -> np.ndarray:
    """as_inputs(plan, x), with token ids (checked as int64 there) in the plan dtype: the
    engine gathers a batch's ids into its float workspace anyway (embedding.py: exact up to
    2^24 in float32, which layout() enforces, 2^53 in float64), and one x dtype keeps one
    compiled engine for every spec (int64 x would compile each entry point again). The
    conversions of the last two arrays seen are kept in `memo` (every epoch sees the same
    training and validation arrays)."""
    if not plan.token_input:
        return as_inputs(plan, x)
    for seen, ids in memo:
        if seen is x:
            return ids
    ids = as_inputs(plan, x).astype(plan.dtype)
    memo[:] = [(x, ids), *memo[:1]]
    return ids


class CpuExecutable(HostState):
    """A Plan compiled for the CPU (Numba); see backends/base.Executable."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.dtype = np.dtype(plan.dtype)
        # The float32 approximations of tanh/sigmoid (backends/cpu/approx.py); float64 is exact.
        self.fast = self.dtype == np.float32
        self.params = init_params(plan, init_rng(plan.seed)).astype(self.dtype)
        self.buffers = init_buffers(plan).astype(self.dtype)
        self.grad = np.zeros(plan.n_params, dtype=self.dtype)
        self.state = optimizers.init_state(plan.optimizer, plan.n_params, plan.dtype)
        self.hyper = optimizers.hyper_array(plan.optimizer)
        self.step = 0
        self._draws = plan.has_dropout  # else the engine gets rng=None (see engine.forward)
        self._work: dict[int, _Work] = {}
        self.step_parts = step_parts(plan.n_params)
        self._ids: list = []  # _engine_inputs' memo

    def _get_work(self, rows: int) -> _Work:
        work = self._work.get(rows)
        if work is None:
            work = self._work[rows] = _Work(self.plan, rows, self.hyper, self.step_parts)
            # built once: the executable's arrays are never rebound, only assigned into
            # (HostState), so the tuple stays valid (saves ~0.1 us of every engine call)
            work.mem = work.memory(self)
        return work

    # training ---------------------------------------------------------------------------
    def train_epoch(self, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float,
                    start_batch: int, end_batch: int, rng: np.random.Generator) -> EpochChunk:
        plan = self.plan
        x, y = _engine_inputs(plan, x, self._ids), as_targets(plan, y)
        n = x.shape[0]
        if y.shape[0] != n:
            raise ValueError(f"{n} input rows but {y.shape[0]} target rows")
        order = np.ascontiguousarray(order, dtype=np.int64)
        if order.shape != (n,):
            raise ValueError(f"order must hold {n} indices")
        start, end = max(0, start_batch), min(end_batch, plan.n_batches(n))
        if n == 0 or start >= end:
            return EpochChunk(0.0, 0, 0)
        batch = plan.batch_size(n)
        work = self._get_work(batch)
        lay = work.layout
        # kept for the non-finite locator, which replays the bad batch with the same masks
        rng_state = dict(rng.bit_generator.state) if self._draws else None
        terms = np.zeros(end - start, dtype=np.float64)
        heads = len(plan.outputs) - 1
        head_terms = np.zeros((end - start, heads), dtype=np.float64) if heads else None
        threaded = lay.split or self.step_parts > 0
        with one_blas_thread(threaded):
            loss_sum, samples, done, status, bad, t = engine.train_chunk(
                x, y, order, start, end, self.step, float(lr), work.net, work.mem,
                terms, rng if self._draws else None, _big(threaded), work.graph(head_terms),
                lay.wtab)
        self.step = int(t)
        if status != 0:
            return EpochChunk(float(loss_sum), int(samples), int(done), int(status), int(bad),
                              start, rng_state, terms[:done],
                              None if head_terms is None else head_terms[:done])
        return EpochChunk(float(loss_sum), int(samples), int(done), terms=terms,
                          head_terms=head_terms)

    # evaluation -------------------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        x = _engine_inputs(self.plan, x, self._ids)
        out = np.empty((x.shape[0], self.plan.n_outputs), dtype=self.dtype)
        if x.shape[0] == 0:
            return out
        work = self._get_work(min(EVAL_ROWS, x.shape[0]))
        lay = work.layout
        with one_blas_thread(lay.split):
            engine.predict(x, out, work.net, work.mem, _big(lay.split), work.graph(), lay.wtab)
        return out

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        plan = self.plan
        x, y = _engine_inputs(plan, x, self._ids), as_targets(plan, y)
        if x.shape[0] == 0:
            return float("nan")
        work = self._get_work(min(EVAL_ROWS, x.shape[0]))
        lay = work.layout
        with one_blas_thread(lay.split):
            return float(engine.evaluate(x, y, work.net, work.mem, _big(lay.split),
                                         work.graph(), lay.wtab))

    def evaluate_outputs(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(evaluate(x, y), predict(x)) from one forward pass when x fits one eval chunk: the
        workspace then still holds every row's outputs."""
        if not 0 < x.shape[0] <= EVAL_ROWS:
            return self.evaluate(x, y), self.predict(x)
        loss, n, k = self.evaluate(x, y), x.shape[0], self.plan.n_outputs
        work = self._get_work(n)
        start = work.layout.out_off
        return loss, work.ws[start:start + n * k].reshape(n, k).copy()


def compile(plan: Plan) -> CpuExecutable:  # noqa: A001 - the stage verb
    """Build the CPU executable of `plan`, parameters drawn from init_rng(plan.seed)."""
    return CpuExecutable(plan)
