"""check.data: the `data` block -> ir.Data.

Also the checks that need only the data block: a validation (or test) set given twice
(split fraction and a separate source: E409), stratifying a regression target (E409), and a
data path that is a folder, named pipe, socket or device (E413; data.files.probe).
"""

from __future__ import annotations

from pathlib import Path

from nnspec import ir
from nnspec.check.context import Ctx
from nnspec.check.options import build, build_named, salvage, validate
from nnspec.check.statements import Seen, all_args, find, keywords, no_args, option_span
from nnspec.syntax import Block, Call, Name, Statement


def op_statement(ctx: Ctx, family: str, st: Statement, what: str):
    """`loss mse`, `loss huber(delta=0.5)`, `optimizer sgd lr=0.1` -> the op (or None)."""
    args = all_args(st)
    kw = st.keyword.value
    if not args:
        ctx.error("E303", f"`{kw}` needs {what}", st.keyword.span, label=f"expected {what}")
        return None
    head, rest = args[0], args[1:]
    if not isinstance(head, (Name, Call)):
        ctx.error("E301", f"`{kw}` needs {what}, found a value", head.span,
                  label=f"expected {what}")
        return None
    if isinstance(head, Call) and rest:
        span = rest[0].span.cover(rest[-1].span)
        ctx.error("E304", f"too many values for `{kw}`", span, label="unexpected",
                  hints=[f"put options inside the parentheses: `{head.name.value}(key=value)`"])
        return None
    return build_named(ctx, family, head, rest)


def check_data(ctx: Ctx, block: Block) -> tuple[ir.Data | None, set[str]]:
    """-> (data, names of the statements or options that failed). As in check_train, a data
    block with mistakes is still returned, built without what failed (which falls back to
    its default), as long as its source is good: the rules between blocks (the source's
    feature count against `input`, ...) still run, so every mistake shows in one pass."""
    seen = Seen(ctx, "data")
    given: dict = {}
    failed: set[str] = set()
    for st in block.statements:
        kw = st.keyword.value
        if kw in ("source", "validation", "test"):
            if not seen.once(st):
                continue
            src = op_statement(ctx, "source", st, "a data source")
            if src is None:
                failed.add(kw)
            else:
                given[kw] = (src, st.span, None)
        elif kw == "split":
            if not seen.once(st):
                continue
            split = build(ctx, ir.Split, all_args(st), st.span, title="split")
            if split is None:
                failed.add("split")
            else:
                given["split"] = (split, st.span, None)
        elif kw in ("standardize", "normalize"):
            if seen.once(st, "scale") and no_args(ctx, st):
                given["scale"] = (kw, st.span, st.keyword)
        else:
            ctx.unknown("E202", "statement", kw, st.keyword.span, keywords("data"),
                        where=" in the `data` block", label="not a data statement",
                        taken=[s.keyword.value for s in block.statements])

    def missing(key: str) -> None:
        ctx.error("E309", "the data block needs a `source` statement", block.kind.span,
                  label="no `source` in this block",
                  hints=['add e.g. `source csv("data.csv", target=label)` or `source moons()`'])

    data = validate(ctx, ir.Data, given, block.span, title="data", failed=failed,
                    on_missing=missing)
    if data is None:
        data, dropped = salvage(ir.Data, given, block.span)
        failed |= dropped
    if data is None or "source" in failed:
        return None, failed
    if "split" not in failed:
        _split_conflicts(ctx, data, block)  # type: ignore[arg-type]
    _data_files(ctx, data)  # type: ignore[arg-type]
    return data, failed  # type: ignore[return-value]


def _data_files(ctx: Ctx, data: ir.Data) -> None:
    """A data path that is there but is no regular file (a folder, a FIFO, a device) is E413
    now, before `run` would block on it or read it forever. One `stat` per file: nothing is
    opened, so it stays cheap enough for the language server. (Reading the data files is the
    data stage's, after check: pipeline.diagnose(read_data=True).)"""
    from nnspec.data.files import probe, refusal, resolve

    base = Path(ctx.path).parent if ctx.path else Path(".")
    for src in (data.source, data.validation, data.test):
        path = getattr(src, "path", None)
        if not isinstance(path, str) or not path or not src.is_file:  # images(): a folder
            continue
        if "\0" in path:  # no file system takes it (os.stat raises ValueError)
            ctx.error("E413", "a file name cannot contain a NUL character (\\u0000)",
                      getattr(src, "span", None), label="not a file name")
            continue
        kind = probe(resolve(path, base))
        if kind is not None:
            message, label, hints = refusal(path, kind)
            ctx.error("E413", message, getattr(src, "span", None), label=label, hints=hints)


def _split_conflicts(ctx: Ctx, data: ir.Data, block: Block) -> None:
    split = find(block, "split")
    for part in ("validation", "test"):
        fraction = getattr(data.split, part)
        separate = getattr(data, part)
        if fraction > 0 and separate is not None:
            span = option_span(all_args(split), part) if split else None
            ctx.error("E409", f"{part} data is given twice: `split {part}={fraction}` and a "
                      f"separate `{part}` source", span or data.split.span,
                      label="a fraction held out here",
                      notes=[f"the `{part}` source is on {_line(separate.span)}"],
                      hints=[f"remove `{part}=` from `split` or the `{part}` statement"])
    target = data.source.declared_target()
    if data.split.stratify and target is not None and target[0] == "regression":
        span = option_span(all_args(split), "stratify") if split else None
        ctx.error("E409", f"cannot stratify a regression target (`{data.source.kind}` "
                  "generates continuous targets)", span or data.split.span,
                  label="needs class labels", hints=["remove `stratify=true`"])


def _line(span) -> str:
    return f"line {span.line}" if span is not None else "another line"
