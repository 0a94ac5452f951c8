"""lsp.server: LSP messages over stdio -> nnspec front end -> LSP responses (pygls).

`nnspec lsp` (or `python -m nnspec.lsp`) runs `main()`. Documents are synchronized in full
(the editor sends the whole text), so the text checked is exactly the editor's text and never
pygls's reconstruction of it. Every handler is wrapped by `_safe`: a failure inside nnspec is
logged (stderr and window/logMessage) and answered with an empty result, never with a
JSON-RPC internal error.

Settings (`nnspec.inlayHints.enabled`) are read from the client through
`workspace/configuration` once initialized and again on every
`workspace/didChangeConfiguration`; a client that cannot be asked keeps the defaults.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from lsprotocol import types
from pygls import uris
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer

from nnspec.data.files import NotRegular
from nnspec.lsp import actions, inlay, navigate, publish
from nnspec.lsp import complete as complete_mod
from nnspec.lsp import hover as hover_mod
from nnspec.lsp import signature as signature_mod
from nnspec.lsp.analysis import Cache, FrontEndError
from nnspec.lsp.datafacts import DataFacts
from nnspec.lsp.formatting import format_edits
from nnspec.lsp.positions import UTF16, position_to_offset
from nnspec.lsp.pygls_fixes import Protocol, document_text, serve_io

log = logging.getLogger("nnspec.lsp")
F = TypeVar("F", bound=Callable[..., Any])
# How long a change waits for a newer one before it is checked: long enough for the messages
# an editor has already sent to be read (pygls reads each through a thread), short against
# the time a check takes.
COALESCE_S = 0.005

try:
    from importlib.metadata import version as _version

    VERSION = _version("nnspec")
except Exception:  # not installed: running from a checkout
    VERSION = "0.1.0"


class NnspecServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("nnspec", VERSION, text_document_sync_kind=types.TextDocumentSyncKind.Full,
                         protocol_cls=Protocol)
        # Data files are read by a worker (lsp/datafacts.py); when facts arrive, the
        # documents that waited for them are checked and published again, on the loop.
        self.data = DataFacts(notify=self._data_arrived)
        self.cache = Cache(self.data)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Per open document, all released when it is closed: the newest version received,
        # when it was received (loop time), and the one timer that checks it once quiet.
        self.latest: dict[str, int] = {}
        self.changed_at: dict[str, float] = {}
        self.pending: dict[str, asyncio.TimerHandle] = {}
        # The last layer shapes that held, per open document (lsp/inlay.py): what the inlay
        # hints fall back on while the model block is being edited.
        self.known: dict[str, inlay.Known] = {}
        self.inlay_hints_enabled = True  # the setting nnspec.inlayHints.enabled

    def _data_arrived(self) -> None:
        """Called from a worker's thread: hand over to the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_republish_data, self)

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve over stdin/stdout with a message loop that survives framing errors
        (workaround 3 in lsp/pygls_fixes.py)."""
        serve_io(self, stdin, stdout)

    def forget(self, uri: str) -> None:
        """Release everything kept for a document (it was closed)."""
        self.cache.drop(uri)
        self.latest.pop(uri, None)
        self.changed_at.pop(uri, None)
        self.known.pop(uri, None)
        timer = self.pending.pop(uri, None)
        if timer is not None:
            timer.cancel()

    def state_sizes(self) -> dict[str, int]:
        """How many entries each per-document or per-message table holds (for the tests)."""
        return {"cache": len(self.cache), "latest": len(self.latest),
                "changed_at": len(self.changed_at), "pending": len(self.pending),
                "known": len(self.known), "data_facts": len(self.data),
                "documents": len(self.workspace.text_documents),
                "request_futures": len(self.protocol._request_futures)}

    @property
    def encoding(self) -> str:
        try:
            enc = self.workspace.position_encoding
        except Exception:  # before initialize
            return UTF16
        return str(getattr(enc, "value", enc) or UTF16)

    def document(self, uri: str) -> tuple[str, str | None]:
        """(text, filesystem path or None) of an open document."""
        doc = self.workspace.get_text_document(uri)
        path = uris.to_fs_path(uri) if uri.startswith("file:") else None
        try:
            # A document the client never opened is read from disk, if it is a regular file.
            text = document_text(doc)
        except NotRegular as exc:
            log.warning("nnspec lsp: not reading %s: %s", path or uri, exc)
            text = ""
        except (OSError, UnicodeDecodeError):
            text = ""  # nothing there to check, complete or hover
        return text, path

    def client_can(self, field: str) -> bool:
        """Whether the client declares the boolean ClientCapabilities path `field`."""
        try:
            return bool(get_capability(self.client_capabilities, field, False))  # type: ignore
        except Exception:
            return False

    def markdown(self, field: str) -> bool:
        """Whether the client renders Markdown in `field` (a ClientCapabilities path that
        lists content formats); docs are sent as plain text otherwise, as LSP asks."""
        try:
            formats = get_capability(self.client_capabilities, field, None)  # type: ignore
        except Exception:
            return False
        return formats is not None and types.MarkupKind.Markdown in formats

    def report_internal(self, what: str) -> None:
        """Log the exception being handled; the test suite asserts this never happens."""
        tb = traceback.format_exc()
        log.error("nnspec lsp: internal error in %s\n%s", what, tb)
        try:
            self.window_log_message(types.LogMessageParams(
                type=types.MessageType.Error, message=f"nnspec: internal error in {what}\n{tb}"))
        except Exception:
            pass


server = NnspecServer()


def _safe(default: Callable[[], Any]) -> Callable[[F], F]:
    """Answer `default()` instead of an internal error when a handler fails."""

    def wrap(fn: F) -> F:
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(ls: NnspecServer, params: Any) -> Any:
                try:
                    return await fn(ls, params)
                except Exception:
                    ls.report_internal(fn.__name__)
                    return default()

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(ls: NnspecServer, params: Any) -> Any:
            try:
                return fn(ls, params)
            except Exception:
                ls.report_internal(fn.__name__)
                return default()

        return run  # type: ignore[return-value]

    return wrap


def _republish_data(ls: NnspecServer) -> None:
    """Data facts arrived: check again and publish each open document that waited for them
    (its newest version), then have the client ask for inlay hints again."""
    try:
        waiting = [uri for uri in ls.cache.waiting_for_data()
                   if uri in ls.workspace.text_documents]
        for uri in waiting:
            ls.cache.drop(uri)
            _publish(ls, uri, ls.latest.get(uri, ls.workspace.get_text_document(uri).version))
        if waiting and ls.inlay_hints_enabled and ls.client_can(
                "workspace.inlay_hint.refresh_support"):
            ls.workspace_inlay_hint_refresh(None)
    except Exception:
        ls.report_internal("data facts")


def _publish(ls: NnspecServer, uri: str, version: int | None) -> None:
    text, path = ls.document(uri)
    try:
        analysis = ls.cache.get(uri, text, path)
        diagnostics = publish.convert(analysis.diagnostics, text, path, ls.encoding)
    except FrontEndError as exc:
        # A bug in nnspec, not in the spec: say so in the editor (as `nnspec check` does with
        # E502) rather than leave the previous diagnostics standing.
        ls.report_internal("diagnose")
        diagnostics = [types.Diagnostic(
            range=types.Range(start=types.Position(line=0, character=0),
                              end=types.Position(line=0, character=0)),
            message=f"internal error in nnspec ({exc.__cause__!r}); please report this file",
            severity=types.DiagnosticSeverity.Error, code="E502", source=publish.SOURCE)]
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))


SETTING_INLAY_HINTS = "nnspec.inlayHints.enabled"


def _setting(settings: Any, dotted: str) -> Any:
    """`settings["nnspec"]["inlayHints"]["enabled"]` (or a flat "nnspec.inlayHints.enabled"
    key, as some clients send), None when absent."""
    if not isinstance(settings, dict):
        return None
    if dotted in settings:
        return settings[dotted]
    head, _, rest = dotted.partition(".")
    return _setting(settings.get(head), rest) if rest else settings.get(head)


async def _read_settings(ls: NnspecServer, pushed: Any = None) -> None:
    """Apply the settings the client pushed, else ask for them (when it can be asked); hints
    shown before are refreshed when the client allows it."""
    value = _setting(pushed, SETTING_INLAY_HINTS)
    if value is None and ls.client_can("workspace.configuration"):
        got = await ls.workspace_configuration_async(types.ConfigurationParams(
            items=[types.ConfigurationItem(section=SETTING_INLAY_HINTS)]))
        value = got[0] if got else None
    enabled = value is not False  # unset (None) means the default, on
    if enabled != ls.inlay_hints_enabled:
        ls.inlay_hints_enabled = enabled
        if ls.client_can("workspace.inlay_hint.refresh_support"):
            ls.workspace_inlay_hint_refresh(None)


@server.feature(types.INITIALIZED)
@_safe(lambda: None)
async def initialized(ls: NnspecServer, params: types.InitializedParams) -> None:
    # Import the front end now, so that the first keystroke does not pay for it (nor the
    # first data facts: judging them needs NumPy, unpickling them too).
    import nnspec.data.facts  # noqa: F401
    import nnspec.pipeline  # noqa: F401

    ls._loop = asyncio.get_running_loop()  # where data facts are handed over (_data_arrived)

    await _read_settings(ls)


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
@_safe(lambda: None)
async def did_change_configuration(ls: NnspecServer,
                                   params: types.DidChangeConfigurationParams) -> None:
    await _read_settings(ls, params.settings)


@server.feature(types.SHUTDOWN)
@_safe(lambda: None)
def shutdown(ls: NnspecServer, params: Any) -> None:
    ls.data.close()  # a large file being read must not hold up the exit


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
@_safe(lambda: None)
def did_open(ls: NnspecServer, params: types.DidOpenTextDocumentParams) -> None:
    if ls._loop is None:  # a client that never sent `initialized`
        ls._loop = asyncio.get_running_loop()
    _publish(ls, params.text_document.uri, params.text_document.version)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
@_safe(lambda: None)
def did_change(ls: NnspecServer, params: types.DidChangeTextDocumentParams) -> None:
    # When the editor sends changes faster than they are checked (a paste, a burst of
    # keystrokes), only the newest text is checked and published, once no change has come
    # for COALESCE_S. One timer per document, not one task per change: a burst of changes
    # costs no memory beyond the newest text.
    uri = params.text_document.uri
    loop = asyncio.get_running_loop()
    ls.latest[uri] = params.text_document.version
    ls.changed_at[uri] = loop.time()
    if uri not in ls.pending:
        ls.pending[uri] = loop.call_later(COALESCE_S, _when_quiet, ls, uri)


def _when_quiet(ls: NnspecServer, uri: str) -> None:
    """The timer of `did_change`: publish the newest text, or wait until the burst ends."""
    ls.pending.pop(uri, None)
    try:
        changed_at = ls.changed_at.get(uri)
        if changed_at is None:  # closed meanwhile
            return
        loop = asyncio.get_running_loop()
        wait = changed_at + COALESCE_S - loop.time()
        if wait > 0:
            ls.pending[uri] = loop.call_later(wait, _when_quiet, ls, uri)
            return
        _publish(ls, uri, ls.latest.get(uri))
    except Exception:
        ls.report_internal("did_change")


@server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
@_safe(lambda: None)
def did_save(ls: NnspecServer, params: types.DidSaveTextDocumentParams) -> None:
    # Saving can change what the spec refers to on disk (a data file next to it): check again.
    ls.cache.drop(params.text_document.uri)
    _publish(ls, params.text_document.uri, None)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
@_safe(lambda: None)
def did_close(ls: NnspecServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.forget(params.text_document.uri)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=["=", "(", ",", " "]))
@_safe(lambda: types.CompletionList(is_incomplete=False, items=[]))
def completion(ls: NnspecServer, params: types.CompletionParams) -> types.CompletionList:
    text, _ = ls.document(params.text_document.uri)
    offset = position_to_offset(text, params.position, ls.encoding)
    items = complete_mod.complete(text, offset, ls.encoding)
    if not ls.markdown("text_document.completion.completion_item.documentation_format"):
        # A plain string: what a client that declares no documentation format reads.
        items = [attrs.evolve(i, documentation=_plain(i.documentation).value
                              if i.documentation is not None else None) for i in items]
    return types.CompletionList(is_incomplete=False, items=items)


def _plain(doc: Any) -> types.MarkupContent:
    value = doc.value if isinstance(doc, types.MarkupContent) else str(doc)
    return types.MarkupContent(kind=types.MarkupKind.PlainText, value=value)


@server.feature(types.TEXT_DOCUMENT_HOVER)
@_safe(lambda: None)
def hover(ls: NnspecServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    text, path = ls.document(uri)
    analysis = ls.cache.get(uri, text, path)
    offset = position_to_offset(text, params.position, ls.encoding)
    result = hover_mod.hover(text, offset, analysis.spec, ls.encoding, analysis.tokens)
    if result is not None and not ls.markdown("text_document.hover.content_format"):
        result = attrs.evolve(result, contents=_plain(result.contents))
    return result


@server.feature(types.TEXT_DOCUMENT_SIGNATURE_HELP, types.SignatureHelpOptions(
    trigger_characters=["(", ",", " "], retrigger_characters=["="]))
@_safe(lambda: None)
def signature_help(ls: NnspecServer, params: types.SignatureHelpParams
                   ) -> types.SignatureHelp | None:
    uri = params.text_document.uri
    text, path = ls.document(uri)
    offset = position_to_offset(text, params.position, ls.encoding)
    result = signature_mod.signature_help(text, offset, ls.cache.get(uri, text, path).tokens)
    if result is not None and not ls.markdown(
            "text_document.signature_help.signature_information.documentation_format"):
        result = signature_mod.plain(result)
    return result


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=actions.KINDS))
@_safe(list)
def code_action(ls: NnspecServer, params: types.CodeActionParams) -> list:
    uri = params.text_document.uri
    text, path = ls.document(uri)
    version = ls.workspace.get_text_document(uri).version
    analysis = ls.cache.get(uri, text, path)
    only = [str(getattr(k, "value", k)) for k in params.context.only or []] or None
    return actions.code_actions(analysis.diagnostics, text, path, uri, version, params.range,
                                only, ls.encoding)


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
@_safe(list)
def inlay_hint(ls: NnspecServer, params: types.InlayHintParams) -> list:
    if not ls.inlay_hints_enabled:
        return []
    uri = params.text_document.uri
    if uri not in ls.workspace.text_documents:
        return []  # only open documents (what is kept for them is released on close)
    text, path = ls.document(uri)
    found, known = inlay.inlay_hints(ls.cache.get(uri, text, path), ls.known.get(uri),
                                     params.range, ls.encoding)
    if known is not None:
        ls.known[uri] = known
    return found


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
@_safe(list)
def formatting(ls: NnspecServer, params: types.DocumentFormattingParams) -> list:
    text, _ = ls.document(params.text_document.uri)
    return format_edits(text, ls.encoding)


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@_safe(list)
def document_symbol(ls: NnspecServer, params: types.DocumentSymbolParams) -> list:
    uri = params.text_document.uri
    text, path = ls.document(uri)
    return navigate.symbols(text, ls.cache.get(uri, text, path).document, ls.encoding)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
@_safe(list)
def definition(ls: NnspecServer, params: types.DefinitionParams) -> list:
    text, path = ls.document(params.text_document.uri)
    offset = position_to_offset(text, params.position, ls.encoding)
    return navigate.definition(text, offset, path)


def main(argv: list[str] | None = None) -> int:
    """Serve LSP over stdin/stdout until the client says exit."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(name)s %(levelname)s: %(message)s")
    try:
        server.start_io()
    finally:
        server.data.close()
    return 0
