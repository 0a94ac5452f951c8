"""The sweep block: checked with positions (check/sweep.py), expanded into trials (sweep/spec.py).

Nothing here trains: every test is parse + check, or the expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweepspecs import BASE

from nnspec.check import Parts, check
from nnspec.parse import parse
from nnspec.pipeline import diagnose
from nnspec.sweep.spec import expand, points

ROOT = Path(__file__).resolve().parents[2]


def text(sweep: str) -> str:
    return BASE.replace("EPOCHS", "4") + sweep


def found(sweep: str) -> list:
    _, diags = diagnose(text(sweep), "t.nn")
    return diags


def sweep_of(sweep: str):
    parts = Parts()
    spec, diags = check(parse(text(sweep), "t.nn")[0], parts)
    assert spec is not None, diags
    return spec, parts.sweep


def at(diags: list, code: str):
    hits = [d for d in diags if d.code == code]
    assert hits, [(d.code, d.message) for d in diags]
    return hits[0]


def line_col(sweep: str, needle: str) -> tuple[int, int]:
    body = text(sweep)
    offset = body.index(needle, body.index("sweep {"))
    line = body.count("\n", 0, offset) + 1
    return line, offset - (body.rfind("\n", 0, offset) + 1) + 1


def test_dotted_paths_parse_as_one_name() -> None:
    doc, problems = parse("sweep { grid model.layers.0.units = [4, 8] }\n")
    assert problems == []
    opt = doc.blocks[0].statements[0].args[0]
    assert opt.key.value == "model.layers.0.units"


def test_a_clean_sweep_checks_and_expands() -> None:
    spec, sw = sweep_of("sweep {\n    grid train.optimizer.lr = [0.01, 0.1, 1.0]\n"
                        "    grid train.batch = [1, full]\n    seeds 2\n    parallel 2\n}\n")
    assert [g.path for g in sw.grid] == ["train.optimizer.lr", "train.batch"]
    trials = expand(sw, spec.train.seed)
    assert len(trials) == 3 * 2 * 2
    assert [t.seed for t in trials[:4]] == [3, 4, 3, 4]
    assert trials[0].sets == ["train.optimizer.lr=0.01", "train.batch=1", "train.seed=3"]
    assert trials[3].label == "lr=0.01, batch=full, seed=4"
    assert len({t.name for t in trials}) == len(trials)
    assert {t.point for t in trials} == set(range(6))


def test_a_spec_with_a_sweep_block_still_runs_as_a_spec() -> None:
    spec, diags = diagnose((ROOT / "specs" / "sweep_lr.nn").read_text(), "sweep_lr.nn")
    assert spec is not None and not [d for d in diags if d.is_error]


def test_unknown_path_is_E211_at_the_path_with_did_you_mean() -> None:
    sweep = "sweep {\n    grid train.optimzer.lr = [0.01, 0.1]\n}\n"
    d = at(found(sweep), "E211")
    assert (d.span.line, d.span.col) == line_col(sweep, "train.optimzer.lr")
    assert "did you mean `optimizer`?" in " ".join(d.hints)
    assert len([x for x in found(sweep) if x.code == "E211"]) == 1  # once per path


def test_bad_value_is_reported_at_the_value() -> None:
    sweep = "sweep {\n    grid train.optimizer.lr = [0.01, -1]\n}\n"
    d = at(found(sweep), "E302")
    assert (d.span.line, d.span.col) == line_col(sweep, "-1]")
    assert "lr must be greater than 0" in d.message


def test_ops_in_a_grid_are_spec_text_quoted_or_not() -> None:
    spec, sw = sweep_of('sweep {\n    grid train.optimizer = [adam(lr=0.01), '
                        '"sgd(lr=0.1, momentum=0.9)"]\n}\n')
    assert sw.grid[0].values == ("adam(lr=0.01)", "sgd(lr=0.1, momentum=0.9)")
    d = at(found("sweep {\n    grid train.optimizer = [adamx]\n}\n"), "E207")
    assert "did you mean `adam`" in " ".join(d.hints)


@pytest.mark.parametrize("sweep, needle", [
    ("sweep {\n    grid train.batch = 32\n}\n", "32"),
    ("sweep {\n    grid train.batch [1, 2]\n}\n", "train.batch [1"),
    ("sweep {\n    random train.optimizer.lr = gauss(0, 1)\n}\n", "gauss"),
    ("sweep {\n    random train.optimizer.lr = loguniform(0, 1)\n}\n", "loguniform"),
    ("sweep {\n    random train.optimizer.lr = uniform(1, 0.5)\n}\n", "uniform"),
    ("sweep {\n    random train.batch = choice()\n}\n", "choice"),
    ("sweep {\n    grid train.batch = [1, 2]\n    trials 4\n}\n", "4\n"),
])
def test_malformed_statements_are_E315(sweep: str, needle: str) -> None:
    d = at(found(sweep), "E315")
    assert (d.span.line, d.span.col) == line_col(sweep, needle)


@pytest.mark.parametrize("sweep", [
    "sweep {\n    grid train.batch = [1, 2]\n    random train.batch = choice(4, 8)\n}\n",
    "sweep {\n    grid train.seed = [1, 2]\n}\n",
    "sweep {\n    grid train.batch = [1, 2, 1]\n}\n",
])
def test_conflicts_are_E317(sweep: str) -> None:
    at(found(sweep), "E317")


def test_counts_metric_and_unknown_statements() -> None:
    diags = found("sweep {\n    grid train.batch = [1, 2]\n    seeds 0\n    metric val_acuracy\n"
                  "    paralel 2\n}\n")
    assert at(diags, "E302").message.startswith("`seeds` must be a whole number")
    assert "did you mean `val_accuracy`?" in " ".join(at(diags, "E215").hints)
    assert "did you mean `parallel`?" in " ".join(at(diags, "E202").hints)


def test_a_point_that_does_not_check_is_E316_before_anything_runs() -> None:
    # batch 200 > the 90 training rows is fine; a validation split of 0 with a val metric is not
    sweep = ("sweep {\n    grid train.optimizer.lr = [0.1, 1]\n"
             "    grid data.split.validation = [0.25, 0]\n    metric val_loss\n}\n")
    spec_text = text(sweep).replace("    seed 3\n",
                                    "    seed 3\n    early_stop(monitor=val_loss)\n")
    _, diags = diagnose(spec_text, "t.nn")
    d = at(diags, "E316")
    assert "data.split.validation=0" in d.message and "validation data" in d.message
    assert len([x for x in diags if x.code == "E316"]) == 1  # blamed once, at the value 0


def test_a_sweep_that_varies_nothing_is_W111() -> None:
    d = at(found("sweep {\n    grid train.batch = [8]\n}\n"), "W111")
    assert not d.is_error


def test_random_points_are_seeded_in_range_and_rounded_for_whole_numbers() -> None:
    spec, sw = sweep_of("sweep {\n    random train.optimizer.lr = loguniform(0.0001, 1)\n"
                        "    random model.layers.0.units = uniform(2, 40)\n"
                        "    random train.batch = choice(8, full)\n    trials 20\n}\n")
    a, b = points(sw, spec.train.seed), points(sw, spec.train.seed)
    assert a == b and len(a) == 20
    lrs = [float(p["train.optimizer.lr"]) for p in a]
    assert all(1e-4 <= v <= 1 for v in lrs) and min(lrs) < 1e-2 < max(lrs)  # log scale
    assert all(p["model.layers.0.units"].isdigit() for p in a)
    assert {p["train.batch"] for p in a} == {"8", "full"}
    assert points(sw, spec.train.seed + 1) != a  # the draws follow the spec's seed


def test_the_command_line_replaces_the_blocks_settings() -> None:
    import argparse

    from nnspec.cli import sweep as cli

    spec, base = sweep_of("sweep {\n    grid train.batch = [8, 16]\n    seeds 2\n"
                          "    parallel 2\n}\n")
    args = argparse.Namespace(
        grid=['train.optimizer=[sgd(lr=0.1), "sgd(lr=0.1, momentum=0.9)"]'],
        random=["train.optimizer.lr=loguniform(0.001, 1)"], trials=3, seeds=None,
        parallel=None, metric="val_accuracy")
    given = cli.sweep_of(cli._cli_block(args), "the command line", spec, {})
    sw = cli.merged(base, given, args)
    assert [g.path for g in sw.grid] == ["train.optimizer"]  # the block's grid is replaced
    assert sw.grid[0].values == ("sgd(lr=0.1)", "sgd(lr=0.1, momentum=0.9)")
    assert [r.kind for r in sw.random] == ["loguniform"]
    assert (sw.seeds, sw.parallel, sw.trials, sw.metric) == (2, 2, 3, "val_accuracy")
    assert len(expand(sw, spec.train.seed)) == 2 * 3 * 2
