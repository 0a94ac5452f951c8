"""check.train: the `train` block -> ir.Train (loss, optimizer, schedule chain, ...).

Schedules: `schedule S` or `schedule warmup(...) then S`; a lone `warmup(...)` means warmup,
then constant. Anything else with `then` is E310.
"""

from __future__ import annotations

from nnspec import ir
from nnspec.check import missing as missing_fix
from nnspec.check.context import Ctx, show
from nnspec.check.data import op_statement
from nnspec.check.options import build, build_named, salvage, validate
from nnspec.check.statements import Seen, all_args, keywords, scalar
from nnspec.ops.schedules import Constant, OneCycle, ReduceOnPlateau, Warmup
from nnspec.syntax import Block, Call, Name, Statement

_SCALARS = {"epochs": "a number of epochs", "batch": "a batch size or `full`",
            "shuffle": "`true` or `false`", "drop_last": "`true` or `false`",
            "dtype": "`float32` or `float64`", "seed": "a seed", "device": "cpu, cuda or auto"}


def check_train(ctx: Ctx, block: Block, model: ir.Model | None = None,
                data: ir.Data | None = None) -> tuple[ir.Train | None, set[str]]:
    """-> (train, names of the statements that failed). `model` and `data` (checked, if
    they are) only choose the loss a train block without one is offered (its fix).

    A statement that failed (already reported) falls back to its default, so that the rules
    that span blocks still run and every mistake is reported in one pass; the caller must not
    turn such a partial Train into a Spec (ctx.failed is set).
    """
    seen = Seen(ctx, "train")
    given: dict = {}
    failed: set[str] = set()

    def put(key: str, value, span) -> None:
        if value is None:
            failed.add(key)
        else:
            given[key] = (value, span, None)

    for st in block.statements:
        kw = st.keyword.value
        if kw not in keywords("train"):
            ctx.unknown("E202", "statement", kw, st.keyword.span, keywords("train"),
                        where=" in the `train` block", label="not a train statement",
                        taken=[s.keyword.value for s in block.statements])
            continue
        if not seen.once(st):
            continue
        if kw == "loss":
            put("loss", op_statement(ctx, "loss", st, "a loss"), st.span)
        elif kw == "optimizer":
            put("optimizer", op_statement(ctx, "optimizer", st, "an optimizer"), st.span)
        elif kw == "schedule":
            chain = _schedule(ctx, st)
            if chain is None:
                failed.update(("schedule", "warmup"))
            else:
                warmup, schedule = chain
                put("schedule", schedule, st.span)
                if warmup is not None:
                    put("warmup", warmup, warmup.span)
        elif kw == "clip":
            put("clip", build(ctx, ir.Clip, all_args(st), st.span, title="clip"), st.span)
        elif kw == "early_stop":
            put("early_stop", build(ctx, ir.EarlyStop, all_args(st), st.span,
                                    title="early_stop"), st.span)
        elif kw == "metrics":
            put("metrics", _metrics(ctx, st), st.span)
        else:
            scalar(ctx, ir.Train, kw, st, given, failed, _SCALARS[kw])

    def missing(key: str) -> None:
        metrics = given["metrics"][0] if "metrics" in given else ()
        fix = None if "loss" in failed else missing_fix.loss_statement(block, model, data,
                                                                      metrics)
        ctx.error("E309", "the train block needs a `loss` statement", block.kind.span,
                  label="no `loss` in this block",
                  hints=["add e.g. `loss mse` (regression) or `loss categorical_crossentropy`"],
                  fixes=[fix] if fix is not None else [])

    train = validate(ctx, ir.Train, given, block.span, title="train", failed=failed,
                     on_missing=missing)
    if train is None:
        train, dropped = salvage(ir.Train, given, block.span)
        failed |= dropped
    return train, failed  # type: ignore[return-value]


def _schedule(ctx: Ctx, st: Statement):
    """-> (warmup | None, main schedule), or None after reporting."""
    args = all_args(st)
    segments: list[list] = [[]]
    thens: list[Name] = []
    for a in args:
        if isinstance(a, Name) and a.value == "then":
            segments.append([])
            thens.append(a)
        else:
            segments[-1].append(a)
    if not args:
        ctx.error("E303", "`schedule` needs a schedule", st.keyword.span,
                  label="expected a schedule, e.g. `cosine()`")
        return None
    for i, seg in enumerate(segments):
        if not seg:
            where = thens[min(i, len(thens) - 1)].span
            ctx.error("E310", "`then` needs a schedule on each side", where,
                      label="nothing here", hints=["write `schedule warmup(epochs=5) then "
                                                   "cosine()`"])
            return None
    if len(segments) > 2:
        ctx.error("E310", "a schedule chain has at most two parts: `warmup(...) then S`",
                  thens[1].span, label="second `then`")
        return None
    built = []
    for seg in segments:
        head, rest = seg[0], seg[1:]
        if not isinstance(head, (Name, Call)):
            ctx.error("E301", f"`schedule` needs a schedule name, found {show(head)}",
                      head.span, label="expected a schedule")
            return None
        if isinstance(head, Call) and rest:
            ctx.error("E304", "too many values for `schedule`",
                      rest[0].span.cover(rest[-1].span), label="unexpected",
                      hints=["put options inside the parentheses, or chain with `then`"])
            return None
        built.append(build_named(ctx, "schedule", head, rest))
    if any(b is None for b in built):
        return None
    if len(built) == 1:
        only = built[0]
        return (only, Constant()) if isinstance(only, Warmup) else (None, only)
    first, second = built
    if not isinstance(first, Warmup):
        hint = (f"the warmup comes first: `schedule warmup(...) then {first.kind}(...)`"
                if isinstance(second, Warmup) else
                f"write `schedule warmup(epochs=5) then {second.kind}(...)`, or drop `then`")
        ctx.error("E310", f"only `warmup(...)` can come before `then`, found `{first.kind}`",
                  first.span, label="not a warmup", hints=[hint])
        return None
    if isinstance(second, (Warmup, ReduceOnPlateau, OneCycle)):
        why = {"warmup": "a warmup cannot follow a warmup",
               "reduce_on_plateau": "reduce_on_plateau reacts to a monitor and cannot be "
                                    "chained after a warmup",
               "one_cycle": "one_cycle has its own warmup phase (pct_start)"}[second.kind]
        ctx.error("E310", f"`warmup then {second.kind}` is not supported: {why}",
                  second.span, label="cannot follow `then`")
        return None
    return first, second


def _metrics(ctx: Ctx, st: Statement):
    args = all_args(st)
    if not args:
        ctx.error("E303", "`metrics` needs at least one metric", st.keyword.span,
                  label="expected metric names", hints=["e.g. `metrics accuracy, f1`"])
        return None
    out, names, ok = [], {}, True
    for a in args:
        if not isinstance(a, (Name, Call)):
            ctx.error("E301", f"`metrics` lists metric names, found {show(a)}", a.span,
                      label="expected a metric", hints=["write e.g. `metrics f1(average=macro)`"])
            ok = False
            continue
        metric = build_named(ctx, "metric", a, taken=[getattr(getattr(b, "name", b), "value", "")
                                                     for b in args])
        if metric is None:
            ok = False
            continue
        if metric.kind in names:
            ctx.error("E213", f"metric `{metric.kind}` is listed twice", a.span,
                      label="listed again", notes=[f"first listed at column {names[metric.kind]}"])
            ok = False
            continue
        names[metric.kind] = a.span.col
        out.append(metric)
    return tuple(out) if ok else None
