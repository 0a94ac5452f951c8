"""The language server end to end: a real LSP client (pytest-lsp) talks to
`python -m nnspec.cli lsp --stdio` (= `nnspec lsp`) over stdio. One server per module
(starting one costs about a second)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from lsp_helpers import FAMILY_NAMES, KEYWORDS, ROOT

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsp_client import change_doc, internal_errors, open_doc, published, utf16  # noqa: E402
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from nnspec.fmt import format_source  # noqa: E402
from nnspec.pipeline import diagnose  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

# The way editors start it: the `nnspec lsp` subcommand, with the `--stdio` clients append.
SERVER = [sys.executable, "-m", "nnspec.cli", "lsp", "--stdio"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient):
    # What VS Code declares for these features: Markdown docs.
    markdown = [types.MarkupKind.Markdown, types.MarkupKind.PlainText]
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
            completion=types.CompletionClientCapabilities(
                completion_item=types.ClientCompletionItemOptions(
                    documentation_format=markdown)),
            hover=types.HoverClientCapabilities(content_format=markdown))),
        root_uri=ROOT.as_uri()))
    yield
    await lsp_client.shutdown_session()


def expected_ranges(text: str) -> list[tuple]:
    """Oracle: what diagnose() finds, as LSP ranges computed here by encoding the text."""
    _, diagnostics = diagnose(text, None)
    lines = text.split("\n")
    out = []
    for d in diagnostics:
        s = d.span
        assert s is not None
        out.append((d.code, s.line - 1, utf16(lines[s.line - 1][: s.col - 1]),
                    s.end_line - 1, utf16(lines[s.end_line - 1][: s.end_col - 1])))
    return out


def got_ranges(diagnostics: list[types.Diagnostic]) -> list[tuple]:
    return [(d.code, d.range.start.line, d.range.start.character, d.range.end.line,
             d.range.end.character) for d in diagnostics]


BROKEN = """\
# π ≈ 3.14 😀
model m {
    input 2
    dense 16 rleu
    dense 1 sigmoid
}
data { source csv("dätä/😀.csv", target=y, bogsu=1) }
train {
    loss binary_crossentropy
    optimizer sgd(lr=-1)
    epochs 0
}
"""

SYNTAX = """\
model m {  # π ≈ 3.14 😀
    input 2 😀 @
    dense 1 sigmoid
    dense 3 relu init=
}
train { loss mse }
"""


async def test_diagnostics_on_open_are_exact(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "broken.nn").as_uri()
    got = await published(client, uri, lambda: open_doc(client, uri, BROKEN))
    assert sorted(got_ranges(got)) == sorted(expected_ranges(BROKEN))
    codes = {d.code for d in got}
    assert {"E204", "E211", "E302"} <= codes
    rleu = next(d for d in got if d.code == "E204")
    assert (rleu.range.start.line, rleu.range.start.character) == (3, 13)
    assert "hint: did you mean `relu`?" in rleu.message
    assert rleu.severity == types.DiagnosticSeverity.Error and rleu.source == "nnspec"
    # After the emoji in the string: a code-point column would be one less.
    bogus = next(d for d in got if d.code == "E211")
    line = BROKEN.split("\n")[6]
    assert bogus.range.start.character == utf16(line[: line.index("bogsu")])
    assert bogus.range.start.character == line.index("bogsu") + 1


async def test_all_syntax_errors_at_once(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "syntax.nn").as_uri()
    got = await published(client, uri, lambda: open_doc(client, uri, SYNTAX))
    assert sorted(got_ranges(got)) == sorted(expected_ranges(SYNTAX))
    assert len([d for d in got if d.code and str(d.code).startswith("E1")]) >= 2
    emoji = next(d for d in got if d.range.start.line == 1)
    line = SYNTAX.split("\n")[1]
    assert emoji.range.start.character == utf16(line[: line.index("😀")])
    assert emoji.range.end.character - emoji.range.start.character == 2  # a surrogate pair


async def test_diagnostics_follow_changes_and_saves(client: LanguageClient,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "moons.nn"
    good = (ROOT / "specs" / "moons.nn").read_text()
    path.write_text(good)
    uri = path.as_uri()
    assert await published(client, uri, lambda: open_doc(client, uri, good)) == []
    bad = good.replace("dense 16 relu", "dense 16 rleu", 1)
    got = await published(client, uri, lambda: change_doc(client, uri, bad, 2))
    assert [d.code for d in got] == ["E204"]
    assert await published(client, uri, lambda: change_doc(client, uri, good, 3)) == []
    await published(client, uri, lambda: change_doc(client, uri, bad, 4))
    got = await published(client, uri, lambda: client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))))
    assert [d.code for d in got] == ["E204"]
    got = await published(client, uri, lambda: client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))))
    assert got == []


async def test_a_burst_of_changes_ends_with_the_last_text(client: LanguageClient,
                                                          tmp_path: Path) -> None:
    """Changes sent faster than they are checked: what is shown at the end is the last text's
    diagnostics (intermediate ones may be skipped, never the last)."""
    uri = (tmp_path / "burst.nn").as_uri()
    good = (ROOT / "specs" / "moons.nn").read_text()
    await published(client, uri, lambda: open_doc(client, uri, good))
    texts = [good.replace("dense 16 relu", f"dense {n} {'relu' if n % 2 else 'rleu'}", 1)
             for n in range(1, 31)]
    for version, text in enumerate(texts[:-1], start=1):
        change_doc(client, uri, text, version)
    final = texts[-1].replace("epochs 200", "epochs -1")
    change_doc(client, uri, final, len(texts))
    want = sorted(expected_ranges(final))
    assert {w[0] for w in want} == {"E204", "E302"}

    def shown() -> list[tuple]:
        return sorted(got_ranges(list(client.diagnostics.get(uri, []))))

    for _ in range(2000):  # publishes of earlier versions may still be on their way
        if shown() == want:
            break
        await asyncio.sleep(0.005)
    assert shown() == want
    await asyncio.sleep(0.3)
    assert shown() == want  # and nothing older arrives after it


@pytest.mark.parametrize("spec", sorted(p.name for p in (ROOT / "specs").glob("*.nn")))
async def test_example_specs_have_no_diagnostics(client: LanguageClient, spec: str) -> None:
    path = ROOT / "specs" / spec
    uri = path.as_uri()
    assert await published(client, uri, lambda: open_doc(client, uri, path.read_text())) == []


COMPLETIONS = [
    # (text, line, character, expected labels, labels that must not be offered)
    ("", 0, 0, {"model", "data", "train", "output", "sweep"}, {"dense"}),
    ("model m {\n    \n}\n", 1, 4, KEYWORDS["model"], {"loss", "model"}),
    ("train {\n    \n}\n", 1, 4, KEYWORDS["train"], {"dense", "input"}),
    ("model m {\n    dense 16 \n}\n", 1, 13, FAMILY_NAMES["activation"], {"mse", "adam"}),
    ("train {\n    loss \n}\n", 1, 9, FAMILY_NAMES["loss"], {"accuracy", "adam", "relu"}),
    ("train {\n    optimizer \n}\n", 1, 14, FAMILY_NAMES["optimizer"], {"mse", "cosine"}),
    ("train {\n    schedule \n}\n", 1, 13, FAMILY_NAMES["schedule"], {"adam"}),
    ("train {\n    metrics \n}\n", 1, 12, FAMILY_NAMES["metric"], {"huber", "adam"}),
    ("data {\n    source \n}\n", 1, 11, FAMILY_NAMES["source"], {"relu", "sigmoid"}),
    ("model m {\n    dense 8 relu init=\n}\n", 1, 23, FAMILY_NAMES["initializer"],
     {"relu", "init="}),
    ("train {\n    optimizer sgd()\n}\n", 1, 18, {"lr=", "momentum=", "nesterov=",
                                                  "dampening=", "weight_decay="}, {"betas="}),
    # After an emoji: the cursor is a UTF-16 column.
    ('data {\n    source csv("😀", )\n}\n', 1, utf16('    source csv("😀", '),
     {"target=", "header="}, {"path="}),
]


@pytest.mark.parametrize("text,line,char,expected,absent", COMPLETIONS)
async def test_completion(client: LanguageClient, tmp_path: Path, text: str, line: int,
                          char: int, expected: set[str], absent: set[str]) -> None:
    uri = (tmp_path / "c.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, text))
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=char)))
    assert isinstance(result, types.CompletionList)
    labels = {i.label for i in result.items}
    assert expected <= labels
    assert not labels & absent
    assert all(i.documentation is not None for i in result.items)


async def test_hover_shapes_and_docs(client: LanguageClient, tmp_path: Path) -> None:
    text = (ROOT / "specs" / "iris.nn").read_text()
    uri = (tmp_path / "iris.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, text))
    lines = text.split("\n")
    row = next(i for i, t in enumerate(lines) if t.strip().startswith("dense 32"))

    async def hover_at(line: int, char: int) -> str:
        h = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=char)))
        assert h is not None
        assert h.contents.kind == types.MarkupKind.Markdown  # type: ignore[union-attr]
        return h.contents.value  # type: ignore[union-attr]

    text_dense = await hover_at(row, lines[row].index("dense") + 1)
    assert "**dense**" in text_dense
    assert "Layer 1 of 2 (`dense`): input (4,) -> output (32,), 160 parameters" in text_dense
    text_he = await hover_at(row, lines[row].index("he_normal") + 2)
    assert "**he_normal** (initializer)" in text_he
    row = next(i for i, t in enumerate(lines) if "adam(" in t)
    text_lr = await hover_at(row, lines[row].index("lr") + 1)
    assert "learning rate" in text_lr and "default 0.001" in text_lr


async def test_formatting(client: LanguageClient, tmp_path: Path) -> None:
    messy = "model m {\n  input 2\n      dense 1   sigmoid\n}\ntrain {loss binary_crossentropy}\n"
    uri = (tmp_path / "messy.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, messy))
    params = types.DocumentFormattingParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        options=types.FormattingOptions(tab_size=4, insert_spaces=True))
    edits = await client.text_document_formatting_async(params)
    expected, _ = format_source(messy)
    assert expected is not None and expected != messy
    assert edits is not None and len(edits) == 1
    assert edits[0].new_text == expected
    assert (edits[0].range.start.line, edits[0].range.start.character) == (0, 0)
    assert (edits[0].range.end.line, edits[0].range.end.character) == (5, 0)
    # With a syntax error: no edit at all.
    await published(client, uri, lambda: change_doc(client, uri, messy + "dense @\n", 2))
    assert not await client.text_document_formatting_async(params)


async def test_symbols_and_definition(client: LanguageClient, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reg.npz").write_bytes(b"PK")
    text = (ROOT / "specs" / "regression.nn").read_text()
    path = tmp_path / "regression.nn"
    path.write_text(text)
    uri = path.as_uri()
    await published(client, uri, lambda: open_doc(client, uri, text))
    syms = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert syms is not None
    assert [s.name for s in syms] == ["model reg", "data", "train"]  # type: ignore[union-attr]
    layers = [c.name for c in syms[0].children or [] if c.kind == types.SymbolKind.Class]
    assert layers == ["dense", "dense", "dense"]
    lines = text.split("\n")
    row = next(i for i, t in enumerate(lines) if "reg.npz" in t)
    locs = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=row, character=lines[row].index("reg.npz"))))
    assert [loc.uri for loc in locs] == [(tmp_path / "data" / "reg.npz").resolve().as_uri()]
    row = next(i for i, t in enumerate(lines) if "reg_init.npz" in t)  # no such file here
    locs = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=row, character=lines[row].index("reg_init") + 1)))
    assert not locs


async def test_requests_on_unknown_documents_are_empty(client: LanguageClient) -> None:
    uri = "file:///nonexistent/never/opened.nn"
    pos = types.Position(line=3, character=7)
    doc = types.TextDocumentIdentifier(uri=uri)
    hover = await client.text_document_hover_async(types.HoverParams(text_document=doc,
                                                                     position=pos))
    assert hover is None
    syms = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc))
    assert not syms
    assert not [m for m in client.log_messages if m.type == types.MessageType.Error]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def utf8_client(lsp_client: LanguageClient):
    """A client that prefers UTF-8 positions (LSP 3.17 position encodings)."""
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(general=types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind.Utf8,
                                types.PositionEncodingKind.Utf16]))))
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    yield
    await lsp_client.shutdown_session()


async def test_utf8_position_encoding(utf8_client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "broken.nn").as_uri()
    got = await published(utf8_client, uri, lambda: open_doc(utf8_client, uri, BROKEN))
    bogus = next(d for d in got if d.code == "E211")
    line = BROKEN.split("\n")[6]
    assert bogus.range.start.character == len(line[: line.index("bogsu")].encode("utf-8"))
    # Completion at a UTF-8 column after the emoji.
    text = 'data {\n    source csv("😀", )\n}\n'
    await published(utf8_client, uri, lambda: change_doc(utf8_client, uri, text, 2))
    col = len('    source csv("😀", '.encode())
    result = await utf8_client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=1, character=col)))
    assert isinstance(result, types.CompletionList)
    assert "target=" in {i.label for i in result.items}
    edit = result.items[0].text_edit
    assert isinstance(edit, types.TextEdit) and edit.range.start.character == col
    # This client did not say it renders Markdown: docs come as plain strings.
    assert all(isinstance(i.documentation, str) for i in result.items)


async def test_untitled_documents_are_checked(client: LanguageClient) -> None:
    uri = "untitled:Untitled-1"
    got = await published(client, uri, lambda: open_doc(client, uri, BROKEN))
    # its relative data path is not read (relative to what?): a note says so
    assert sorted(got_ranges(got)) == sorted([*expected_ranges(BROKEN), ("W114", 6, 14, 6, 51)])
    assert not internal_errors(client)
