"""check.sweep: the `sweep` block -> sweep.spec.Sweep + diagnostics at its statements.

The paths are the ones `--set` takes; each value is applied to the checked spec as `--set`
would apply it (run/overrides.py), so an unknown path gets the same did-you-mean (E211) and a
bad value the same words (E301/E302), here at the statement. Then every grid point's spec is
checked whole, as the run would see it (rules between blocks: a batch larger than the data, a
monitor without validation data): a point that does not check is E316 at its values.
"""

from __future__ import annotations

import itertools
from typing import Literal, cast

from nnspec import ir
from nnspec.check.context import Ctx, show
from nnspec.check.statements import Seen, all_args, keywords, single_value
from nnspec.diagnostics import Diagnostic, DiagnosticError, Span
from nnspec.sweep.spec import RANDOM_KINDS, SEED_PATH, Grid, Random, Sweep, points
from nnspec.syntax import Block, Call, ListValue, Name, Number, Option, Statement, String

MAX_CHECKED_POINTS = 64  # whole-spec checks here (the editor runs this on every edit); `nnspec
# sweep` checks every point again before it runs anything (sweep/run.py, precheck)


def text_of(node: object) -> str:
    """A syntax value as `--set` text (`0.1`, `full`, `sgd(lr=0.1, momentum=0.9)`)."""
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Name):
        return node.value
    if isinstance(node, String):
        from nnspec.unparse import quote

        return quote(node.value)
    if isinstance(node, Call):
        return f"{node.name.value}({', '.join(text_of(a) for a in node.args)})"
    if isinstance(node, ListValue):
        return ",".join(text_of(v) for v in node.items)
    if isinstance(node, Option):
        return f"{node.key.value}={text_of(node.value)}"
    raise TypeError(node)


def _setting(ctx: Ctx, st: Statement, what: str, example: str) -> Option | None:
    """The one `PATH = VALUE` of a grid or random statement (E315 otherwise)."""
    args = all_args(st)
    if len(args) != 1 or not isinstance(args[0], Option):
        span = args[0].span.cover(args[-1].span) if args else st.keyword.span
        ctx.error("E315", f"`{st.keyword.value}` takes PATH = {what}", span,
                  label=f"expected PATH = {what}", hints=[f"e.g. `{example}`"])
        return None
    return args[0]


class _Checker:
    def __init__(self, ctx: Ctx, spec: ir.Spec | None) -> None:
        self.ctx, self.spec = ctx, spec
        self.bad_paths: set[str] = set()

    def value(self, path: str, node: object) -> str:
        """The `--set` text of a value: a quoted op (`"sgd(lr=0.1, momentum=0.9)"`, as the
        shell needs it on the command line) stands for the op where a string does not fit."""
        text = text_of(node)
        if isinstance(node, String) and self.spec is not None and path not in self.bad_paths:
            from nnspec.run.overrides import apply_overrides

            try:
                apply_overrides(self.spec, [f"{path}={text}"])
            except DiagnosticError:
                try:
                    apply_overrides(self.spec, [f"{path}={node.value}"])
                    return node.value
                except DiagnosticError:
                    pass
        return text

    def apply(self, path: str, path_span: Span, value: str, span: Span) -> bool:
        """Apply `path=value` to the spec as --set does; report what it says at the spec."""
        if self.spec is None or path in self.bad_paths:
            return self.spec is not None
        from nnspec.run.overrides import apply_overrides

        try:
            apply_overrides(self.spec, [f"{path}={value}"])
        except DiagnosticError as exc:
            for d in exc.diagnostics:
                if d.code in ("E211", "E102") or "nothing to change" in d.message:
                    self.bad_paths.add(path)
                    self._report(d, path_span, "not a setting of this spec")
                else:
                    self._report(d, span, "not a valid value here")
            return False
        return True

    def _report(self, d: Diagnostic, span: Span, label: str) -> None:
        self.ctx.diagnostics.append(d.model_copy(update={
            "span": span, "path": self.ctx.path, "label": label,
            "notes": tuple(n for n in d.notes if not n.startswith("in `--set"))}))

    def grid(self, st: Statement) -> Grid | None:
        opt = _setting(self.ctx, st, "[VALUE, ...]", "grid train.optimizer.lr = [0.01, 0.1, 1]")
        if opt is None:
            return None
        if not isinstance(opt.value, ListValue) or not opt.value.items:
            self.ctx.error("E315", f"`grid {opt.key.value}` needs a list of values, found "
                           f"{show(opt.value)}", opt.value.span, label="expected [VALUE, ...]",
                           hints=[f"e.g. `grid {opt.key.value} = [{text_of(opt.value)}, ...]`"
                                  if not isinstance(opt.value, ListValue) else
                                  "give at least one value"])
            return None
        values = [self.value(opt.key.value, v) for v in opt.value.items]
        ok = all([self.apply(opt.key.value, opt.key.span, v, item.span)
                  for v, item in zip(values, opt.value.items, strict=True)])
        dup = [v for i, v in enumerate(values) if v in values[:i]]
        if dup:
            self.ctx.error("E317", f"`{dup[0]}` is listed twice in `grid {opt.key.value}`",
                           opt.value.span, label="a value given twice")
            ok = False
        return Grid(path=opt.key.value, values=tuple(values), span=st.span,
                    spans=tuple(v.span for v in opt.value.items)) if ok else None

    def random(self, st: Statement) -> Random | None:
        example = "random train.optimizer.lr = loguniform(0.0001, 1)"
        opt = _setting(self.ctx, st, "uniform(LOW, HIGH), loguniform(LOW, HIGH) or "
                       "choice(VALUE, ...)", example)
        if opt is None:
            return None
        call, path = opt.value, opt.key.value
        if not isinstance(call, Call) or call.name.value not in RANDOM_KINDS:
            got = call.name.value if isinstance(call, Call) else None
            self.ctx.unknown("E315", "distribution", got or text_of(call), call.span,
                             RANDOM_KINDS, where=f" for `random {path}`",
                             label="not a distribution", extra_hints=[f"e.g. `{example}`"])
            return None
        kind = call.name.value
        if kind == "choice":
            if not call.args or any(isinstance(a, Option) for a in call.args):
                self.ctx.error("E315", "`choice` needs the values to choose from", call.span,
                               label="expected choice(VALUE, ...)",
                               hints=[f"e.g. `random {path} = choice(1, 32, full)`"])
                return None
            values = tuple(self.value(path, a) for a in call.args)
            ok = all([self.apply(path, opt.key.span, v, a.span)
                      for v, a in zip(values, call.args, strict=True)])
            return Random(path=path, kind="choice", choices=values, integer=False,
                          span=st.span) if ok else None
        nums = [a for a in call.args if isinstance(a, Number)]
        if len(call.args) != 2 or len(nums) != 2:
            self.ctx.error("E315", f"`{kind}` takes two numbers, LOW and HIGH", call.span,
                           label=f"expected {kind}(LOW, HIGH)", hints=[f"e.g. `{example}`"])
            return None
        low, high = float(nums[0].value), float(nums[1].value)
        if not low < high or (kind == "loguniform" and low <= 0):
            why = "LOW must be less than HIGH" if not low < high else \
                "a log scale needs LOW greater than 0"
            self.ctx.error("E315", f"`{kind}({nums[0].text}, {nums[1].text})`: {why}",
                           call.span, label="not a range")
            return None
        integer = all(isinstance(n.value, int) for n in nums) and self._integer(path)
        ends = [str(int(n.value)) if integer else repr(float(n.value)) for n in nums]
        ok = all([self.apply(path, opt.key.span, e, n.span)
                  for e, n in zip(ends, nums, strict=True)])
        return Random(path=path, kind=cast(Literal["uniform", "loguniform"], kind),
                      low=low, high=high, integer=integer,
                      span=st.span) if ok else None

    def _integer(self, path: str) -> bool:
        """Whether the setting holds whole numbers (`train.batch`, `model.layers.0.units`)."""
        node: object = self.spec
        for key in path.split("."):
            node = node[int(key)] if isinstance(node, tuple) and key.isdigit() else \
                getattr(node, key, None)
        return isinstance(node, int) and not isinstance(node, bool)

    def count(self, st: Statement, given: dict, key: str) -> None:
        node = single_value(self.ctx, st, "a whole number")
        if node is None:
            return
        if not isinstance(node, Number) or not isinstance(node.value, int) or node.value < 1:
            self.ctx.error("E302" if isinstance(node, Number) else "E301",
                           f"`{key}` must be a whole number of at least 1, found {show(node)}",
                           getattr(node, "span", None), label="expected a whole number >= 1")
            return
        if node.value > 2**31 - 1:
            self.ctx.error("E302", f"`{key}` is too large", node.span, label="too large")
            return
        given[key] = (node.value, node.span)


def check_sweep(ctx: Ctx, block: Block, spec: ir.Spec | None) -> Sweep | None:
    """The Sweep of a `sweep` block; paths and values are judged against `spec` (the checked
    spec, None when it did not check: then only the block's own form is checked)."""
    ch = _Checker(ctx, spec)
    seen = Seen(ctx, "sweep")
    errors = ctx.error_count
    grids: list[Grid] = []
    randoms: list[Random] = []
    given: dict = {}
    metric: tuple[str, Span] | None = None
    where: dict[str, Span] = {}
    for st in block.statements:
        kw = st.keyword.value
        if kw not in keywords("sweep"):
            ctx.unknown("E202", "statement", kw, st.keyword.span, keywords("sweep"),
                        where=" in the `sweep` block", label="not a sweep statement",
                        taken=[s.keyword.value for s in block.statements
                               if s.keyword.value not in ("grid", "random")])
            continue
        if kw not in ("grid", "random") and not seen.once(st):
            continue
        if kw in ("grid", "random"):
            args = all_args(st)
            key = args[0] if len(args) == 1 and isinstance(args[0], Option) else None
            if key is not None:
                path = key.key.value
                if path == SEED_PATH:
                    ctx.error("E317", f"`{kw} {SEED_PATH}`: the seeds of a sweep are set with "
                              "`seeds K`", key.key.span, label="use `seeds K`",
                              hints=["`seeds 3` runs every point with train.seed, +1 and +2"])
                    continue
                if path in where:
                    ctx.error("E317", f"`{path}` is swept twice", key.key.span,
                              label="swept again",
                              notes=[f"first swept on line {where[path].line}"])
                    continue
                where[path] = key.key.span
            made = ch.grid(st) if kw == "grid" else ch.random(st)
            if made is not None:
                (grids if kw == "grid" else randoms).append(made)  # type: ignore[arg-type]
        elif kw in ("trials", "seeds", "parallel"):
            ch.count(st, given, kw)
        elif kw == "metric":
            node = single_value(ctx, st, "a metric name")
            if node is not None:
                if not isinstance(node, Name):
                    ctx.error("E301", f"`metric` takes a name, found {show(node)}",
                              getattr(node, "span", None),
                              label="expected a name", hints=["e.g. `metric val_loss`"])
                else:
                    metric = (node.value, node.span)
    if "trials" in given and not randoms and ctx.error_count == errors:
        ctx.error("E315", "`trials` counts random points, but nothing is drawn at random",
                  given["trials"][1], label="no `random` statement",
                  hints=["add e.g. `random train.optimizer.lr = loguniform(0.0001, 1)`, or "
                         "remove `trials`"])
    if metric is not None and spec is not None:
        _check_metric(ctx, spec, *metric)
    if ctx.error_count != errors:
        return None
    sweep = Sweep(grid=tuple(grids), random=tuple(randoms),
                  trials=given.get("trials", (None,))[0], seeds=given.get("seeds", (1,))[0],
                  parallel=given.get("parallel", (None,))[0],
                  metric=metric[0] if metric else None, span=block.span)
    if spec is not None:
        check_points(ctx, sweep, spec)
    if not randoms and sweep.seeds == 1 and all(len(g.values) == 1 for g in grids):
        ctx.warning("W111", "this sweep varies nothing: it runs the spec once", block.kind.span,
                    label="a single trial",
                    hints=["give a `grid` two or more values, add a `random` setting or "
                           "`seeds K`"])
    return sweep


def metric_names(spec: ir.Spec) -> list[str]:
    """The history columns a sweep can rank by."""
    names = ["loss", "val_loss"]
    for m in spec.train.metrics:
        names += [m.kind, "val_" + m.kind]
    return names


def has_validation(spec: ir.Spec) -> bool:
    return spec.data is not None and (spec.data.split.validation > 0 or
                                      spec.data.validation is not None)


def _check_metric(ctx: Ctx, spec: ir.Spec, name: str, span: Span) -> None:
    names = metric_names(spec)
    if name not in names:
        ctx.unknown("E215", "metric", name, span, names, where=" for `metric`",
                    label="not a column of the history")
    elif name.startswith("val_") and spec.data is not None and not has_validation(spec):
        ctx.error("E407", f"`metric {name}` needs validation data", span,
                  label="needs a validation split",
                  hints=["add `split validation=0.2` to the data block, or rank by "
                         f"`{name.removeprefix('val_')}`"])


def check_points(ctx: Ctx, sweep: Sweep, spec: ir.Spec) -> None:
    """E316 for each grid point whose whole spec does not check (at its values)."""
    from nnspec.check import check
    from nnspec.parse import parse
    from nnspec.run.overrides import apply_overrides
    from nnspec.unparse import unparse

    spans = {(g.path, v): s for g in sweep.grid for v, s in
             itertools.zip_longest(g.values, g.spans)}
    seen: set[tuple] = set()
    grid_only = sweep.model_copy(update={"random": ()})
    failing: dict[tuple, list[Diagnostic]] = {}
    for pt in points(grid_only, spec.train.seed)[:MAX_CHECKED_POINTS]:
        key = tuple(pt.items())
        if key in seen or not pt:
            continue
        seen.add(key)
        try:
            resolved = apply_overrides(spec, [f"{p}={v}" for p, v in pt.items()])
        except DiagnosticError:
            continue  # reported per value
        doc, problems = parse(unparse(resolved))
        _, found = check(doc)
        errors = [d for d in (*problems, *found) if d.is_error]
        if errors:
            failing[key] = errors
    # A value every point of which fails is blamed once, at that value.
    blamed: set[tuple] = set()
    for item, span in spans.items():
        having = [k for k in seen if item in k]
        if len(sweep.grid) > 1 and having and all(k in failing for k in having):
            errors = failing[having[0]]
            ctx.error("E316", f"every sweep point with `{item[0]}={item[1]}` fails to check: "
                      f"{errors[0].message}", span, label="no point with this value checks",
                      notes=[f"{d.code}: {d.message}" for d in errors[:4]],
                      hints=["drop this value from the grid, or change the spec so that "
                             "every point checks"])
            blamed.update(having)
    for key, errors in failing.items():
        if key in blamed:
            continue
        shown = ", ".join(f"{p}={v}" for p, v in key)
        span = next((spans[k] for k in key if spans.get(k) is not None), None)
        ctx.error("E316", f"the sweep point `{shown}` does not check: {errors[0].message}",
                  span, label="this point's spec has an error",
                  notes=[f"{d.code}: {d.message}" for d in errors[:4]],
                  hints=["drop this value from the grid, or change the spec so that every "
                         "point checks"])
