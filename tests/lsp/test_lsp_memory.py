"""The language server through a working day: memory stays flat while editing.

A real client talks over pipes to the real server (tests/lsp/lsp_memory_server.py: `nnspec lsp`
with tracemalloc on, plus two test-only requests). After a warm-up, thousands of full-text
changes (and a mixed burst of requests, documents opened and closed) must leave under
`BOUND` bytes traced per change; a closed document leaves nothing behind; a slow request sent
before a burst can still be cancelled, or answered. Before nnspec/lsp/pygls_fixes.py, pygls kept
about 3 KB per change (each notification's future) and these tests failed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from lsp_helpers import ROOT

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsp_client import change_doc, open_doc, published  # noqa: E402
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVER = [sys.executable, str(Path(__file__).with_name("lsp_memory_server.py"))]
BOUND = 100  # bytes retained per change, at most
WARMUP, CHANGES = 1000, 5000
# A 30-line spec, as an editor would send it whole on every keystroke.
SPEC = (ROOT / "specs" / "moons.nn").read_text() + "# notes\n" * 5


def text(n: int) -> str:
    """Version n of the spec; every third has a misspelt activation (a diagnostic with a fix)."""
    spec = SPEC if n % 3 else SPEC.replace("dense 16 relu", "dense 16 rleu", 1)
    return spec.replace("epochs 200", f"epochs {n % 500 + 1}")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=ROOT.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def state(client: LanguageClient) -> dict:
    """The server's state once it is quiet (no change waiting to be checked)."""
    for _ in range(2000):
        got = await client.protocol.send_request_async("nnspec/test.state", {})
        got = got._asdict()  # pygls gives an untyped result as a namedtuple
        if not got["pending"]:
            return got
        await asyncio.sleep(0.01)
    pytest.fail(f"the server never became quiet: {got}")


async def burst(client: LanguageClient, uri: str, start: int, count: int) -> None:
    for version in range(start, start + count):
        change_doc(client, uri, text(version), version)
        if version % 200 == 0:
            await asyncio.sleep(0)  # let the client's writer drain, as an editor would


async def test_changes_retain_no_memory(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "day.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, text(0)))
    await burst(client, uri, 1, WARMUP)
    before = await state(client)
    await burst(client, uri, WARMUP + 1, CHANGES)
    after = await state(client)
    per_change = (after["traced"] - before["traced"]) / CHANGES
    assert per_change < BOUND, (before, after)
    assert after["request_futures"] == 0, after


async def test_a_mixed_burst_retains_no_memory(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "mixed.nn").as_uri()
    doc = types.TextDocumentIdentifier(uri=uri)
    dense = types.Position(line=3, character=10)  # on `dense 16 relu`
    optimizer = types.Position(line=16, character=18)  # inside `sgd(`
    everything = types.Range(start=types.Position(line=0, character=0),
                             end=types.Position(line=100, character=0))

    async def round_(first: int, count: int) -> None:
        pending = []
        for version in range(first, first + count):
            change_doc(client, uri, text(version), version)
            if version % 10 == 0:  # sent at once (a coroutine would wait for the gather)
                pending += [asyncio.ensure_future(request) for request in (
                    client.text_document_hover_async(
                        types.HoverParams(text_document=doc, position=dense)),
                    client.text_document_completion_async(
                        types.CompletionParams(text_document=doc, position=optimizer)),
                    client.text_document_signature_help_async(
                        types.SignatureHelpParams(text_document=doc, position=optimizer)),
                    client.text_document_code_action_async(types.CodeActionParams(
                        text_document=doc, range=types.Range(start=dense, end=dense),
                        context=types.CodeActionContext(diagnostics=[]))),
                    client.text_document_inlay_hint_async(types.InlayHintParams(
                        text_document=doc, range=everything)),
                )]
            if version % 50 == 0:  # a document opened, changed and closed again
                other = uri.replace("mixed.nn", f"other{version % 100}.nn")
                open_doc(client, other, text(version))
                change_doc(client, other, text(version + 1), 2)
                client.text_document_did_close(types.DidCloseTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=other)))
        await asyncio.gather(*pending)

    await published(client, uri, lambda: open_doc(client, uri, text(0)))
    await round_(1, WARMUP)
    before = await state(client)
    await round_(WARMUP + 1, CHANGES)
    after = await state(client)
    assert (after["traced"] - before["traced"]) / CHANGES < BOUND, (before, after)
    assert after["request_futures"] == 0, after


async def test_a_closed_document_leaves_nothing(client: LanguageClient, tmp_path: Path) -> None:
    before = await state(client)
    uris = [(tmp_path / f"doc{i}.nn").as_uri() for i in range(100)]
    everything = types.Range(start=types.Position(line=0, character=0),
                             end=types.Position(line=100, character=0))
    for uri in uris:
        open_doc(client, uri, text(1))
        change_doc(client, uri, text(2), 2)
        await client.text_document_inlay_hint_async(types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=everything))
    opened = await state(client)
    assert opened["documents"] == before["documents"] + 100
    assert opened["cache"] == before["cache"] + 100
    assert opened["known"] == before["known"] + 100  # the last shapes that held (inlay)
    for uri in uris:
        client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
    closed = await state(client)
    for table in ("documents", "cache", "latest", "changed_at", "pending", "known",
                  "request_futures"):
        assert closed[table] == before[table], (table, before, closed)


async def test_a_slow_request_outlives_a_burst(client: LanguageClient, tmp_path: Path) -> None:
    """Only finished notification futures are dropped: a request sent before a burst keeps
    its future, so it can still be cancelled, and one not cancelled is answered."""
    uri = (tmp_path / "slow.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, text(0)))
    cancelled = asyncio.ensure_future(client.protocol.send_request_async(
        "nnspec/test.slow", {"seconds": 60}, msg_id="slow-cancelled"))
    answered = asyncio.ensure_future(client.protocol.send_request_async(
        "nnspec/test.slow", {"seconds": 1}, msg_id="slow-answered"))
    await asyncio.sleep(0.05)  # both sent, and started
    await burst(client, uri, 1, 2000)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-cancelled"))
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(cancelled, 10)
    assert "cancel" in str(caught.value).lower(), caught.value
    assert await asyncio.wait_for(answered, 10) == "done"
