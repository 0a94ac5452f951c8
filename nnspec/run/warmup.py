"""run.warmup: an Executable + its data -> every kernel the epoch loop calls, compiled now.

Numba compiles a kernel at its first call. Left to the loop, the first chunk of batches
compiled the training engine and the first epoch's row the evaluation kernels, after
`catch_interrupts` was installed, so Ctrl-C waited for the compiler. Calling them here,
while a signal still ends the process at once (train/interrupt.py), keeps Ctrl-C immediate
until training really starts. (The cpu engine is one compiled program per dtype for every
spec, 20-25 s to compile on 2 cores, once per installation: backends/cpu/engine.py; on a
cold cache a helper process compiles half of it on the second core: backends/cpu/precompile.py.)

The calls use the shapes the loop will use (one batch of the run's batch size; evaluation
chunks of each split's size, up to the engine's chunk) so Numba compiles the same
specializations, and leave no trace: the executable's state (parameters, buffers, optimizer
state, step) is put back and the dropout draws come from a throwaway Generator, so the run
is bit for bit the one it would have been. On a warm cache this is one batch and three short
evaluations (milliseconds for the tiny specs).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from nnspec.backends.base import as_inputs, evaluate_outputs, targets_for

EVAL_ROWS = 1024  # backends/cpu/executable.EVAL_ROWS: the rows of one evaluation chunk


def warm_up(exe: Any, data: Any) -> None:
    plan = exe.plan
    train = data.train
    n = len(train.x)
    if n == 0:
        return  # train() reports the empty split (E412)
    b = int(plan.batch_size(n))
    # a backend that compiles part of its engine on another core meanwhile (cpu, on a cold
    # cache: backends/cpu/precompile.py) says so with `compiling()`
    compiling = getattr(exe, "compiling", None)
    with compiling() if compiling is not None else contextlib.nullcontext() as helper:
        saved = exe.state_dict()
        try:
            x, y = as_inputs(plan, train.x[:b]), targets_for(exe, train.y[:b])
            exe.train_epoch(x, y, np.arange(b), 0.0, 0, 1, np.random.default_rng(0))
        finally:
            exe.load_state_dict(saved)
        if helper is not None:
            helper.settle()  # the evaluation entry point next: the helper's last job
        for part in (train, getattr(data, "val", None), getattr(data, "test", None)):
            if part is None or not len(part.x):
                continue
            rows = min(EVAL_ROWS, len(part.x))
            # (the loop's calls: evaluate_outputs is evaluate and predict where a backend
            # has no single pass for both)
            evaluate_outputs(exe, as_inputs(plan, part.x[:rows]),
                             targets_for(exe, part.y[:rows]))
