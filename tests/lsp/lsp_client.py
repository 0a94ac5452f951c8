"""Client-side helpers for the end-to-end language-server tests (test_lsp_server.py,
test_lsp_robustness.py): open/change a document, wait for the diagnostics the server
publishes next, read the server's error log. Import after `pytest.importorskip("pytest_lsp")`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES


def _record_publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
    """pytest-lsp's own handler, also keeping the version each publication is for (in
    `client.published_versions`): a publication for an older version (the data-facts thread's
    republish of the text before an edit, say) may arrive after the edit was sent."""
    client.diagnostics[params.uri] = params.diagnostics
    if not hasattr(client, "published_versions"):
        client.published_versions = {}
    client.published_versions[params.uri] = params.version


DEFAULT_CLIENT_FEATURES[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = _record_publish


def utf16(s: str) -> int:
    """Length of s in UTF-16 code units (LSP's default position encoding)."""
    return len(s.encode("utf-16-le")) // 2


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="nnspec", version=version,
                                             text=text)))


def change_doc(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def internal_errors(client: LanguageClient) -> list[str]:
    return [m.message for m in client.log_messages if m.type == types.MessageType.Error]


async def published(client: LanguageClient, uri: str, send: Any,
                    timeout: float = 20.0, version: int | None = None) -> list[types.Diagnostic]:
    """Send something and return the diagnostics the server publishes for `uri` next (for
    `version` of the document, when given: earlier versions' are skipped).

    Polls the client's store rather than waiting on the notification: two notifications read
    in one go would resolve only one waiter, and the other would be missed."""
    client.diagnostics.pop(uri, None)
    send()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    versions = getattr(client, "published_versions", {})
    while uri not in client.diagnostics or (
            version is not None and getattr(client, "published_versions", versions).get(uri)
            != version):
        if loop.time() > deadline:
            pytest.fail(f"no diagnostics published for {uri}; server errors: "
                        f"{internal_errors(client)}")
        await asyncio.sleep(0.001)
    return list(client.diagnostics[uri])
