"""The grammar file: every public rule has an `// e.g.` example that parses from that rule,
every terminal is named and described in words, and the file is found from the repo."""

from __future__ import annotations

import re

import pytest

from nnspec.parse.grammar import REPO_GRAMMAR, START_RULES, get_parser, grammar_source, parse_tree
from nnspec.parse.messages import TERMINAL_WORDS

GRAMMAR = REPO_GRAMMAR.read_text(encoding="utf-8")
RULE_DEF = re.compile(r"^(\??)([a-z][a-z0-9_]*)\s*:")


def public_rules() -> list[tuple[str, str | None]]:
    """(rule, the `// e.g.` example on the line above it, or None)."""
    lines = GRAMMAR.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = RULE_DEF.match(line)
        if m:
            above = lines[i - 1] if i else ""
            example = above.split("// e.g.", 1)[1].strip() if "// e.g." in above else None
            out.append((m.group(2), example))
    return out


def test_every_public_rule_has_an_example_and_is_a_start_rule():
    rules = public_rules()
    assert rules, "no rules found: did the grammar's layout change?"
    missing = [r for r, ex in rules if not ex]
    assert not missing, f"rules without an `// e.g.` line above them: {missing}"
    assert sorted(r for r, _ in rules) == sorted(START_RULES)


@pytest.mark.parametrize("rule,example", [(r, ex) for r, ex in public_rules()],
                         ids=[r for r, _ in public_rules()])
def test_example_parses_from_its_rule(rule, example):
    tree = parse_tree(example, start=rule)
    assert tree.data == rule


def test_examples_are_not_trivially_accepted_elsewhere():
    # An example of `call_args` is not a `statement`: the start symbol matters.
    with pytest.raises(Exception):  # noqa: B017 - any Lark error
        parse_tree("(monitor=val_loss)", start="statement")


def test_no_anonymous_terminals_and_all_described():
    terminals = [t.name for t in get_parser().terminals]
    assert not [t for t in terminals if t.startswith("__")]
    ignored = set(get_parser().ignore_tokens)
    assert {"COMMENT", "WHITESPACE"} <= ignored
    undescribed = [t for t in terminals if t not in ignored and t not in TERMINAL_WORDS]
    assert not undescribed


def test_grammar_header_documents_loading():
    header = GRAMMAR.split("\n\n", 1)[0]
    for must in ("lalr", "Positions are", "check/"):
        assert must in header


def test_grammar_found_in_repo_checkout():
    text, where = grammar_source()
    assert text == GRAMMAR
    assert where.endswith("nnspec.lark")
