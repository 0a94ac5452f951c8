"""editors: op registry + statement table -> syntaxes/nnspec.tmLanguage.json.

The TextMate grammar lists every block, statement and op name, so it is generated from the
same tables the checker and the language server use; tests/lsp/test_grammar.py fails when the
committed file differs from what this prints. Regenerate from the repository root with:

    .venv/bin/python editors/vscode/scripts/gen_grammar.py

Scopes: statements are begin/end rules (a statement ends at a newline, `;` or `}`), so a name
is coloured by the role it has where it is written: `linear` after `source` is a data source,
after `dense 16` an activation; `mse` after `loss` is a loss, after `metrics` a metric.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parents[1] / "syntaxes" / "nnspec.tmLanguage.json"


def _words(names: object) -> str:
    return "|".join(sorted(names, key=lambda n: (-len(n), n)))  # type: ignore[arg-type]


def _family_rule(family: str, names: object) -> dict:
    return {"match": rf"\b({_words(names)})\b", "name": f"support.function.{family}.nnspec"}


def build() -> dict:
    sys.path.insert(0, str(ROOT))
    from nnspec.lsp import vocab

    repo: dict[str, dict] = {
        "comment": {"match": r"#.*$", "name": "comment.line.number-sign.nnspec"},
        "string": {
            "begin": '"', "end": r'"|$', "name": "string.quoted.double.nnspec",
            "patterns": [{"match": r"\\.", "name": "constant.character.escape.nnspec"}],
        },
        "number": {"match": r"(?<![\w.])[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\b",
                   "name": "constant.numeric.nnspec"},
        "boolean": {"match": r"\b(true|false)\b", "name": "constant.language.boolean.nnspec"},
        "punctuation": {"patterns": [
            {"match": ",", "name": "punctuation.separator.comma.nnspec"},
            {"match": ";", "name": "punctuation.terminator.statement.nnspec"},
            {"match": r"[\[\]]", "name": "punctuation.section.brackets.nnspec"},
            {"match": r"[()]", "name": "punctuation.section.parens.nnspec"},
        ]},
        "option": {
            "match": r"\b([A-Za-z_][A-Za-z0-9_]*)\s*(=)",
            "captures": {"1": {"name": "variable.parameter.option.nnspec"},
                         "2": {"name": "keyword.operator.assignment.nnspec"}},
        },
        "values": {"patterns": [{"include": "#comment"}, {"include": "#string"},
                                {"include": "#number"}, {"include": "#boolean"},
                                {"include": "#option"}, {"include": "#punctuation"}]},
    }
    for family, names in vocab.FAMILIES.items():
        if family != "layer":
            repo[f"op-{family}"] = _family_rule(family, names)

    # Options whose value is an op (`init=he_normal`): the value gets its family's scope.
    op_options: dict[str, set[str]] = {}
    for ops in vocab.FAMILIES.values():
        for cls in ops.values():
            for key, name in vocab.options(cls).items():
                fams = vocab.families_of(cls.model_fields[name].annotation)
                if fams:
                    op_options.setdefault(fams[0], set()).add(key)
    for family, keys in sorted(op_options.items()):
        repo[f"option-{family}"] = {
            "match": rf"\b({_words(keys)})\s*(=)\s*({_words(vocab.FAMILIES[family])})\b",
            "captures": {"1": {"name": "variable.parameter.option.nnspec"},
                         "2": {"name": "keyword.operator.assignment.nnspec"},
                         "3": {"name": f"support.function.{family}.nnspec"}},
        }
    option_rules = [{"include": f"#option-{f}"} for f in sorted(op_options)]

    blocks = []
    for block, statements in vocab.STATEMENTS.items():
        rules = []
        for kw, stmt in statements.items():
            inner = list(option_rules)
            words: set[str] = set()
            for slot in stmt.positional:
                if isinstance(slot, tuple):
                    words |= set(slot) - {"true", "false"}
                elif slot:
                    inner.append({"include": f"#op-{slot}"})
            if words:
                # `then` (schedule chains) and `from` (init from "w.npz") read as operators.
                scope = ("keyword.operator.word.nnspec" if words <= {"then", "from"}
                         else "constant.language.nnspec")
                inner.append({"match": rf"\b({_words(words)})\b", "name": scope})
            inner.append({"include": "#values"})
            is_layer = block == "model" and kw in vocab.LAYERS
            rules.append({
                "begin": rf"(?:^|(?<=[;{{]))\s*\b({kw})\b",
                "beginCaptures": {"1": {"name": "support.type.layer.nnspec" if is_layer
                                        else "keyword.other.statement.nnspec"}},
                "end": r"(?=[;}#]|$)",
                "patterns": inner,
            })
        repo[f"block-{block}"] = {
            "begin": rf"\b({block})\b",
            "beginCaptures": {"1": {"name": "storage.type.block.nnspec"}},
            "end": r"(?<=\})",
            "patterns": [
                {"include": "#comment"},
                {"begin": r"\{", "end": r"\}",
                 "beginCaptures": {"0": {"name": "punctuation.section.block.begin.nnspec"}},
                 "endCaptures": {"0": {"name": "punctuation.section.block.end.nnspec"}},
                 "patterns": [{"include": "#comment"}] + rules + [{"include": "#values"}]},
                {"match": r"\b[A-Za-z_][A-Za-z0-9_]*\b", "name": "entity.name.type.nnspec"},
            ],
        }
        blocks.append({"include": f"#block-{block}"})

    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/"
                   "tmlanguage.json",
        "name": "nnspec",
        "scopeName": "source.nnspec",
        "fileTypes": ["nn"],
        "comment": "Generated by editors/vscode/scripts/gen_grammar.py; do not edit by hand.",
        "patterns": [{"include": "#comment"}] + blocks,
        "repository": repo,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
