"""Fuzz the front end: thousands of mangled specs through `nnspec check` (in process).

Only diagnostics may come out: exit code 0 or 1, never an exception, never the E502
internal-error fallback. Inputs are random edits of the example specs and goldens
(deletions, insertions of language fragments, replacements, line shuffles) and random
text. For every input that checks clean, unparse must round-trip to an equal IR.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from check_mutations import FRAGMENTS, SEEDS, WORDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnspec.cli import main
from nnspec.pipeline import diagnose
from nnspec.unparse import unparse

TOKENS = st.one_of(st.sampled_from(WORDS), st.sampled_from(FRAGMENTS),
                   st.from_regex(r"[a-z_]{1,8}(=[0-9.]{1,4})?", fullmatch=True))
COUNT = {"inputs": 0, "clean": 0}


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 12)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "lines"]))
        if action == "delete":
            text = text[:i] + text[j:]
        elif action == "insert":
            text = text[:i] + draw(TOKENS) + text[i:]
        elif action == "replace":
            text = text[:i] + " ".join(draw(st.lists(TOKENS, min_size=1, max_size=3))) + text[j:]
        else:
            lines = text.split("\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[k])
            text = "\n".join(lines)
    return text


def run_cli(path: Path, fmt: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", "--format", fmt, str(path)])
    return code, out.getvalue() + err.getvalue()


def exercise(text: str, path: Path) -> None:
    COUNT["inputs"] += 1
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    code, output = run_cli(path, "text" if COUNT["inputs"] % 2 else "json")
    assert code in (0, 1), output
    assert "E502" not in output and "Traceback" not in output, output
    if not output.lstrip().startswith("{"):
        return
    assert json.loads(output)["version"] == 1
    spec, diags = diagnose(text, "f.nn")
    assert (spec is None) == any(d.is_error for d in diags)
    if spec is not None:
        COUNT["clean"] += 1
        again, diags2 = diagnose(unparse(spec), "u.nn")
        assert again is not None, diags2
        assert again.model_dump() == spec.model_dump()


# NNSPEC_FUZZ_EXAMPLES=20000 for a longer, randomized hunt (the default run is derandomized).
N = int(os.environ.get("NNSPEC_FUZZ_EXAMPLES", "1500"))
FUZZ = settings(max_examples=N, deadline=None, derandomize="NNSPEC_FUZZ_EXAMPLES" not in os.environ,
                database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.nn"


@FUZZ
@given(text=mutated())
def test_fuzz_mutated_specs(target: Path, text: str) -> None:
    exercise(text, target)


@settings(FUZZ, max_examples=max(1, N * 2 // 5))
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
       | st.lists(TOKENS, max_size=40).map(" ".join))
def test_fuzz_random_text(target: Path, text: str) -> None:
    exercise(text, target)


def test_fuzz_count(record_property) -> None:
    """Runs last in this module: how many inputs the fuzzers tried (-s shows it)."""
    record_property("fuzz_inputs", COUNT["inputs"])
    print(f"\nfuzz: {COUNT['inputs']} inputs, {COUNT['clean']} checked clean")
    assert COUNT["inputs"] >= min(2000, N) or COUNT["inputs"] == 0  # 0 when run alone (-k)
