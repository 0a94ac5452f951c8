"""The language server under random editing: every response well-formed, no internal error.

Seeded random edit sequences (inserting tokens, emoji, line breaks of every kind, deleting
and duplicating text) over the example specs; after each edit the published diagnostics are
checked against the text, and requests at random (also stale, out-of-range) positions must
come back well-formed. Nothing may be logged as an internal error.
"""

from __future__ import annotations

import random
import re
import sys
from functools import partial
from typing import Any

import pytest
from lsp_helpers import ROOT, SPECS

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsp_client import change_doc, internal_errors, open_doc, published, utf16  # noqa: E402
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from nnspec.diagnostics import CODES  # noqa: E402
from nnspec.lsp.server import _safe  # noqa: E402

SERVER = [sys.executable, "-m", "nnspec.cli", "lsp", "--stdio"]
SEQUENCES, EDITS = 300, 3  # 900 edits

SNIPPETS = [
    "dense", " 16", " relu", " rleu", "(", ")", "{", "}", "[", "]", "=", ",", ";", '"', "#",
    "\n", "\r\n", "\r", "\t", "😀", "π ≈ 3.14", " adam(lr=", " then ", "-1e9", "9" * 25, "@",
    "model m {", "train {", "data {", "output {", "source csv(\"😀.csv\", target=y)",
    "init from \"w.npz\"", " init=he_normal", "early_stop(", "metrics accuracy, ", "\\",
    "batch full", "epochs 0", "input -2", "leaky_relu(alpha=", "\u2028", "\x00", "\ufeff",
]

_BREAK = re.compile(r"\r\n|\r|\n")


def lsp_lines(text: str) -> list[str]:
    return _BREAK.split(text)


def check_position(lines: list[str], p: types.Position) -> None:
    assert 0 <= p.line < len(lines), (p, len(lines))
    assert 0 <= p.character <= utf16(lines[p.line]), (p, lines[p.line])


def check_range(lines: list[str], r: types.Range) -> None:
    check_position(lines, r.start)
    check_position(lines, r.end)
    assert (r.start.line, r.start.character) <= (r.end.line, r.end.character), r


def edit(rng: random.Random, text: str) -> str:
    kind = rng.random()
    at = rng.randint(0, len(text))
    if kind < 0.55:
        return text[:at] + rng.choice(SNIPPETS) + text[at:]
    if kind < 0.8:
        return text[:at] + text[at + rng.randint(1, 12):]
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if kind < 0.9:
        lines.insert(j, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def random_position(rng: random.Random, lines: list[str]) -> types.Position:
    if rng.random() < 0.1:  # stale or bogus positions, as a lagging client may send
        return types.Position(line=rng.randint(0, len(lines) + 3), character=rng.randint(0, 99))
    line = rng.randrange(len(lines))
    return types.Position(line=line, character=rng.randint(0, utf16(lines[line])))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=ROOT.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def requests(client: LanguageClient, rng: random.Random, uri: str, text: str) -> None:
    lines = lsp_lines(text)
    doc = types.TextDocumentIdentifier(uri=uri)
    pos = random_position(rng, lines)
    completion = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc, position=pos))
    assert isinstance(completion, types.CompletionList)
    for item in completion.items:
        assert item.label and isinstance(item.text_edit, types.TextEdit)
        check_range(lines, item.text_edit.range)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=random_position(rng, lines)))
    if hover is not None:
        assert isinstance(hover.contents, types.MarkupContent) and hover.contents.value
        if hover.range is not None:
            check_range(lines, hover.range)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc))
    for sym in symbols or []:
        assert isinstance(sym, types.DocumentSymbol)
        check_range(lines, sym.range)
        check_range(lines, sym.selection_range)
        for child in sym.children or []:
            check_range(lines, child.range)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc, options=types.FormattingOptions(tab_size=4, insert_spaces=True)))
    for e in edits or []:
        check_range(lines, e.range)
        assert isinstance(e.new_text, str)
    await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc, position=random_position(rng, lines)))


@pytest.mark.asyncio(loop_scope="module")
async def test_random_edits(client: LanguageClient) -> None:
    rng = random.Random(20240607)
    sources = [p.read_text() for p in SPECS]
    total = 0
    for seq in range(SEQUENCES):
        uri = (ROOT / "specs" / f"fuzz{seq}.nn").as_uri()
        text = rng.choice(sources)
        await published(client, uri, partial(open_doc, client, uri, text, version=0),
                        timeout=10, version=0)
        for version in range(1, EDITS + 1):
            text = edit(rng, text)
            diagnostics = await published(client, uri,
                                          partial(change_doc, client, uri, text, version),
                                          timeout=10, version=version)
            lines = lsp_lines(text)
            for d in diagnostics:
                check_range(lines, d.range)
                assert d.code in CODES and d.message and d.source == "nnspec"
            total += 1
            if version % 2 == 0:
                await requests(client, rng, uri, text)
        client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
    assert total == SEQUENCES * EDITS
    assert internal_errors(client) == []


class _FakeServer:
    def __init__(self) -> None:
        self.reported: list[str] = []

    def report_internal(self, what: str) -> None:
        self.reported.append(what)


@pytest.mark.parametrize("default,expected", [(list, []), (lambda: None, None)])
def test_a_failing_handler_answers_empty_and_reports(default: Any, expected: Any) -> None:
    def broken(ls: Any, params: Any) -> Any:
        raise RuntimeError("boom")

    fake = _FakeServer()
    assert _safe(default)(broken)(fake, None) == expected
    assert fake.reported == ["broken"]


def test_a_front_end_bug_is_shown_as_e502_not_stale_diagnostics() -> None:
    from nnspec.lsp.analysis import FrontEndError
    from nnspec.lsp.server import _publish

    class Failing:
        def get(self, uri: str, text: str, path: str | None) -> Any:
            raise FrontEndError("diagnose() failed") from ZeroDivisionError("bug")

    class Fake(_FakeServer):
        cache, encoding = Failing(), "utf-16"
        sent: list[types.PublishDiagnosticsParams] = []

        def document(self, uri: str) -> tuple[str, None]:
            return "model m {}", None

        def text_document_publish_diagnostics(self, p: types.PublishDiagnosticsParams) -> None:
            self.sent.append(p)

    fake = Fake()
    _publish(fake, "file:///x.nn", 3)  # type: ignore[arg-type]
    (params,) = fake.sent
    assert [d.code for d in params.diagnostics] == ["E502"]
    assert "ZeroDivisionError" in params.diagnostics[0].message and params.version == 3
    assert fake.reported == ["diagnose"]
