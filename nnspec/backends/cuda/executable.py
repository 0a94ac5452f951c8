"""backends.cuda.executable: Plan -> CudaExecutable, the Python face of the GPU engine.

Holds every buffer on the device (parameters, gradients, batchnorm running statistics,
optimizer moments, the chunk's books and a graph's head terms) and one workspace per batch
size; the contract is backends/base.py, the same as the CPU executable's. Data passed to
train_epoch, predict and evaluate is uploaded once and kept on the device while the same
array objects come back (the training loop passes the same converted arrays every chunk and
the same order array within an epoch); arrays are treated as read-only once passed.
"""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import numpy as np

from nnspec.backends.base import (
    EpochChunk,
    as_inputs,
    as_targets,
    check_state,
    checked_flat,
    init_rng,
)
from nnspec.backends.cuda import cublas, losses, optimizers, slots
from nnspec.backends.cuda.engine import Engine, Work, draw_masks, keep_width
from nnspec.backends.cuda.jit import BLOCK, RED_THREADS, cuda, grid
from nnspec.lower.init import init_buffers, init_params
from nnspec.lower.plan import Plan

EVAL_ROWS = 1024  # rows per chunk in predict / evaluate
MASK_BYTES = 64 << 20  # dropout keep bits uploaded at a time
CACHED_ARRAYS = 6  # device copies of host arrays kept (train x, y, order; val x, y; ...)


class CudaExecutable:
    """A Plan compiled for a CUDA GPU (numba.cuda); see backends/base.Executable."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.dtype = np.dtype(plan.dtype)
        gemm, self.matmul = cublas.make_gemm(plan.dtype)
        self.engine = Engine(plan, gemm)
        n = max(1, plan.n_params)
        opt = plan.optimizer
        state = optimizers.init_state(opt, plan.n_params, plan.dtype).ravel()
        self.s = SimpleNamespace(
            params=self._upload(self._padded(init_params(plan, init_rng(plan.seed)), n)),
            grad=cuda.to_device(np.zeros(n, dtype=self.dtype)),
            buffers=self._upload(self._padded(init_buffers(plan), max(1, plan.n_buffers))),
            state=self._upload(self._padded(state, max(1, state.size))),
            hyper=cuda.to_device(optimizers.device_hyper(opt)),
            acc=cuda.to_device(np.zeros(slots.N_ACC + len(plan.heads), dtype=np.float64)),
            ctl=cuda.to_device(np.zeros(slots.N_CTL, dtype=np.int64)),
            terms=cuda.to_device(np.zeros(1, dtype=np.float64)),
            head_terms=cuda.to_device(np.zeros(1, dtype=np.float64)))
        self.step = 0
        self._work: dict[int, Work] = {}
        self._arrays: OrderedDict[int, tuple[np.ndarray, Any]] = OrderedDict()

    # helpers ----------------------------------------------------------------------------
    def _padded(self, values: np.ndarray, size: int) -> np.ndarray:
        out = np.zeros(size, dtype=self.dtype)
        out[:values.size] = values
        return out

    def _upload(self, host: np.ndarray) -> Any:
        return cuda.to_device(np.ascontiguousarray(host))

    def _get_work(self, rows: int) -> Work:
        work = self._work.get(rows)
        if work is None:
            work = self._work[rows] = Work(self.plan, rows, self.plan.dtype)
        return work

    def _device(self, original: Any, convert: Any) -> Any:
        """The device copy of `convert(original)` (flattened), uploaded once per object."""
        key = id(original)
        hit = self._arrays.get(key)
        if hit is not None and hit[0] is original:
            self._arrays.move_to_end(key)
            return hit[1]
        dev = cuda.to_device(np.ascontiguousarray(convert(original)).ravel())
        self._arrays[key] = (original, dev)
        while len(self._arrays) > CACHED_ARRAYS:
            self._arrays.popitem(last=False)
        return dev

    def _reset_books(self) -> None:
        self.s.acc.copy_to_device(np.zeros(self.s.acc.shape[0], dtype=np.float64))
        self.s.ctl.copy_to_device(np.zeros(slots.N_CTL, dtype=np.int64))

    # parameters -------------------------------------------------------------------------
    def get_params(self) -> np.ndarray:
        return self.s.params.copy_to_host()[:self.plan.n_params].copy()

    def set_params(self, flat: np.ndarray) -> None:
        flat = checked_flat(self.plan, flat, "params")
        self.s.params.copy_to_device(self._padded(flat.astype(self.dtype),
                                                  self.s.params.shape[0]))

    def get_buffers(self) -> np.ndarray:
        return self.s.buffers.copy_to_host()[:self.plan.n_buffers].copy()

    def set_buffers(self, flat: np.ndarray) -> None:
        flat = checked_flat(self.plan, flat, "buffers")
        self.s.buffers.copy_to_device(self._padded(flat.astype(self.dtype),
                                                   self.s.buffers.shape[0]))

    # training ---------------------------------------------------------------------------
    def train_epoch(self, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float,
                    start_batch: int, end_batch: int, rng: np.random.Generator) -> EpochChunk:
        plan = self.plan
        n = as_inputs(plan, x).shape[0]
        if len(y) != n:
            raise ValueError(f"{n} input rows but {len(y)} target rows")
        order_host = np.asarray(order)
        if order_host.shape != (n,):
            raise ValueError(f"order must hold {n} indices")
        start, end = max(0, start_batch), min(end_batch, plan.n_batches(n))
        if n == 0 or start >= end:
            return EpochChunk(0.0, 0, 0)
        xd = self._device(x, lambda a: as_inputs(plan, a).astype(self.dtype, copy=False))
        yd = self._device(y, lambda a: as_targets(plan, a))
        od = self._device(order, lambda a: np.asarray(a, dtype=np.int64))
        batch = plan.batch_size(n)
        work = self._get_work(batch)
        rng_state = dict(rng.bit_generator.state) if plan.has_dropout else None
        width = keep_width(plan)
        per_upload = max(1, MASK_BYTES // max(1, batch * width))
        self._reset_books()
        if self.s.terms.shape[0] < end - start:
            self.s.terms = cuda.to_device(np.zeros(end - start, dtype=np.float64))
        heads = len(plan.heads)
        if self.s.head_terms.shape[0] < (end - start) * heads:
            self.s.head_terms = cuda.to_device(np.zeros((end - start) * heads,
                                                        dtype=np.float64))
        keep: Any = None
        for c0 in range(start, end, per_upload):
            c1 = min(end, c0 + per_upload)
            if width:
                keep = cuda.to_device(draw_masks(plan, rng, batch, n, c0, c1, width))
            for b in range(c0, c1):
                r0 = b * batch
                rows = min(batch, n - r0)
                self.engine.batch(work, xd, yd, od, b, r0, rows, float(lr),
                                  self.step + b - start + 1, self.s, keep,
                                  (b - c0) * batch * width)
        ctl = self.s.ctl.copy_to_host()
        acc = self.s.acc.copy_to_host()
        done = int(ctl[slots.DONE])
        self.step += done
        loss_sum, samples = float(acc[slots.LOSS_TOTAL]), int(ctl[slots.SAMPLES])
        terms = self.s.terms.copy_to_host()[:done]
        head_terms = (self.s.head_terms.copy_to_host()[:done * heads].reshape(done, heads)
                      if heads else None)
        if ctl[slots.STATUS] != 0:
            if width:  # leave rng where the CPU leaves it: after the bad batch's masks
                rng.bit_generator.state = dict(rng_state or {})
                bad = int(ctl[slots.BAD])
                rng.random(sum(min(batch, n - b * batch) for b in range(start, bad + 1))
                           * width)
            return EpochChunk(loss_sum, samples, done, int(ctl[slots.STATUS]),
                              int(ctl[slots.BAD]), start, rng_state, terms, head_terms)
        return EpochChunk(loss_sum, samples, done, terms=terms, head_terms=head_terms)

    # evaluation -------------------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        plan = self.plan
        xh = as_inputs(plan, x)
        n, k = xh.shape[0], plan.n_outputs
        if n == 0:
            return np.empty((0, k), dtype=self.dtype)
        xd = self._device(x, lambda a: as_inputs(plan, a).astype(self.dtype, copy=False))
        out = cuda.device_array(n * k, dtype=self.dtype)
        work = self._get_work(min(EVAL_ROWS, n))
        for r0 in range(0, n, work.layout.rows):
            rows = min(work.layout.rows, n - r0)
            self.engine.eval_rows(work, xd, r0, rows, self.s)
            self.engine.k.copy[grid(rows * k), BLOCK](
                work.ws, work.layout.out_off, out, r0 * k, rows * k)
        return out.copy_to_host().reshape(n, k)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        plan = self.plan
        n = as_inputs(plan, x).shape[0]
        if n == 0:
            return float("nan")
        xd = self._device(x, lambda a: as_inputs(plan, a).astype(self.dtype, copy=False))
        yd = self._device(y, lambda a: as_targets(plan, a))
        k = plan.n_outputs
        work = self._get_work(min(EVAL_ROWS, n))
        lay = work.layout
        self._reset_books()
        for r0 in range(0, n, lay.rows):
            rows = min(lay.rows, n - r0)
            self.engine.eval_rows(work, xd, r0, rows, self.s)
            self.engine.k.copy[grid(rows * k), BLOCK](
                yd, r0 * k, work.ws, lay.y_off, rows * k)
            self.engine.k.loss.loss_sum[1, RED_THREADS](
                plan.loss, plan.loss_param, plan.fused, work.ws, lay.z_off, lay.out_off,
                lay.y_off, rows, k, self.s.acc)
        s = float(self.s.acc.copy_to_host()[slots.S])
        return losses.finish_host(plan.loss, s, n, k)

    # checkpoints ------------------------------------------------------------------------
    def _state_host(self) -> np.ndarray:
        opt = self.plan.optimizer
        size = opt.n_state * self.plan.n_params
        return self.s.state.copy_to_host()[:size].reshape(opt.n_state, self.plan.n_params)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"params": self.get_params(), "buffers": self.get_buffers(),
                "opt_state": self._state_host().copy(),
                "step": np.array(self.step, dtype=np.int64)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        check_state(self.plan, state)
        self.set_params(np.asarray(state["params"]))
        self.set_buffers(np.asarray(state["buffers"]))
        flat = np.asarray(state["opt_state"], dtype=self.dtype).ravel()
        self.s.state.copy_to_device(self._padded(flat, self.s.state.shape[0]))
        self.step = int(state["step"])


def compile(plan: Plan) -> CudaExecutable:  # noqa: A001 - the stage verb
    """Build the CUDA executable of `plan`, parameters drawn from init_rng(plan.seed)."""
    return CudaExecutable(plan)
