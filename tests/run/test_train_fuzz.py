"""Nothing a user can write ends in "this is a bug in nnspec" (issue 21, item 9).

Mutated example specs (tests/check/check_mutations.py) that `check` accepts are trained, each
in its own forked child of one warmed parent (tests/run/runfuzz.py, a fresh interpreter, not
this pytest process), under RLIMIT_AS. Each must train (exit 0) or fail with a diagnostic
whose code is in ALLOWED (exit 1), and none may reach a catch-all: the test hook of
nnspec/bugs.py records every call of the E502 path whatever its wording, and the test
asserts that there are none. A hang (past runfuzz.TIMEOUT_S) fails too.

The default run trains 100 specs; the `slow` one (`--slow`) 500 more, with other seeds.
NNSPEC_TRAIN_FUZZ=<count> trains that many with a random seed (printed), for a longer hunt.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from check_mutations import EXAMPLES, mutate
from examples_backend import backend_for
from runfork import needs_fork
from runfuzz import epochs_for

from nnspec.pipeline import diagnose

pytestmark = needs_fork
ROOT = Path(__file__).resolve().parents[2]
# The diagnostics a checked spec may still fail with at run time, each for a reason that
# lies in what the user wrote or in the machine, not in nnspec.
ALLOWED = {
    "E305": "the data's target columns do not fit the output layer (known once data is read)",
    "E401": "a data file or column the spec names is not there / not readable as asked",
    "E402": "an array the spec names is not in the npz file (the specs are checked without "
            "reading the data, as E401: `nnspec check` reads it and reports this one)",
    "E405": "the data does not fit the model (classes, targets, shapes)",
    "E406": "the data has more classes than the output layer has units",
    "E408": "warmup longer than training (--epochs 1 overrides the spec's epochs)",
    "E409": "a split leaves no sample for training (the sample count is the data's)",
    "E410": "the weights file of `init from` does not fit the model",
    "E411": "the loss turned NaN or infinite (a learning rate of 1e30, say)",
    "E415": "a value not representable in the training dtype",
    "E421": "an image source's (C, H, W) does not fit the model's `input`",
    "E509": "out of memory (RLIMIT_AS, a size the machine cannot hold)",
}
_CODE = re.compile(r"\berror\[(E\d+)\]")


def accepted_specs(seed: int, count: int, folder: Path) -> list[dict]:
    """`count` distinct mutated specs that check accepts (with their data), written into
    `folder`, as the plan runfuzz.py takes: the spec and how many epochs to train."""
    rng = random.Random(seed)
    # the specs `nnspec run` trains on the cpu (conv specs need --backend reference, until
    # the cpu conv kernels land: E506 otherwise)
    originals = [p.read_text() for p in EXAMPLES if backend_for(p) == "cpu"]
    seen: set[str] = set(originals)
    plan: list[dict] = []
    for _ in range(count * 60):
        if len(plan) == count:
            break
        text = mutate(rng, rng.choice(originals), rng.randint(1, 3))
        if text in seen:
            continue
        seen.add(text)
        path = folder / f"s{seed}-{len(plan)}.nn"
        spec, _ = diagnose(text, str(path), require_data=True)
        if spec is None:
            continue
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        plan.append({"spec": str(path), "epochs": epochs_for(spec)})
    assert len(plan) == count, f"only {len(plan)} of {count} mutated specs were accepted"
    return plan


def train_all(plan: list[dict], work: Path) -> list[dict]:
    (work / "plan.json").write_text(json.dumps(plan))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NNSPEC_TEST_BUG_LOG", None)
    proc = subprocess.run([sys.executable, str(ROOT / "tests/run/runfuzz.py"), str(work),
                           str(work / "plan.json"), str(work / "results.jsonl")],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in (work / "results.jsonl").read_text().splitlines()]
    assert len(results) == len(plan)
    return results


def verdicts(results: list[dict]) -> list[str]:
    """What is wrong with each result (empty when all is well)."""
    wrong = []
    for r in results:
        spec = Path(r["spec"]).read_text(errors="replace")
        what = f"{r['spec']} (exit {r['exit']}):\n{r['output']}\n--- spec:\n{spec}"
        codes = set(_CODE.findall(r["output"]))
        if r["bugs"]:
            caught = [(b["where"], b["type"], b["message"]) for b in r["bugs"]]
            wrong.append(f"reached the catch-all {caught}: {what}\n{r['bugs'][0]['traceback']}")
        elif r["exit"] == 0:
            continue
        elif r["exit"] != 1:
            wrong.append(f"neither trained nor failed with a diagnostic: {what}")
        elif not codes:
            wrong.append(f"failed without an error code: {what}")
        elif not codes <= set(ALLOWED):
            wrong.append(f"failed with {sorted(codes - set(ALLOWED))}, not allowed: {what}")
    return wrong


def hunt(seeds: list[int], per_seed: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="nnspec-trainfuzz-",
                                 dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    try:
        shutil.copytree(ROOT / "specs" / "data", work / "data")
        plan = [item for seed in seeds for item in accepted_specs(seed, per_seed, work)]
        results = train_all(plan, work)
        tally = Counter("trained" if r["exit"] == 0 else
                        ",".join(sorted(set(_CODE.findall(r["output"])))) or str(r["exit"])
                        for r in results)
        took = sum(r["seconds"] for r in results)
        print(f"\ntrain fuzz: {len(results)} specs (seeds {seeds}), {took:.0f} s in children: "
              f"{dict(tally.most_common())}")
        wrong = verdicts(results)
        shown = int(os.environ.get("NNSPEC_TRAIN_FUZZ_SHOW", "5"))
        assert not wrong, f"{len(wrong)} of {len(results)}:\n\n" + "\n\n".join(wrong[:shown])
        assert tally["trained"] >= len(results) // 2, tally  # the hunt reaches training
    finally:
        if "NNSPEC_TRAIN_FUZZ_KEEP" not in os.environ:  # to look at the runs afterwards
            shutil.rmtree(work, ignore_errors=True)


def test_mutated_specs_train_or_fail_by_name() -> None:
    hunt([1], 100)


@pytest.mark.slow
def test_mutated_specs_train_or_fail_by_name_more() -> None:
    hunt([2, 3, 4, 5, 6], 100)


@pytest.mark.skipif("NNSPEC_TRAIN_FUZZ" not in os.environ, reason="NNSPEC_TRAIN_FUZZ=<count>")
def test_mutated_specs_long_hunt() -> None:
    seed = random.randrange(1 << 30)
    print(f"\ntrain fuzz seed {seed}")
    hunt([seed], int(os.environ["NNSPEC_TRAIN_FUZZ"]))


def test_the_catch_all_is_seen_whatever_its_wording(tmp_path, monkeypatch) -> None:
    """The hook this test relies on: every E502 catch-all records itself."""
    from nnspec.bugs import VARIABLE, internal_error

    log = tmp_path / "bugs.jsonl"
    monkeypatch.setenv(VARIABLE, str(log))
    internal_error("here", "any words", ValueError("boom"))
    [record] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (record["where"], record["type"], record["message"]) == ("here", "ValueError", "boom")
    assert verdicts([{"spec": str(log), "exit": 1, "output": "error[E401]", "bugs": [record]}])
