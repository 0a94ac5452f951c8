"""unparse(): check(parse(unparse(s))) gives back an equal IR, for every op of the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnspec.ops import ACTIVATIONS, INITIALIZERS, METRICS, OPTIMIZERS, SCHEDULES, SOURCES
from nnspec.pipeline import diagnose
from nnspec.unparse import quote, unparse

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "specs").glob("*.nn")) + sorted((ROOT / "tests/check/golden").glob("*.nn"))

# Required options filled in, so that every op of the registry can be written.
REQUIRED = {"step": "step(every=3)", "multistep": "multistep(milestones=[2, 5])",
            "exponential": "exponential(0.9)", "warmup": "warmup(epochs=2)",
            "one_cycle": "one_cycle(max_lr=0.1)", "csv": 'csv("a b\\\\c\\"d.csv", target=3)',
            "npz": 'npz("x.npz")'}

TEMPLATE = """model m {{
    input 2
    dense 3 {act} init={init}
    batchnorm momentum=0.2
    dropout 0.25
    dense 1 sigmoid bias=false
}}
data {{
    source {source}
    split validation=0.25, seed=3
    normalize
}}
train {{
    loss binary_crossentropy(label_smoothing=0.1)
    optimizer {opt}
    schedule {sched}
    clip value=2.5
    epochs 30
    batch full
    metrics {metric}
    early_stop patience=4
}}
output {{
    dir "runs/\\u00e9t\\u00e9"
    artifacts weights, curves
}}
"""


def roundtrip(text: str) -> None:
    spec, diags = diagnose(text, "t.nn")
    assert spec is not None, diags
    again, diags2 = diagnose(unparse(spec), "u.nn")
    assert again is not None, (unparse(spec), diags2)
    assert again.model_dump() == spec.model_dump()
    assert unparse(again) == unparse(spec)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_roundtrip_files(path: Path) -> None:
    spec, _ = diagnose(path.read_text(), "t.nn")
    if spec is None:
        pytest.skip("has errors")
    roundtrip(path.read_text())


def _cases() -> list[dict[str, str]]:
    base = {"act": "relu", "init": "he_uniform", "source": "moons(samples=40, noise=0.3)",
            "opt": "adam(lr=0.01, betas=[0.8, 0.9])", "sched": "cosine(period=5)",
            "metric": "accuracy"}
    out = []
    families = (("act", ACTIVATIONS), ("init", INITIALIZERS), ("opt", OPTIMIZERS),
                ("sched", SCHEDULES), ("metric", METRICS), ("source", SOURCES))
    for slot, registry in families:
        for kind in registry:
            case = dict(base, **{slot: REQUIRED.get(kind, kind)})
            if slot == "metric" and METRICS[kind].task == "regression":
                continue  # E307 with a classification loss
            if slot == "metric" and kind in ("top5_accuracy", "perplexity"):
                continue  # softmax outputs only (E314): test_roundtrip_text_model
            if slot == "source" and kind == "text":
                continue  # token windows: test_roundtrip_text_model
            if slot == "source" and kind in ("linear", "sine"):
                continue  # regression data with a classification loss
            if slot == "source" and kind in IMAGE_SOURCES:
                continue  # images, several classes: test_roundtrip_image_sources
            if slot == "source" and kind in ("csv", "npz", "blobs", "spirals"):
                case["source"] = REQUIRED.get(kind, kind + "(classes=2)")
            if slot == "sched" and kind == "reduce_on_plateau":
                case["sched"] = "reduce_on_plateau(monitor=val_accuracy, factor=0.5)"
            out.append(case)
    return out


IMAGE_SOURCES = {"images": ('images("pets/", size=[6, 5], grayscale=true)', "1 6 5", 3),
                 "digits": ("digits(image=true)", "1 8 8", 10),
                 "shapes": ("shapes(samples=40, noise=0.2, size=12)", "1 12 12", 4)}


def test_roundtrip_text_model() -> None:
    """An embedding whose vocabulary comes from the data, sparse cross-entropy, perplexity
    and top5_accuracy, and both forms of text(): a file, and the built-in corpus."""
    for source in ('text("c.txt", tokens=chars, context=4, vocab=50, lower=false, '
                   'min_count=2, limit=1000)', "text(corpus=python_help, context=4, vocab=50)"):
        roundtrip("model m {\n    input 4\n    embedding 8\n    flatten\n    dense 16 tanh\n"
                  "    dense 50 softmax\n}\n"
                  f"data {{\n    source {source}\n    split validation=0.1\n}}\n"
                  "train {\n    loss sparse_categorical_crossentropy(label_smoothing=0.1)\n"
                  "    metrics accuracy, top5_accuracy, perplexity\n}\n")


@pytest.mark.parametrize("kind", sorted(IMAGE_SOURCES))
def test_roundtrip_image_sources(kind: str) -> None:
    source, shape, k = IMAGE_SOURCES[kind]
    roundtrip(f"model m {{\n    input {shape}\n    flatten\n    dense {k} softmax\n}}\n"
              f"data {{\n    source {source}\n    standardize\n}}\n"
              "train {\n    loss categorical_crossentropy\n}\n")


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=["-".join(c.values())[:60] for c in CASES])
def test_roundtrip_every_op(case: dict[str, str]) -> None:
    roundtrip(TEMPLATE.format(**case))


def test_defaults_are_written_out() -> None:
    spec, _ = diagnose((ROOT / "specs/linear.nn").read_text())
    text = unparse(spec)
    for expected in ("init=glorot_uniform(gain=1.0)", "optimizer sgd(lr=0.1, momentum=0.0",
                     "schedule constant", "shuffle true", "dtype float32", "device auto",
                     "split validation=0.0, test=0.0, stratify=false"):
        assert expected in text
    # the checkpoint policy is left unset (by wall time), so a later default still applies
    assert "checkpoint every" not in text and "    checkpoint" not in text


@pytest.mark.parametrize(("written", "every", "seconds"), [
    ("checkpoint every=3", 3, None), ("checkpoint 3", 3, None),
    ("checkpoint seconds=60", None, 60), ("checkpoint seconds=0.5", None, 0.5),
    ("checkpoint off", 0, None), ("checkpoint every=0", 0, None),
])
def test_checkpoint_policy_round_trips(written: str, every, seconds) -> None:
    text = (ROOT / "specs/linear.nn").read_text() + f"output {{ {written} }}\n"
    spec, diags = diagnose(text)
    assert spec is not None and not diags, diags
    assert (spec.output.checkpoint_every, spec.output.checkpoint_seconds) == (every, seconds)
    again, _ = diagnose(unparse(spec))
    assert again is not None and again.output.model_dump() == spec.output.model_dump()


@pytest.mark.parametrize(("raw", "written"), [
    ("plain", '"plain"'), ('a"b', '"a\\"b"'), ("a\\b", '"a\\\\b"'), ("x\ny", '"x\\ny"'),
    ("\x01", '"\\u0001"'), ("é", '"é"'),
])
def test_quote(raw: str, written: str) -> None:
    assert quote(raw) == written


GRAPH = """model g {
    input 1 4 4
    flatten
    dense 16 relu
    concat {
        branch { dense 8 relu }
        branch { dense 4 tanh; dropout 0.1; dense 8 }
        branch {}
    }
    residual { dense 32 relu; batchnorm; dense 32 }
    add {
        branch { dense 10 }
        branch { dense 6 relu; dense 10 }
    }
    head aux weight=0.4 { dense 8 relu; dense 3 softmax }
    dense 3 softmax
}
train { loss categorical_crossentropy }
"""


def test_roundtrip_graph() -> None:
    """Shapes, branches (an empty one too), merges and heads come back the same."""
    roundtrip(GRAPH)
    spec, _ = diagnose(GRAPH, "g.nn")
    assert spec is not None
    assert "branch {}" in unparse(spec) and "head aux weight=0.4 {" in unparse(spec)


IMAGES = """model m {
    input 3 12 10
    conv2d 8 3 relu padding=same init=he_uniform
    maxpool 2
    conv2d 6 [3, 2] stride=[2, 1] padding=[1, 0] dilation=[1, 2] bias=false
    batchnorm
    avgpool 3 stride=1 padding=1
    concat {
        branch { conv2d 4 1 tanh padding=valid }
        branch { maxpool 3 stride=1 padding=1 }
    }
    global_avgpool
    dense 3 softmax
}
train { loss categorical_crossentropy }
"""


def test_roundtrip_images() -> None:
    """Convolution and pooling options (ints, [h, w] lists, `same`/`valid`) come back the
    same; an unset conv2d init is resolved from its activation, as dense's."""
    roundtrip(IMAGES)
    spec, _ = diagnose(IMAGES, "i.nn")
    assert spec is not None
    text = unparse(spec)
    assert "padding=same" in text and "kernel=[3, 2]" in text and "padding=valid" in text
    conv = spec.model.layers[2]
    assert conv.init is not None and conv.init.kind == "glorot_uniform"
    assert spec.model.output_shape == (3,)
