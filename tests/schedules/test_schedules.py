"""train.schedules: every schedule against the torch scheduler's get_last_lr() sequence,
plus hand-computed values and exact resume (torch-free)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from torch_oracle import main_scheduler

from nnspec.ops.optimizers import Sgd
from nnspec.ops.schedules import SCHEDULES
from nnspec.train.schedules import LrSchedule, make_schedule

S = SCHEDULES
E = 40  # epochs per sequence
LR0 = 0.1

CLOSED = [
    ("constant", S["constant"](), None),
    ("step", S["step"](every=7, gamma=0.5), None),
    ("multistep", S["multistep"](milestones=(3, 10, 11, 25)), None),
    ("exponential", S["exponential"](gamma=0.9), None),
    ("cosine", S["cosine"](), None),
    ("cosine-min", S["cosine"](min_lr=0.01), None),
    ("cosine-period", S["cosine"](period=12, min_lr=0.001), None),  # rises after 12, as torch
    ("sgdr", S["cosine"](restart_every=5), None),
    ("sgdr-mult", S["cosine"](restart_every=3, mult=2, min_lr=0.002), None),
    ("one_cycle", S["one_cycle"](max_lr=0.5), None),
    ("one_cycle-opts", S["one_cycle"](max_lr=0.2, pct_start=0.45, div_factor=10,
                                      final_div_factor=100), None),
    ("warmup-constant", S["constant"](), S["warmup"](epochs=5)),
    ("warmup-step", S["step"](every=4, gamma=0.7), S["warmup"](epochs=3, start_factor=0.25)),
    ("warmup-multistep", S["multistep"](milestones=(2, 9)), S["warmup"](epochs=4)),
    ("warmup-exponential", S["exponential"](gamma=0.95), S["warmup"](epochs=6)),
    ("warmup-cosine", S["cosine"](min_lr=1e-3), S["warmup"](epochs=5, start_factor=0.01)),
    ("warmup-cosine-period", S["cosine"](period=10), S["warmup"](epochs=2)),
    ("warmup-sgdr", S["cosine"](restart_every=4, mult=3), S["warmup"](epochs=3)),
]


def _torch_sequence(main, warmup, epochs=E, lr0=LR0):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr0)
    if warmup is None:
        sched = main_scheduler(torch, opt, main, epochs)
    else:
        first = torch.optim.lr_scheduler.LinearLR(opt, start_factor=warmup.start_factor,
                                                  end_factor=1.0, total_iters=warmup.epochs)
        second = main_scheduler(torch, opt, main, epochs - warmup.epochs)
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [first, second],
                                                      milestones=[warmup.epochs])
    out = []
    for _ in range(epochs):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def _ours(main, warmup, epochs=E, lr0=LR0, rows=None):
    s = LrSchedule(main, lr0, epochs, warmup)
    out = []
    for e in range(epochs):
        out.append(s.lr(e))
        s.step(rows[e] if rows else {})
    return out


def _close(ours, theirs, rtol=1e-12):
    assert len(ours) == len(theirs)
    for e, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == pytest.approx(b, rel=rtol, abs=1e-300), f"epoch {e}: {a!r} != {b!r}"


@pytest.mark.torch
@pytest.mark.parametrize(("name", "main", "warmup"), CLOSED, ids=[c[0] for c in CLOSED])
def test_matches_torch(name, main, warmup):
    _close(_ours(main, warmup), _torch_sequence(main, warmup))


PLATEAU = [
    S["reduce_on_plateau"](monitor="loss", patience=2),
    S["reduce_on_plateau"](monitor="val_loss", patience=0, factor=0.5, cooldown=2),
    S["reduce_on_plateau"](monitor="val_accuracy", patience=1, factor=0.3, min_lr=0.004,
                           threshold=0.01),
    S["reduce_on_plateau"](monitor="r2", mode="min", patience=1, threshold=0.0),
    S["reduce_on_plateau"](monitor="loss", patience=3, factor=0.5, min_lr=0.0999999995),
]


def _rows(monitor, seed):
    """A monitored series that improves, stalls, jumps and plateaus, with exact repeats."""
    import random

    r = random.Random(seed)
    vals, v = [], 1.0
    for e in range(E):
        if e % 9 < 4:
            v *= r.choice([0.9, 0.999, 0.99995, 1.0, 1.02])
        vals.append(v if "accuracy" not in monitor else 1.0 - v / 2)
    return [{monitor: x, "loss": x} for x in vals]


@pytest.mark.torch
@pytest.mark.parametrize("op", PLATEAU, ids=lambda op: f"{op.monitor}-{op.mode}")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plateau_matches_torch(op, seed):
    torch = pytest.importorskip("torch")
    from nnspec.train.schedules import plateau_mode

    rows = _rows(op.monitor, seed)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode=plateau_mode(op), factor=op.factor, patience=op.patience,
        threshold=op.threshold, threshold_mode="rel", cooldown=op.cooldown, min_lr=op.min_lr)
    theirs = []
    for e in range(E):
        theirs.append(opt.param_groups[0]["lr"])
        sched.step(rows[e][op.monitor])
    ours = _ours(op, None, rows=rows)
    assert ours == theirs  # the same float operations: exactly equal
    assert min(ours) < LR0 or op.min_lr > 0.09  # the series did trigger reductions


def test_hand_values():
    assert _ours(S["step"](every=2, gamma=0.5), None, epochs=5) == \
        [0.1, 0.1, 0.05, 0.05, 0.025]
    assert _ours(S["multistep"](milestones=(1, 3)), None, epochs=4) == \
        pytest.approx([0.1, 0.01, 0.01, 0.001], rel=1e-15)
    assert _ours(S["exponential"](gamma=0.5), None, epochs=3) == [0.1, 0.05, 0.025]
    # cosine over 4 epochs: (1 + cos(pi e/4))/2
    assert _ours(S["cosine"](), None, epochs=4) == pytest.approx(
        [0.1, 0.1 * (1 + math.sqrt(0.5)) / 2, 0.05, 0.1 * (1 - math.sqrt(0.5)) / 2], rel=1e-14)
    # SGDR T0=2, mult=2: cycles [0, 1], [2, 3, 4, 5], [6, ...]
    assert _ours(S["cosine"](restart_every=2, mult=2), None, epochs=7) == pytest.approx(
        [0.1, 0.05, 0.1, 0.1 * (1 + math.sqrt(0.5)) / 2, 0.05,
         0.1 * (1 - math.sqrt(0.5)) / 2, 0.1], rel=1e-14)
    # warmup 4 from 0.2: 0.2, 0.4, 0.6, 0.8 of lr0, then constant
    assert _ours(S["constant"](), S["warmup"](epochs=4, start_factor=0.2), epochs=6) == \
        pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1, 0.1], rel=1e-14)
    # one_cycle over 10 epochs, pct 0.3: starts at max/25, peaks at epoch 2, ends near 0
    oc = _ours(S["one_cycle"](max_lr=1.0), None, epochs=10)
    assert oc[0] == pytest.approx(0.04) and oc[2] == pytest.approx(1.0)
    assert oc[9] == pytest.approx(0.04 / 1e4)
    assert all(a < b for a, b in zip(oc[:2], oc[1:3], strict=True))
    assert all(a > b for a, b in zip(oc[2:9], oc[3:10], strict=True))


def test_one_cycle_empty_rising_phase():
    """pct_start*E - 1 == 0: torch divides by zero; we start at max_lr and anneal."""
    oc = _ours(S["one_cycle"](max_lr=1.0, pct_start=0.1), None, epochs=10)
    assert oc[0] == 1.0 and oc[-1] == pytest.approx(0.04 / 1e4)


def test_plateau_hand_values():
    op = S["reduce_on_plateau"](monitor="loss", patience=1, factor=0.5, cooldown=1)
    losses = [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    # bad epochs at 2, 3 -> reduce after epoch 3 (index 2); cooldown 1 eats epoch 4's count
    rows = [{"loss": v} for v in losses]
    s = LrSchedule(op, 0.1, len(rows))
    seen = []
    for row in rows:
        seen.append(s.current)
        s.step(row)
    assert seen == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05]
    assert s.current == 0.025
    assert LrSchedule(S["reduce_on_plateau"](monitor="val_f1"), 0.1, 5).mode == "max"
    assert LrSchedule(S["reduce_on_plateau"](monitor="val_mae"), 0.1, 5).mode == "min"


def test_plateau_missing_monitor_and_other_epochs():
    s = LrSchedule(S["reduce_on_plateau"](monitor="val_loss"), 0.1, 5)
    with pytest.raises(KeyError, match="val_loss"):
        s.step({"loss": 1.0})
    with pytest.raises(ValueError, match="epoch 0 only"):
        s.lr(3)


def test_warmup_then_plateau_ignores_warmup_rows():
    op = S["reduce_on_plateau"](monitor="loss", patience=0, factor=0.5)
    s = LrSchedule(op, 0.1, 10, S["warmup"](epochs=2, start_factor=0.5))
    seen = []
    for v in [5.0, 6.0, 1.0, 2.0, 3.0]:
        seen.append(s.current)
        s.step({"loss": v})
    assert seen == pytest.approx([0.05, 0.075, 0.1, 0.1, 0.05])


ALL = [(c[1], c[2]) for c in CLOSED] + [(op, None) for op in PLATEAU] + \
    [(PLATEAU[1], S["warmup"](epochs=3))]


@pytest.mark.parametrize(("main", "warmup"), ALL)
@pytest.mark.parametrize("cut", [1, 4, 17])
def test_resume_is_exact(main, warmup, cut):
    monitor = getattr(main, "monitor", "loss")
    rows = _rows(monitor, 5)
    full = _ours(main, warmup, rows=rows)
    s = LrSchedule(main, LR0, E, warmup)
    for e in range(cut):
        s.step(rows[e])
    state = s.state_dict()
    resumed = LrSchedule(main, LR0, E, warmup)
    resumed.load_state_dict(dict(state))
    rest = []
    for e in range(cut, E):
        rest.append(resumed.current)
        resumed.step(rows[e])
    assert rest == full[cut:]


def _plan(train_block: str):
    from nnspec.lower import lower
    from nnspec.pipeline import diagnose

    spec, diagnostics = diagnose("model m { input 2; dense 1 }\n"
                                 f"train {{ loss mse; {train_block} }}\n")
    assert spec is not None, diagnostics
    return lower(spec)


def test_make_schedule_from_plan():
    plan = _plan("optimizer sgd(lr=0.3); epochs 8; schedule warmup(epochs=2) then cosine()")
    assert plan.optimizer.lr == 0.3 and plan.schedule.kind == "cosine"
    assert plan.warmup is not None and dict(plan.warmup.options)["epochs"] == 2
    s = make_schedule(plan)
    assert s.lr(0) == pytest.approx(0.03) and s.lr(2) == 0.3
    assert s.lr(5) == pytest.approx(0.15)  # cosine over the 6 epochs after warmup, e=3
    assert make_schedule(_plan("epochs 10")).lr(7) == Sgd().lr
    # the Plan's lr is the one the schedule starts from
    again = dataclasses.replace(plan, optimizer=dataclasses.replace(plan.optimizer, lr=0.6))
    assert make_schedule(again).lr(2) == 0.6


def test_every_schedule_kind_tested():
    kinds = {c[1].kind for c in CLOSED} | {op.kind for op in PLATEAU} | {"warmup"}
    assert kinds == set(SCHEDULES)
