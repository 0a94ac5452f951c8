"""check.output: the `output` block -> ir.Output."""

from __future__ import annotations

from typing import get_args

from nnspec import ir
from nnspec.check.context import Ctx, did_you_mean, show
from nnspec.check.options import FAIL, convert, options, validate
from nnspec.check.statements import Seen, all_args, find, keywords, scalar
from nnspec.syntax import Block, Name, Option, Statement, String

ARTIFACTS: tuple[str, ...] = get_args(ir.Artifact)
# `trajectory every=K` copies all P parameters every K steps: P / K values per step, on
# average, go to trajectory.npz. Above this the copy would cost more than a small model's step
# and the file would grow by gigabytes (issue 15: the pictures are for small models).
TRAJECTORY_VALUES_PER_STEP = 100_000


def check_output(ctx: Ctx, block: Block) -> ir.Output | None:
    seen = Seen(ctx, "output")
    given: dict = {}
    failed: set[str] = set()
    for st in block.statements:
        kw = st.keyword.value
        if kw not in keywords("output"):
            ctx.unknown("E202", "statement", kw, st.keyword.span, keywords("output"),
                        where=" in the `output` block", label="not an output statement",
                        taken=[s.keyword.value for s in block.statements])
        elif not seen.once(st):
            continue
        elif kw == "dir":
            scalar(ctx, ir.Output, "dir", st, given, failed, "a directory")
        elif kw == "checkpoint":
            _checkpoint(ctx, st, given, failed)
        elif kw == "artifacts":
            _artifacts(ctx, st, given, failed)
        elif kw == "trajectory":
            _trajectory(ctx, st, given, failed)
    out = validate(ctx, ir.Output, given, block.span, title="output", failed=failed,
                   names={"checkpoint_every": "checkpoint every",
                          "checkpoint_seconds": "checkpoint seconds",
                          "trajectory_every": "trajectory every"})
    return None if failed else out  # type: ignore[return-value]


_POLICY = {"every": "checkpoint_every", "seconds": "checkpoint_seconds"}
_EXPECTED = "`every=N` (epochs), `seconds=S` (wall time) or `off`"


def _checkpoint(ctx: Ctx, st: Statement, given: dict, failed: set[str]) -> None:
    """`checkpoint every=N` (or `checkpoint N`), `checkpoint seconds=S` or `checkpoint off`;
    `every=0` is `off` (the form `--set output.checkpoint_every=0` uses)."""
    args = all_args(st)
    if len(args) != 1:
        if not args:
            ctx.error("E303", f"`checkpoint` needs {_EXPECTED}", st.keyword.span,
                      label="expected `every=N`, `seconds=S` or `off`")
        else:
            ctx.error("E304", f"`checkpoint` takes one of {_EXPECTED}",
                      args[1].span.cover(args[-1].span), label="unexpected")
        failed.add("checkpoint_every")
        return
    arg = args[0]
    if isinstance(arg, Name) and arg.value == "off":
        given["checkpoint_every"] = (0, arg.span, arg)
        return
    if isinstance(arg, (Name, String)):
        ctx.error("E301", f"`checkpoint` takes {_EXPECTED}, found {show(arg)}", arg.span,
                  label="expected `every=N`, `seconds=S` or `off`",
                  hints=["e.g. `checkpoint every=5`, `checkpoint seconds=60` or `checkpoint off`"])
        failed.add("checkpoint_every")
        return
    key = arg.key.value if isinstance(arg, Option) else "every"
    if key not in _POLICY:
        assert isinstance(arg, Option)
        ctx.unknown("E211", "option", key, arg.key.span, [*_POLICY, "off"],
                    where=" for `checkpoint`")
        failed.add("checkpoint_every")
        return
    name = _POLICY[key]
    node = arg.value if isinstance(arg, Option) else arg
    value = convert(ctx, f"checkpoint {key}", f"checkpoint {key}", options(ir.Output)[name], node)
    if value is FAIL:
        failed.add(name)
    else:
        given[name] = (value, node.span, node)


def _artifacts(ctx: Ctx, st: Statement, given: dict, failed: set[str]) -> None:
    args = all_args(st)
    names: list[str] = []
    if not args:
        ctx.error("E303", "`artifacts` needs at least one name", st.keyword.span,
                  label="expected names", hints=["known: " + ", ".join(ARTIFACTS)])
    for a in args:
        value = a.value if isinstance(a, (Name, String)) else None
        if value not in ARTIFACTS:
            hint, fixes = did_you_mean(str(value), ARTIFACTS, a.span if isinstance(a, Name)
                                       else None, taken=[getattr(b, "value", None) for b in args])
            ctx.error("E301", f"artifacts must be one of {', '.join(ARTIFACTS)}, found {show(a)}",
                      a.span, label="not an artifact", hints=[hint] if value else [],
                      fixes=fixes if value else ())
        elif value in names:
            ctx.error("E213", f"artifact `{value}` is listed twice", a.span, label="again")
        else:
            names.append(value)
    if len(names) != len(args) or not args:
        failed.add("artifacts")
    else:
        given["artifacts"] = (tuple(names), st.span, None)


def _trajectory(ctx: Ctx, st: Statement, given: dict, failed: set[str]) -> None:
    """`trajectory` (every step), `trajectory every=N` or `trajectory N` (issue 15)."""
    args = all_args(st)
    if not args:
        given["trajectory_every"] = (1, st.keyword.span, None)
        return
    if len(args) > 1:
        ctx.error("E304", "`trajectory` takes one option, `every=N`",
                  args[1].span.cover(args[-1].span), label="unexpected")
        failed.add("trajectory_every")
        return
    arg = args[0]
    if isinstance(arg, Option) and arg.key.value != "every":
        ctx.unknown("E211", "option", arg.key.value, arg.key.span, ["every"],
                    where=" for `trajectory`")
        failed.add("trajectory_every")
        return
    node = arg.value if isinstance(arg, Option) else arg
    if isinstance(node, (Name, String)):
        ctx.error("E301", f"`trajectory` takes `every=N` (optimizer steps), found {show(node)}",
                  node.span, label="expected `every=N`",
                  hints=["e.g. `trajectory every=10`, or `trajectory` for every step"])
        failed.add("trajectory_every")
        return
    value = convert(ctx, "trajectory every", "trajectory every",
                    options(ir.Output)["trajectory_every"], node)
    if value is FAIL:
        failed.add("trajectory_every")
    else:
        given["trajectory_every"] = (value, node.span, node)


def trajectory_rules(ctx: Ctx, output: ir.Output, model: ir.Model, blocks: dict) -> None:
    """E435 when `trajectory every=K` would record more than TRAJECTORY_VALUES_PER_STEP
    parameter values per optimizer step on average (P / K); the hint names the smallest
    `every` that fits."""
    every = output.trajectory_every
    if every is None:
        return
    from nnspec.ops.layers import param_count

    p = sum(param_count(layer, x) for layer, (x, _) in zip(model.layers, model.shapes(),
                                                           strict=True))
    if p / every <= TRAJECTORY_VALUES_PER_STEP:
        return
    st = find(blocks.get("output"), "trajectory")
    least = -(-p // TRAJECTORY_VALUES_PER_STEP)
    ctx.error("E435", f"`trajectory every={every}` would copy all {p:,} parameters every "
              f"{'step' if every == 1 else f'{every} steps'}: more than "
              f"{TRAJECTORY_VALUES_PER_STEP:,} values per step", st.span if st else None,
              label="too large a trajectory",
              notes=["a trajectory is meant for small models (paths and loss landscapes)"],
              hints=[f"record less often: `trajectory every={least}` or more"])
