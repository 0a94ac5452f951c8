"""run.textgen: a run trained on text(...) + a prompt -> the most probable next tokens, or a
continuation of the prompt (`nnspec predict RUN "the cat sat" --top 5 | --generate 50`).

The prompt is read through the vocabulary saved with the run (data.json: the same tokens,
lowercasing and `<unk>` as the training text); the model sees its last `context` ids, the
front padded with `<unk>` when the prompt is shorter. Generation appends one token at a time:
p = the model's softmax over the vocabulary; with temperature T > 0 the next id is drawn from
p^(1/T) renormalized (numpy Generator seeded with `seed`), with T = 0 it is the argmax.
`<unk>` and the ids no token took are never generated (their probability is set to 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnspec.data.text import UNK, Vocabulary, detokenize, is_text
from nnspec.diagnostics import DiagnosticError, error


def vocabulary(restored: Any) -> Vocabulary:
    """The run's vocabulary; E429 for a run not trained on a text() source."""
    layout = restored.schema.get("layout")
    if not is_text(layout):
        raise DiagnosticError(error(
            "E429", "--top and --generate read a text prompt, but this run was not trained on "
            "a text() source", path=str(restored.rd.path),
            hints=["give a CSV of samples instead: `nnspec predict RUN samples.csv`"]))
    return Vocabulary.from_dict(layout)


def _probabilities(restored: Any, window: np.ndarray) -> np.ndarray:
    plan = restored.exe.plan
    out = np.asarray(restored.exe.predict(window.reshape(1, -1)), dtype=np.float64)[0]
    if plan.layers[-1].act_name == "log_softmax":
        out = np.exp(out)
    return out


def _window(vocab: Vocabulary, ids: list[int]) -> np.ndarray:
    last = ids[-vocab.context:]
    return np.array([0] * (vocab.context - len(last)) + last, dtype=np.int64)


def top_tokens(restored: Any, prompt: str, k: int) -> list[tuple[str, float]]:
    """The k most probable next tokens after `prompt`, with their probabilities."""
    vocab = vocabulary(restored)
    p = _probabilities(restored, _window(vocab, vocab.encode(prompt).tolist()))
    best = np.argsort(-p, kind="stable")[:k]
    return [(_name(vocab, int(i)), float(p[i])) for i in best]


def _name(vocab: Vocabulary, i: int) -> str:
    return vocab.tokens[i] if i < len(vocab.tokens) else f"{UNK}{i}"


def generate(restored: Any, prompt: str, n: int, temperature: float, seed: int) -> str:
    """The prompt continued by n tokens (detokenized)."""
    vocab = vocabulary(restored)
    ids = vocab.encode(prompt).tolist()
    rng = np.random.default_rng(seed)
    new: list[str] = []
    for _ in range(n):
        p = _probabilities(restored, _window(vocab, ids))
        p[0] = 0.0  # never <unk>
        p[len(vocab.tokens):] = 0.0  # nor an id no token took
        if not np.isfinite(p).all() or p.sum() <= 0:
            break
        if temperature == 0:
            nxt = int(np.argmax(p))
        else:
            logits = np.log(np.maximum(p, 1e-300)) / temperature
            logits[p == 0] = -np.inf
            q = np.exp(logits - logits.max())
            nxt = int(rng.choice(len(q), p=q / q.sum()))
        ids.append(nxt)
        new.append(vocab.tokens[nxt])
    joint = detokenize(new, vocab.kind)
    if vocab.kind == "words" and prompt and joint and joint[0] not in ",.;:!?)]}'":
        return prompt.rstrip() + " " + joint
    return prompt + joint
