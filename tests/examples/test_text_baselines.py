"""The next-token example specs against the unigram baseline: a model that ignores the
context and predicts each token with its frequency in the training split (add-one
smoothed) scores a validation perplexity of exp(-mean log p[next]); the trained spec's
validation perplexity (its `# expect:` bound, which test_examples checks on the run) must be
well below it: under half."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from examples_promises import parse_promises

from nnspec.data.load import load_spec_data
from nnspec.pipeline import diagnose

ROOT = Path(__file__).resolve().parents[2]


def unigram_perplexity(spec_path: Path) -> float:
    spec, diagnostics = diagnose(spec_path.read_text(encoding="utf-8"), str(spec_path),
                                 require_data=True)
    assert spec is not None, diagnostics
    ds = load_spec_data(spec)
    counts = np.bincount(ds.train.y, minlength=ds.n_outputs) + 1.0
    p = counts / counts.sum()
    return float(np.exp(-np.mean(np.log(p[ds.val.y]))))


@pytest.mark.parametrize("name", ["next_word", "next_char"])
def test_promised_perplexity_is_well_below_the_unigram_baseline(name):
    path = ROOT / "specs" / f"{name}.nn"
    [bound] = [p for p in parse_promises(path.read_text(encoding="utf-8"))
               if p.key == "val_perplexity" and p.op == "<="]
    baseline = unigram_perplexity(path)
    assert bound.bound < 0.5 * baseline, (bound.bound, baseline)
