"""data.load: ir.Data + spec folder + seed + model facts -> Dataset (the data stage's entry).

Steps: read each source (`source`, and the separate `validation` / `test` sources when given)
into a Table; check the feature count against the model's `input` (and an image source's
(C, H, W) against an image input: E421); encode the targets for the task over all sources at
once; split the main source (data.split); fit the scaler on the training rows only (per
channel when the input is an image, `input C H W`) and apply it to every split; cast to the
run's dtype. Per-pixel warnings (constant or dominated columns, W105) are not given for image
inputs: a blank border pixel is ordinary in an image.

Seeds: the main built-in source draws from PCG64(seed) (its own `seed` option when set, else
the spec's). A separate validation / test built-in without its own seed draws from
PCG64(SeedSequence([seed, 1])) / ([seed, 2]), so it is not a copy of the training data. The
split permutation draws from PCG64(SeedSequence([split seed, 3])): a stream of its own, so
which rows are held out is independent of the generated values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnspec import ir
from nnspec.data.dataset import TASKS, Dataset, Part, Table
from nnspec.data.errors import Where
from nnspec.data.generators import generate
from nnspec.data.readers import read_csv, read_npz
from nnspec.data.scaling import Scaler, dominant_rows, unrepresentable
from nnspec.data.split import split_rows
from nnspec.data.targets import encode
from nnspec.diagnostics import DiagnosticError, error
from nnspec.ops.sources import Csv, Images, Npz, Source, Text

STREAMS = {"validation": 1, "test": 2, "split": 3}


def task_of(spec: ir.Spec) -> str:
    """The data task: binary, multiclass or regression (ir.task_of: the loss, or for a
    regression loss with classification metrics the output layer)."""
    return ir.task_of(spec.model, spec.train)


def n_outputs_of(model: ir.Model) -> int:
    return ir.layer_shapes(model)[-1][1] if model.layers else model.features


def load_spec_data(spec: ir.Spec, *, spec_dir: Path | str | None = None,
                   spec_path: str | None = None, dtype: Any = None) -> Dataset:
    """load_data() with everything taken from a checked spec (spec_dir defaults to the
    folder of spec.path)."""
    path = spec_path if spec_path is not None else spec.path
    if spec.data is None:
        raise DiagnosticError(error("E308", "the spec has no `data` block; training needs one",
                                    spec.span, path=path,
                                    hints=["add e.g. `data { source csv(\"data.csv\", "
                                           "target=y) }`"]))
    if spec_dir is None:
        spec_dir = Path(path).parent if path else Path(".")
    return load_data(spec.data, spec_dir=spec_dir, seed=spec.train.seed,
                     n_inputs=spec.model.features, n_outputs=n_outputs_of(spec.model),
                     task=task_of(spec), dtype=dtype or spec.train.dtype, spec_path=path,
                     input_shape=spec.model.input)


def read_source(src: Source, *, spec_dir: Path | str, seed: int | np.random.SeedSequence,
                where: Where, role: str = "source",
                input_shape: tuple[int, ...] | None = None) -> Table:
    """One source as a Table (no encoding, splitting or scaling). `input_shape`: the model's
    input, which tells how an npz's image array is laid out (data.images)."""
    where = where.at(src.span)
    if isinstance(src, Csv):
        return read_csv(src, spec_dir, where, role)
    if isinstance(src, Npz):
        return read_npz(src, spec_dir, where, role, input_shape)
    if isinstance(src, Text):
        from nnspec.data.text import read_text

        return read_text(src, spec_dir, where, role)
    if isinstance(src, Images):
        from nnspec.data.images import read_image_folder

        return read_image_folder(src.path, spec_dir, where, role, size=src.size,
                                 grayscale=src.grayscale)
    return generate(src, seed)


def _check_image_shape(table: Table, input_shape: tuple[int, ...] | None, where: Where) -> None:
    """E421 when a source of (C, H, W) images meets an image input of another shape (a flat
    input of the same size reads the images row-major, as `flatten` would)."""
    shape = table.shape
    if shape is None or input_shape is None or len(input_shape) != 3 or shape == input_shape:
        return
    dims = " ".join(map(str, shape))
    where.fail("E421", f"the source gives images of shape (C, H, W) = {shape} but the model's "
               f"input is `input {' '.join(map(str, input_shape))}`", label="image shape",
               hints=[f"write `input {dims}` in the model"
                      + (", or resize the images with `size=`" if table.layout and
                         table.layout.get("format") == "images" else "")])


def load_data(data: ir.Data, *, spec_dir: Path | str, seed: int, n_inputs: int,
              n_outputs: int, task: str, dtype: Any = np.float32,
              spec_path: str | None = None, input_shape: tuple[int, ...] | None = None
              ) -> Dataset:
    """Read, check, encode, split and scale the data of a spec.

    input_shape: the model's `input` (default: (n_inputs,)); (C, H, W) reads image arrays
    in either layout and scales per channel.

    task: "regression" | "binary" | "multiclass" (see data.targets for what each needs).
    Raises DiagnosticError (E4xx, E305) pointing at the `source` statement in `spec_path`.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    dtype = np.dtype(dtype)
    input_shape = tuple(input_shape) if input_shape is not None else (n_inputs,)
    image = len(input_shape) == 3
    base = Where(spec_path, data.span)
    where_of = {"source": base.at(data.source.span)}
    tables = {"source": read_source(data.source, spec_dir=spec_dir, seed=seed,
                                    where=where_of["source"], input_shape=input_shape)}
    for role in ("validation", "test"):
        src = getattr(data, role)
        if src is None:
            continue
        frac = getattr(data.split, role)
        where_of[role] = base.at(src.span)
        if frac > 0:
            base.at(data.split.span).fail(
                "E409", f"both a separate {role} source and `split {role}={frac:g}`",
                label="invalid data split", hints=[f"keep one of the two ways to get a {role} set"])
        tables[role] = read_source(src, spec_dir=spec_dir,
                                   seed=np.random.SeedSequence([seed, STREAMS[role]]),
                                   where=where_of[role], role=role,
                                   input_shape=input_shape)
    for role, t in tables.items():
        _check_image_shape(t, input_shape, where_of[role])
        feature_count(t.x.shape[1], t.feature_names, where_of[role], n_inputs)
    roles = list(tables)
    text = _text_vocab(tables, where_of, n_outputs, task)
    classes: list[str] | None
    if text is not None:  # token ids are the targets and the classes: nothing to encode
        ys, classes = [tables[r].y for r in roles], text
    else:
        ys, classes = encode([(tables[r], where_of[r]) for r in roles], task, n_outputs)
    y_of = dict(zip(roles, ys, strict=True))

    main = tables["source"]
    strata = None
    if data.split.stratify and (data.split.validation > 0 or data.split.test > 0):
        if task == "regression":
            base.at(data.split.span).fail("E409", "stratify=true needs class labels, but the "
                                          "loss is a regression loss", label="invalid data split",
                                          hints=["remove stratify=true"])
        strata = y_of["source"]
    split_seed = data.split.seed if data.split.seed is not None else seed
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([split_seed,
                                                                      STREAMS["split"]])))
    train_rows, val_rows, test_rows = split_rows(
        len(main), data.split.validation, data.split.test, rng, base.at(data.split.span),
        strata, classes)

    scaler = Scaler.fit("none" if text is not None else data.scale, every(main.x, train_rows),
                        channels=input_shape[0] if image else None)

    def part(table: Table, y: np.ndarray, rows: np.ndarray, where: Where) -> Part:
        if text is not None:  # token ids stay int64: never scaled, never floats
            return Part(table.x[rows], y[rows], rows)
        x = scaled(scaler, table, rows, dtype, where)
        if task == "multiclass":
            return Part(x, y[rows], rows)
        return Part(x, targets_as(y[rows], table, rows, dtype, where), rows)

    y_main = y_of["source"]
    src_where = where_of["source"]
    val = part(main, y_main, val_rows, src_where) if len(val_rows) else None
    test = part(main, y_main, test_rows, src_where) if len(test_rows) else None
    for role in ("validation", "test"):
        if role in tables:
            t = tables[role]
            p = part(t, y_of[role], np.arange(len(t), dtype=np.int64), where_of[role])
            val, test = (p, test) if role == "validation" else (val, p)
    warnings = [w for t in tables.values() for w in t.warnings]
    train = part(main, y_main, train_rows, src_where)
    if text is None:
        warnings += _warnings(train, main, task, n_outputs, classes, src_where,
                              per_pixel=not image)
    if data.scale != "none" and not image and text is None:
        warnings += extreme_rows(main, train_rows, data.scale, src_where)
    return Dataset(train=train, val=val, test=test, scaler=scaler, task=task,
                   n_outputs=n_outputs, feature_names=main.feature_names,
                   target_names=main.target_names, classes=classes,
                   files=tuple(t.file for t in tables.values() if t.file is not None),
                   layout=main.layout, warnings=tuple(warnings),
                   input_shape=input_shape if image else None)


def _text_vocab(tables: dict[str, Table], where_of: dict[str, Where], n_outputs: int,
                task: str) -> list[str] | None:
    """The vocabulary (the class names) when the sources are text: the main source's, which
    a separate validation / test text must share (E428: read through it instead would need
    it built first); None for other sources. The output layer must have one unit per id."""
    from nnspec.data.text import UNK, Vocabulary, is_text

    main = tables["source"]
    if not is_text(main.layout):
        return None
    assert main.layout is not None
    vocab = Vocabulary.from_dict(main.layout)
    for role, t in tables.items():
        if role != "source" and not (is_text(t.layout) and t.layout == main.layout):
            where_of[role].fail("E428", f"a separate {role} source with a text(): its "
                                "token ids would come from another vocabulary than the "
                                "training text's", label="another vocabulary",
                                hints=["split the one text() source instead: `split "
                                       f"{role}=0.1`"])
    size = len(vocab.tokens)
    full = int(main.layout.get("size", size))
    if task != "multiclass" or n_outputs != full:
        where_of["source"].fail("E305", f"the text has a vocabulary of {full} ids but the model "
                                f"outputs {n_outputs} value{'s' if n_outputs != 1 else ''} per "
                                "sample", label="vocabulary size",
                                hints=[f"end the model with `dense {full} softmax` and train "
                                       "with sparse_categorical_crossentropy"])
    # ids no token took are classes too (the output layer has a unit for each)
    return list(vocab.tokens) + [f"{UNK}{i}" for i in range(size, full)]


def every(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """x[rows] for split_rows' sorted, distinct `rows`, read only: x itself when they are
    every row (no split), instead of a copy as large as the data set (on a VM whose fresh
    memory costs ~2.5 s a GB to touch, a 60,000 x 784 set's copy took 0.8 s)."""
    return x if len(rows) == len(x) else x[rows]


def feature_count(f: int, names: list[str], where: Where, n_inputs: int) -> None:
    """E405 when a source's `f` features (named `names`) are not the model's input size."""
    if f != n_inputs:
        where.fail("E405", f"the data has {f} feature{'s' if f != 1 else ''} but "
                   f"the model's input is {n_inputs}", label="feature count",
                   notes=[f"features: {', '.join(names[:12])}" + (", ..." if f > 12 else "")],
                   hints=[f"write `input {f}` in the model, or select "
                          f"{n_inputs} feature columns"])


def scaled(scaler: Scaler, table: Table, rows: np.ndarray, dtype: np.dtype,
           where: Where) -> np.ndarray:
    """The scaled features of `rows` in the run's dtype; a value that dtype cannot hold after
    scaling is E415 at its cell."""
    x = every(table.x, rows)
    if (scaler.kind == "none" and x is table.x and x.dtype == dtype
            and x.flags.writeable):
        # nothing to scale or convert, every row: the table's own array (nothing writes to
        # it), finite since read (table_from_arrays); a large set is not copied
        return x
    x = scaler.apply(x, dtype)  # (a new array)
    bad = unrepresentable(x)
    if bad is not None:
        i, j = bad
        raw = float(table.x[rows[i], j])
        how = {"none": "", "standardize": " after standardizing",
               "normalize": " after normalizing"}[scaler.kind]
        value = float(np.asarray(x[i, j], np.float64)) if np.isfinite(x[i, j]) else None
        scaled_to = "" if not how or value is None else f" ({value:.4g})"
        where.fail("E415", f"{table.locate_feature(int(rows[i]), j)}: feature "
                   f"`{table.feature_names[j]}` is {raw:.6g}{how}{scaled_to}: beyond the range "
                   f"of {dtype.name} (±{np.finfo(dtype).max:.3g})",
                   label="value out of range", notes=_range_notes(scaler, j),
                   hints=_range_hints(dtype))
    return x


def targets_as(y: np.ndarray, table: Table, rows: np.ndarray, dtype: np.dtype,
               where: Where) -> np.ndarray:
    """Regression / binary targets in the run's dtype; one it cannot hold is E415."""
    with np.errstate(over="ignore"):
        out = y.astype(dtype)
    bad = unrepresentable(out.reshape(len(out), -1))
    if bad is not None:
        i, j = bad
        where.fail("E415", f"{table.locate(int(rows[i]))}: target "
                   f"`{table.target_names[min(j, len(table.target_names) - 1)]}` is "
                   f"{float(y.reshape(len(y), -1)[i, j]):.6g}: beyond the range of {dtype.name} "
                   f"(±{np.finfo(dtype).max:.3g})", label="value out of range",
                   hints=_range_hints(dtype, target=True))
    return out


def _range_notes(scaler: Scaler, j: int) -> list[str]:
    if scaler.kind == "standardize":
        std = scaler.stat("std", j)
        return [f"standardized with the training split's mean {scaler.stat('mean', j):.6g} "
                f"and std {std:.6g}" + (" (a constant column: divided by 1)" if std == 0
                                          else "")]
    if scaler.kind == "normalize":
        return [f"normalized with the training split's min {scaler.stat('min', j):.6g} and "
                f"max {scaler.stat('max', j):.6g}"]
    return []


def _range_hints(dtype: np.dtype, target: bool = False) -> list[str]:
    what = "target" if target else "column"
    if dtype == np.float32:
        return [f"rescale the {what} (other units, a logarithm), fix the row, or train in "
                "float64 (`dtype float64` in the train block)"]
    return [f"rescale the {what} (other units, a logarithm) or fix the row"]


def extreme_rows(main: Table, train_rows: np.ndarray, kind: str, where: Where) -> list:
    """W105 for each feature whose scale a few training rows dominate (at most 3 named)."""
    out = []
    found = dominant_rows(np.asarray(every(main.x, train_rows), np.float64))
    for k, (j, rows, std, rest) in enumerate(found[:5]):
        others = ([f"{len(found) - 5} more features have such rows"]
                  if k == 4 and len(found) > 5 else [])
        cells = main.locate_features((int(train_rows[r]), j) for r in rows[:3])
        more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
        n = len(rows)
        out.append(where.warn(
            "W105", f"{n} row{'s' if n != 1 else ''} dominate{'s' if n == 1 else ''} the "
            f"scale of feature `{main.feature_names[j]}`: {', '.join(cells)}{more}",
            label="extreme values",
            notes=[f"the column's standard deviation is {std:.4g} with "
                   f"{'it' if n == 1 else 'them'} and {rest:.4g} without: {kind} squeezes "
                   "every other row into a sliver of the range", *others],
            hints=["fix or remove those rows, or transform the column (e.g. a logarithm)"]))
    return out


def _warnings(train: Part, main: Table, task: str, n_outputs: int,
              classes: list[str] | None, where: Where, per_pixel: bool = True) -> list:
    out = []
    raw = every(main.x, train.rows)
    const = [main.feature_names[j] for j in np.flatnonzero(raw.min(axis=0) == raw.max(axis=0))]
    if const and len(train) > 1 and per_pixel:
        out.append(where.warn("W105", f"feature{'s' if len(const) > 1 else ''} "
                              f"{', '.join(f'`{c}`' for c in const[:8])} "
                              f"{'are' if len(const) > 1 else 'is'} constant in the training "
                              "split", label="constant feature",
                              notes=["a constant feature carries no information"]))
    if task == "multiclass" or (task == "binary" and n_outputs == 1):
        labels = train.y if task == "multiclass" else train.y[:, 0].astype(np.int64)
        k = n_outputs if task == "multiclass" else 2
        present = np.unique(labels)
        if len(present) < 2:
            out.append(where.warn("W105", "the training split holds a single class",
                                  label="one class", notes=["the model can only learn to "
                                                            "predict that class"]))
        elif classes is not None and len(classes) < k and task == "multiclass":
            out.append(where.warn("W105", f"the data has {len(classes)} classes but the output "
                                  f"layer has {n_outputs} units", label="unused outputs"))
    return out
