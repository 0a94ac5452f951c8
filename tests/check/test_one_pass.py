"""Every independent mistake in one pass (issue 18 item 3), and no error that only follows
from another one: a block with a mistake is still checked against the others, without the
part that failed."""

from __future__ import annotations

from nnspec.pipeline import diagnose

LEARNER = """model moons {
    input 3
    dense 16 relu
    dense 1 sigmoid
}

data {
    source moons(samples=1000, noise=0.2)
    split validation=1.2
    standardize
    normalize
}

train {
    loss binary_crossentropy
    optimizer sgd(lr=0.1, nesterov=true)
    epochs 0
    batch 0
    metrics accuracy
}
"""


def found(text: str) -> list[tuple[int, str]]:
    _, diags = diagnose(text, "t.nn")
    return [(d.span.line if d.span else 0, d.code) for d in diags]


def test_the_learners_six_mistakes_show_at_once() -> None:
    assert found(LEARNER) == [(2, "E305"), (9, "E302"), (11, "E213"), (16, "E302"),
                              (17, "E302"), (18, "E302")]
    _, diags = diagnose(LEARNER, "t.nn")
    assert "batch must be a positive integer" in diags[-1].message


def test_each_fixed_alone_leaves_the_others() -> None:
    fixes = [("input 3", "input 2"), ("validation=1.2", "validation=0.2"),
             ("    normalize\n", ""), ("nesterov=true", "momentum=0.9, nesterov=true"),
             ("epochs 0", "epochs 5"), ("batch 0", "batch 8")]
    for old, new in fixes:
        assert len(found(LEARNER.replace(old, new))) == 5, old
    text = LEARNER
    for old, new in fixes:
        text = text.replace(old, new)
    assert found(text) == []


def test_a_failed_split_says_nothing_about_validation_data() -> None:
    text = LEARNER.replace("    metrics accuracy", "    early_stop(monitor=val_loss)")
    assert "E407" not in [c for _, c in found(text)]
    # nor does a validation source that failed
    bad_source = text.replace("    split validation=1.2\n",
                              "    validation moons(samples=0)\n")
    assert "E407" not in [c for _, c in found(bad_source)]
    # ...while a good split without validation still gets E407
    text = text.replace("validation=1.2", "test=0.2")
    assert "E407" in [c for _, c in found(text)]


def test_a_failed_epochs_is_not_compared_with_the_warmup() -> None:
    text = LEARNER.replace("    metrics accuracy", "    schedule warmup(epochs=20) then cosine()")
    assert "E408" not in [c for _, c in found(text)]
    assert "E408" in [c for _, c in found(text.replace("epochs 0", "epochs 10"))]


def test_a_failed_batch_is_not_compared_with_the_data() -> None:
    text = LEARNER.replace("batch 0", "batch -5000")
    codes = [c for _, c in found(text)]
    assert codes.count("E302") == 4 and "W105" not in codes


def test_a_failed_layer_is_not_judged_by_the_loss() -> None:
    text = LEARNER.replace("dense 1 sigmoid", "dense 1 sigmod")
    codes = [c for _, c in found(text)]
    assert "E204" in codes and "E306" not in codes
