"""Spec mutations shared by the fuzz tests: the front end's (tests/check/test_fuzz.py, through
hypothesis) and the property test that trains what the checker accepts
(tests/run/test_train_fuzz.py, through a seeded `random.Random`)."""

from __future__ import annotations

import random
import re
from pathlib import Path

from nnspec.ops import ACTIVATIONS, LAYERS, LOSSES, METRICS, OPTIMIZERS, SCHEDULES, SOURCES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "specs").glob("*.nn"))
SEEDS = [p.read_text() for p in EXAMPLES] + [
    p.read_text() for p in sorted((ROOT / "tests/check/golden").glob("*.nn"))]
WORDS = sorted({*ACTIVATIONS, *LAYERS, *LOSSES, *METRICS, *OPTIMIZERS, *SCHEDULES, *SOURCES,
                "model", "data", "train", "output", "input", "init", "from", "then", "true",
                "false", "full", "split", "validation", "test", "epochs", "batch", "monitor",
                "early_stop", "clip", "norm", "lr", "val_loss", "source", "metrics"})
FRAGMENTS = ["{", "}", "(", ")", "[", "]", "=", ",", '"', "\n", " ", "#", "\\", "-", ".",
             "0", "1", "-1", "0.5", "1e999", "1e-9", "99999999999999999999", "\t", "é", "\x00",
             "\ufeff", "\r\n", "then then", "=,", "()", '"unterminated']
# Numbers a user may write that stress training rather than parsing: where the checker's
# ranges end, tiny and huge steps, single samples.
EDGE_NUMBERS = ["0", "1", "2", "3", "0.0", "1.0", "0.999", "0.9999999", "1e-30", "1e-7",
                "1e30", "1e38", "3.5e38", "1e300", "65536", "2147483647", "100000", "7", "-1",
                "-0.0", "0.5", "1e-45"]
_NUMBER = re.compile(r"(?<![\w.])\d+(\.\d+)?([eE][-+]?\d+)?(?![\w.])")


def random_token(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return rng.choice(WORDS)
    if kind < 0.8:
        return rng.choice(FRAGMENTS)
    name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(1, 8)))
    if rng.random() < 0.5:
        name += "=" + "".join(rng.choice("0123456789.") for _ in range(rng.randint(1, 4)))
    return name


def mutate(rng: random.Random, text: str, edits: int) -> str:
    """`edits` random edits of `text`: the four of test_fuzz.py (delete, insert, replace,
    duplicate a line) and a fifth that puts an edge value in place of a number."""
    for _ in range(edits):
        n = len(text)
        i = rng.randint(0, n)
        j = rng.randint(i, min(n, i + 12))
        action = rng.choice(["delete", "insert", "replace", "lines", "number", "number"])
        if action == "delete":
            text = text[:i] + text[j:]
        elif action == "insert":
            text = text[:i] + random_token(rng) + text[i:]
        elif action == "replace":
            text = text[:i] + " ".join(random_token(rng) for _ in range(rng.randint(1, 3))) \
                + text[j:]
        elif action == "lines":
            lines = text.split("\n")
            k = rng.randrange(len(lines))
            lines.insert(rng.randint(0, len(lines)), lines[k])
            text = "\n".join(lines)
        else:
            numbers = list(_NUMBER.finditer(text))
            if numbers:
                m = rng.choice(numbers)
                text = text[:m.start()] + rng.choice(EDGE_NUMBERS) + text[m.end():]
    return text
