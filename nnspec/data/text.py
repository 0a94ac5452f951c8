"""data.text: a text file (or the built-in corpus) -> Table of next-token windows.

The rules are ops.sources.Text's: tokens (words and punctuation, or characters), a vocabulary
of exactly `vocab` ids with `<unk>` at id 0, windows of `context` ids and the id that follows.
Token ids stay integers (int64) from here to the engines: they are never scaled and never
round-trip through floats. `Vocabulary` is also what `predict` rebuilds from a run's
data.json to read new text the same way.

Problems are diagnostics at the `source` statement: a missing or unreadable file as for any
data file (E401, E413), an empty text E425, bytes that are not UTF-8 E426 (with the byte
offset and line), fewer than context + 1 tokens E427.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.data.dataset import FileInfo, Table
from nnspec.data.errors import Where
from nnspec.data.readers import read_file
from nnspec.ops.sources import Text

UNK = "<unk>"
# a word: a run of letters, digits and underscores; any other non-space character alone
WORD = re.compile(r"\w+|[^\w\s]")
CORPUS_NAME = {"python_help": "Python's help topics (pydoc_data.topics, PSF licence)"}


def tokenize(text: str, tokens: str, lower: bool) -> list[str]:
    """The tokens of `text`: words and punctuation (`words`) or characters (`chars`)."""
    if lower:
        text = text.lower()
    return WORD.findall(text) if tokens == "words" else list(text)


def detokenize(tokens: list[str], kind: str) -> str:
    """Tokens back to text: characters joined as they are; words with a space between,
    except before punctuation that closes (`, . ) :`) and after punctuation that opens."""
    if kind == "chars":
        return "".join(tokens)
    out = ""
    for tok in tokens:
        if out and not (tok in ",.;:!?)]}'" or out[-1] in "([{"):
            out += " "
        out += tok
    return out


@dataclass(frozen=True)
class Vocabulary:
    """id -> token (`tokens[0]` is `<unk>`) and how text becomes ids."""

    tokens: tuple[str, ...]
    kind: str  # "words" | "chars"
    lower: bool
    context: int

    @classmethod
    def build(cls, seq: list[str], src: Text) -> Vocabulary:
        """`<unk>`, then the most frequent tokens seen at least min_count times (ties: first
        appearance first), at most vocab - 1 of them."""
        counts = Counter(seq)
        first: dict[str, int] = {}
        for i, tok in enumerate(seq):
            first.setdefault(tok, i)
        kept = sorted((t for t, c in counts.items() if c >= src.min_count and t != UNK),
                      key=lambda t: (-counts[t], first[t]))
        return cls((UNK, *kept[:src.vocab_size() - 1]), src.tokens, src.lower, src.context)

    @property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def ids(self, seq: list[str]) -> np.ndarray:
        """Token ids (int64), `<unk>` (0) for a token outside the vocabulary."""
        index = self.index
        return np.fromiter((index.get(t, 0) for t in seq), dtype=np.int64, count=len(seq))

    def encode(self, text: str) -> np.ndarray:
        return self.ids(tokenize(text, self.kind, self.lower))

    def to_dict(self, size: int | None = None) -> dict[str, Any]:
        """JSON-ready; `size`: the number of ids (vocab=), of which len(tokens) are taken."""
        return {"format": "text", "tokens": self.kind, "lower": self.lower,
                "context": self.context, "size": size or len(self.tokens),
                "vocab": list(self.tokens)}

    @classmethod
    def from_dict(cls, layout: dict[str, Any]) -> Vocabulary:
        return cls(tuple(layout["vocab"]), layout["tokens"], bool(layout["lower"]),
                   int(layout["context"]))


def corpus_text(name: str) -> str:
    """The built-in corpus: Python's help topics, in the order of their names."""
    if name == "python_help":
        from pydoc_data.topics import topics

        return "\n\n".join(topics[k] for k in sorted(topics))
    raise ValueError(f"unknown corpus {name!r}")  # pragma: no cover - the op's Literal


def _decode(blob: bytes, shown: str, where: Where) -> str:
    try:
        return blob.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = blob[:e.start].count(b"\n") + 1
        where.fail("E426", f"`{shown}` is not UTF-8 text: byte 0x{blob[e.start]:02x} at offset "
                   f"{e.start} (line {line}) cannot be decoded", label="not UTF-8",
                   notes=["text() reads UTF-8 (ASCII is UTF-8)"],
                   hints=["convert the file, e.g. `iconv -f latin1 -t utf-8 in.txt > "
                          "out.txt`"])


def read_text(src: Text, base: Path | str, where: Where, role: str = "source") -> Table:
    """The windows of a text source as a Table: x int64 (N, context), y int64 (N,), with the
    vocabulary in `layout` (Vocabulary.to_dict)."""
    info: FileInfo | None = None
    if src.path is not None:
        blob, info = read_file(src.path, base, where, role)
        shown = info.resolved
        text = _decode(blob, shown, where)
    else:
        assert src.corpus is not None
        shown = CORPUS_NAME[src.corpus]
        text = corpus_text(src.corpus)
    seq = tokenize(text, src.tokens, src.lower)
    if src.limit is not None:
        seq = seq[:src.limit]
    what = "characters" if src.tokens == "chars" else "words"
    if not seq:
        blank = "is empty" if not text else "holds only white space"
        where.fail("E425", f"`{shown}` {blank}: no {what} to learn from", label="empty text",
                   hints=["point text() at a file with some text in it"])
    if len(seq) <= src.context:
        where.fail("E427", f"`{shown}` has {len(seq)} token{'s' if len(seq) != 1 else ''} "
                   f"({what}), too few for one window of context={src.context} and the token "
                   "that follows", label="text too short",
                   notes=[f"a window needs {src.context + 1} tokens"],
                   hints=[f"use a longer text, or a shorter context (at most {len(seq) - 1})"
                          if len(seq) > 1 else "use a longer text"])
    vocab = Vocabulary.build(seq, src)
    ids = vocab.ids(seq)
    n = len(ids) - src.context
    # window i: ids[i : i + context] -> ids[i + context] (a strided view, then one copy)
    x = np.lib.stride_tricks.sliding_window_view(ids, src.context)[:n].copy()
    y = ids[src.context:].copy()
    names = [f"t-{src.context - j}" for j in range(src.context)]
    table = Table(x=x, y=y, feature_names=names, target_names=["next"], file=info,
                  layout=vocab.to_dict(src.vocab_size()))
    unused = src.vocab_size() - len(vocab.tokens)
    if unused > 0:
        table.warnings.append(where.warn(
            "W110", f"the vocabulary has {src.vocab_size()} ids but `{shown}` has only "
            f"{len(vocab.tokens) - 1} distinct {what}"
            + (f" seen {src.min_count}+ times" if src.min_count > 1 else "")
            + f": {unused} ids are never used", label="vocabulary larger than the text",
            notes=["their embedding rows and output units train toward never being "
                   "predicted"],
            hints=[f"write `vocab={len(vocab.tokens)}` in text(...) and the model"]))
    return table


def is_text(layout: dict[str, Any] | None) -> bool:
    return layout is not None and layout.get("format") == "text"
