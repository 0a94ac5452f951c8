"""check.output: the `output` block -> ir.Output."""

from __future__ import annotations

from typing import get_args

from nnspec import ir
from nnspec.check.context import Ctx, did_you_mean, show
from nnspec.check.options import FAIL, convert, options, validate
from nnspec.check.statements import Seen, all_args, keywords, scalar
from nnspec.syntax import Block, Name, Option, Statement, String

ARTIFACTS: tuple[str, ...] = get_args(ir.Artifact)


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
    out = validate(ctx, ir.Output, given, block.span, title="output", failed=failed,
                   names={"checkpoint_every": "checkpoint every"})
    return None if failed else out  # type: ignore[return-value]


def _checkpoint(ctx: Ctx, st: Statement, given: dict, failed: set[str]) -> None:
    """`checkpoint every=N` (or `checkpoint N`)."""
    args = all_args(st)
    field = options(ir.Output)["checkpoint_every"]
    if len(args) != 1 or (isinstance(args[0], Option) and args[0].key.value != "every"):
        bad = args[0] if len(args) == 1 else None
        if bad is not None:
            ctx.unknown("E211", "option", bad.key.value, bad.key.span, ["every"],
                        where=" for `checkpoint`")
        elif not args:
            ctx.error("E303", "`checkpoint` needs `every=N`", st.keyword.span,
                      label="expected `every=N`")
        else:
            ctx.error("E304", "`checkpoint` takes one option, `every=N`",
                      args[1].span.cover(args[-1].span), label="unexpected")
        failed.add("checkpoint_every")
        return
    node = args[0].value if isinstance(args[0], Option) else args[0]
    value = convert(ctx, "checkpoint every", "checkpoint every", field, node)
    if value is FAIL:
        failed.add("checkpoint_every")
    else:
        given["checkpoint_every"] = (value, node.span, node)


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
