"""backends.cpu.executable: Plan -> CpuExecutable, the Python face of the compiled engine.

Holds the flat buffers (parameters, gradients, batchnorm running statistics, optimizer
moments) in the plan dtype and one workspace per batch size; every call runs a whole chunk
of work inside backends/cpu/engine.py. The contract is backends/base.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numba
import numpy as np

from nnspec.backends.base import (
    EpochChunk,
    HostState,
    as_inputs,
    as_targets,
    checked_class_ids,
    class_ids,
    init_rng,
)
from nnspec.backends.cpu import engine, optimizers, tables
from nnspec.backends.cpu.layout import Layout, layout, step_parts
from nnspec.lower.init import init_buffers, init_params
from nnspec.lower.plan import DROPOUT, Plan

EVAL_ROWS = 1024  # rows per chunk in predict / evaluate
# dropout's uniform draws for one engine call at most (16 MiB of float64); none without dropout
MAX_DRAWS = 1 << 21


def _rows(batch: int, n: int, b0: int, b1: int) -> int:
    """The samples of batches [b0, b1) of an epoch of n samples (only the last is short)."""
    return min(n, b1 * batch) - b0 * batch


def dropout_draws(plan: Plan, rows: int) -> int:
    """The uniform draws dropout takes for a batch of `rows` samples (engine.forward)."""
    return rows * sum(la.n_out for la in plan.layers if la.kind == DROPOUT and la.rate > 0)


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
        self.gws = np.zeros(0 if graph is None else graph.gws_size, dtype=plan.dtype)
        self.img = tables.img(self.layout)
        self.values = np.zeros(len(plan.outputs), dtype=np.float64)
        self.no_heads = np.zeros((0, max(len(plan.outputs) - 1, 0)), dtype=np.float64)
        # the float32 approximations of tanh/sigmoid (backends/cpu/approx.py); float64 exact
        fast = np.dtype(plan.dtype) == np.float32
        self.net = tables.net(plan, self.layout,
                              optimizers.hyper_array(plan.optimizer) if hyper is None else hyper,
                              step_parts(plan.n_params) if parts is None else parts, fast)
        self.mem: tuple = ()  # memory(exe) of the executable that owns it (CpuExecutable)
        self._plain_graph: tuple | None = None

    def graph(self, head_terms: np.ndarray | None = None) -> tuple:
        """The engine's `graph` argument (tables.graph: empty tables for a chain); the
        one without head terms is built once (every call of a plan without auxiliary heads
        and every evaluation uses it)."""
        if head_terms is None:
            if self._plain_graph is None:
                self._plain_graph = tables.graph(self.layout, self.gws, self.values,
                                                 self.no_heads)
            return self._plain_graph
        return tables.graph(self.layout, self.gws, self.values, head_terms)

    def memory(self, exe: HostState) -> tuple:
        """The engine's `mem`: exe's flat buffers and this workspace (tables.memory)."""
        return tables.memory(exe.params, exe.grad, exe.buffers, exe.state, self.ws, self.g1,
                             self.g2)


_BLAS_LIBS: list | None = None
_NO_LIMIT = contextlib.nullcontext()


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


def _remembered(memo: list, arr: np.ndarray, convert: Callable[[], np.ndarray],
                keep: int) -> np.ndarray:
    """convert()'s result for `arr`, looked up by identity among the last `keep` arrays
    converted (every epoch sees the same training and validation arrays): converted and
    checked once. The result is remembered as its own conversion too, as the training loop
    passes converted arrays back."""
    for seen, done in memo:
        if seen is arr:
            return done
    done = convert()
    memo[:] = [(arr, done), *([] if done is arr else [(done, done)]), *memo][:keep]
    return done


def _as_is(memo: list, arr: np.ndarray, convert: Callable[[], np.ndarray]) -> np.ndarray:
    """convert(), a check that returns `arr` itself when it is already in the engine's form:
    such an array is remembered (by identity, with its shape, dtype and strides, which numpy
    lets a caller reassign) among the last 6 and not checked again (~1-2 us of every call).
    A converted copy is not remembered: the caller may still change `arr` in place."""
    for seen, form in memo:
        if seen is arr and form == (arr.shape, arr.dtype, arr.strides):
            return arr
    done = convert()
    if done is arr:
        memo[:] = [(arr, (arr.shape, arr.dtype, arr.strides)), *memo][:6]
    return done


def _engine_inputs(plan: Plan, x: np.ndarray, memo: list) -> np.ndarray:
    """as_inputs(plan, x), with token ids (checked as int64 there) in the plan dtype: the
    engine gathers a batch's ids into its float workspace anyway (embedding.py: exact up to
    2^24 in float32, which layout() enforces, 2^53 in float64), and one x dtype keeps one
    compiled engine for every spec (int64 x would compile each entry point again)."""
    if not plan.token_input:
        return _as_is(memo, x, lambda: as_inputs(plan, x))
    return _remembered(memo, x, lambda: as_inputs(plan, x).astype(plan.dtype), 4)


def _engine_targets(plan: Plan, y: np.ndarray, memo: list, rows_memo: list
                    ) -> np.ndarray:
    """The targets as the engine takes them: a multi-class task's class indices as one
    (N, 1) column of the plan dtype (checked_class_ids: the engine expands each batch's into
    one-hot rows, engine._targets), other targets as as_targets' rows."""
    arr = np.asarray(y)
    if not class_ids(plan, arr) or plan.n_outputs >= 1 << 24:  # (float32's exact integers)
        return _as_is(rows_memo, arr, lambda: as_targets(plan, arr))
    return _remembered(memo, y, lambda: np.ascontiguousarray(
        checked_class_ids(plan, arr), dtype=plan.dtype).reshape(-1, 1), 6)


def engine_cached(dtype: np.dtype) -> bool | None:
    """Whether Numba's on-disk cache holds the engine's entry points for `dtype` (checked
    against the current sources, as Numba checks them before loading); None when the
    cache cannot be read (Numba's index is not a public interface: then nothing is said)."""
    try:
        for fn in (engine.train_chunk, engine.infer):
            index = fn._cache._cache_file._load_index()
            if not any(getattr(key[0][0], "dtype", None) == numba.from_dtype(dtype)
                       for key in index):
                return False
        return True
    except Exception:  # noqa: BLE001 - any change in Numba's internals: say nothing
        return None


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
        self._draws = plan.has_dropout  # (the rng's state is kept for the non-finite locator)
        self._work: dict[int, _Work] = {}
        self.step_parts = step_parts(plan.n_params)
        self._ids: list = []  # _engine_inputs' memo (_remembered's or _as_is')
        self._targets: list = []  # _engine_targets' (class ids)
        self._rows: list = []  # _engine_targets' (rows already in the engine's form)
        self._per_row = dropout_draws(plan, 1)  # dropout's draws per sample (train_epoch)

    def targets(self, y: np.ndarray) -> np.ndarray:
        """y as the engine takes it (base.targets_for): class indices stay one column."""
        return _engine_targets(self.plan, y, self._targets, self._rows)

    def _get_work(self, rows: int) -> _Work:
        work = self._work.get(rows)
        if work is None:
            work = self._work[rows] = _Work(self.plan, rows, self.hyper, self.step_parts)
            # built once: the executable's arrays are never rebound, only assigned into
            # (HostState), so the tuple stays valid (saves ~0.1 us of every engine call)
            work.mem = work.memory(self)
        return work

    def compile_notice(self) -> str | None:
        """What to tell the user before the first call when the engine for this dtype is not
        in Numba's cache yet (the first run of an installation), else None."""
        if engine_cached(self.dtype) is not False:
            return None
        return (f"compiling the {self.dtype} engine: once per installation and dtype, about "
                f"half a minute on 2 cores; every later spec loads it from the cache")

    def compiling(self) -> contextlib.AbstractContextManager:
        """For the warm-up's first calls (run/warmup.py): on a cold cache, a helper process
        compiles part of the engine on another core meanwhile (precompile.py)."""
        from nnspec.backends.cpu import precompile

        cold = engine_cached(self.dtype) is False
        return precompile.helping(self._get_work(1) if cold else None, cold)

    # training ---------------------------------------------------------------------------
    def train_epoch(self, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float,
                    start_batch: int, end_batch: int, rng: np.random.Generator) -> EpochChunk:
        plan = self.plan
        x = _engine_inputs(plan, x, self._ids)
        y = _engine_targets(plan, y, self._targets, self._rows)
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
        per_row = self._per_row
        # batches per engine call: all of them, but where dropout's draws (float64, drawn
        # here for the call's batches) would pass MAX_DRAWS
        step = max(1, MAX_DRAWS // (per_row * batch)) if per_row else end - start
        loss_sum, samples, done, status, bad = 0.0, 0, 0, 0, -1
        with one_blas_thread(threaded):
            for b0 in range(start, end, step):
                b1 = min(end, b0 + step)
                draws, before = engine.NO_DRAWS, None
                if per_row:
                    before = rng.bit_generator.state
                    draws = rng.random(_rows(batch, n, b0, b1) * per_row)
                part = engine.train_chunk(
                    x, y, order, b0, b1, self.step, float(lr), work.net, work.mem,
                    terms[done:], draws, work.graph(None if head_terms is None
                                                    else head_terms[done:]), work.img)
                loss_sum += part[0]
                samples += int(part[1])
                done += int(part[2])
                status, bad, self.step = int(part[3]), int(part[4]), int(part[5])
                if status != 0:
                    if before is not None:  # the Generator as if the engine had drawn: up
                        # to the bad batch's forward pass, none of the later batches' draws
                        rng.bit_generator.state = before
                        rng.random(_rows(batch, n, b0, bad + 1) * per_row)
                    break
        if status != 0:
            return EpochChunk(float(loss_sum), samples, done, status, bad, start, rng_state,
                              terms[:done], None if head_terms is None else head_terms[:done])
        return EpochChunk(float(loss_sum), samples, done, terms=terms, head_terms=head_terms)

    # evaluation -------------------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._infer(_engine_inputs(self.plan, x, self._ids), None)[1]

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        plan = self.plan
        return self._infer(_engine_inputs(plan, x, self._ids),
                           _engine_targets(plan, y, self._targets, self._rows),
                           outputs=False)[0]

    def evaluate_outputs(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(evaluate(x, y), predict(x)) from one forward pass."""
        plan = self.plan
        return self._infer(_engine_inputs(plan, x, self._ids),
                           _engine_targets(plan, y, self._targets, self._rows))

    def _infer(self, x: np.ndarray, y: np.ndarray | None,
               outputs: bool = True) -> tuple[float, np.ndarray]:
        """engine.infer: (the loss against y, NaN without y; the outputs, if asked)."""
        k = self.plan.n_outputs
        out = np.empty((x.shape[0] if outputs else 0, k), dtype=self.dtype)
        if y is None:
            y = np.empty((0, k), dtype=self.dtype)
        elif y.shape[0] != x.shape[0]:
            raise ValueError(f"{x.shape[0]} input rows but {y.shape[0]} target rows")
        if x.shape[0] == 0:
            return float("nan"), out
        work = self._get_work(min(EVAL_ROWS, x.shape[0]))
        with one_blas_thread(work.layout.split):
            loss = engine.infer(x, y, out, work.net, work.mem, work.graph(), work.img)
        return float(loss), out


def compile(plan: Plan) -> CpuExecutable:  # noqa: A001 - the stage verb
    """Build the CPU executable of `plan`, parameters drawn from init_rng(plan.seed)."""
    return CpuExecutable(plan)
