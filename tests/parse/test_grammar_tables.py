"""The parser's LALR tables are kept on disk (parse.grammar.build_parser): a kept parser
parses exactly as a freshly built one, a changed grammar gets its own file, and a torn or
foreign file, or a folder that cannot be written, only means the tables are built."""

from __future__ import annotations

from lark import Lark

from nnspec.parse.grammar import build_parser, grammar_source, tables_file

DOC = """model m {
    input 2
    dense 16 relu; dropout 0.1
    dense 1 sigmoid
}
data { source csv("a.csv", target=y) split validation=0.2 }
train { loss binary_crossentropy; optimizer adam(lr=1e-3, betas=[0.9, 0.99]); epochs 3 }
"""


def _feed(parser: Lark, text: str, start: str = "document"):
    from nnspec.parse.lexer import tokenize

    tokens, _ = tokenize(text)
    ip = parser.parse_interactive(start=start)
    for tok in tokens:
        ip.feed_token(tok)
    return ip.feed_eof(tokens[-1])


def test_kept_tables_parse_as_built_ones(tmp_path):
    text, where = grammar_source()
    built = build_parser(text, where, tmp_path, write=True)
    kept = tables_file(text, tmp_path)
    assert kept.is_file() and kept.parent == tmp_path
    assert not [p for p in tmp_path.iterdir() if p != kept]  # no temporary file left
    loaded = build_parser(text, where, tmp_path, write=False)
    assert loaded is not built
    assert _feed(loaded, DOC) == _feed(built, DOC)
    assert _feed(loaded, "dense 16 relu init=he_normal", "statement") == \
        _feed(built, "dense 16 relu init=he_normal", "statement")
    assert [t.name for t in loaded.terminals] == [t.name for t in built.terminals]
    assert sorted(loaded.ignore_tokens) == sorted(built.ignore_tokens)


def test_a_changed_grammar_gets_its_own_file(tmp_path):
    text, _ = grammar_source()
    assert tables_file(text, tmp_path) != tables_file(text + "\n// changed\n", tmp_path)


def test_a_torn_file_is_rebuilt_and_replaced(tmp_path):
    text, where = grammar_source()
    kept = tables_file(text, tmp_path)
    kept.write_bytes(b"\x80\x05 not a pickle")
    parser = build_parser(text, where, tmp_path, write=True)
    assert _feed(parser, DOC) is not None
    with open(kept, "rb") as f:  # replaced by tables that load
        assert _feed(Lark.load(f), DOC) == _feed(parser, DOC)


def test_a_folder_that_cannot_be_made_only_means_building(tmp_path):
    text, where = grammar_source()
    blocked = tmp_path / "pycache"
    blocked.write_text("a file where the folder would be")
    assert _feed(build_parser(text, where, blocked, write=True), DOC) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["pycache"]


def test_nothing_is_written_when_asked_not_to(tmp_path):
    text, where = grammar_source()
    build_parser(text, where, tmp_path, write=False)
    assert list(tmp_path.iterdir()) == []
