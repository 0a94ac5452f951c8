"""lsp.pygls_fixes: pygls's JSON-RPC protocol -> the same protocol without its known faults.

Every workaround nnspec needs for pygls lives here, each with the pygls behaviour it works
around, so that it can go when pygls fixes that behaviour. They were written for pygls 2.1
(pyproject pins `pygls>=2.1,<2.2`); tests/lsp/test_lsp_pygls_fixes.py fails loudly when the
internals they rely on change, and when pygls stops showing the fault (the workaround can then
be deleted).

1. Notification futures are never released (pygls 2.1.1, `JsonRPCProtocol._execute_handler`).
   pygls stores the future of every handler it runs in `_request_futures`, keyed by the
   message id, so that `$/cancelRequest` can find it. Only the callback of a *request*
   (`_send_handler_result`) removes it again. A notification is given a fresh `uuid4()` id
   (`_handle_notification`), and so is each step of a generator handler (`_run_generator`,
   which is how pygls's own `didOpen`/`didChange`/`didClose` call ours): those entries stay
   for the life of the server, about 3 KB per `didChange`, tens of MB over a day of typing.
   `Protocol` removes such an entry when its future is done. A request's entry is left to
   pygls (it must stay until the request is answered, so that it can still be cancelled).
2. A document the client never opened is read from disk with `Path.read_text` (pygls 2.1.1,
   `TextDocument.source`, when `_source` is None): a named pipe there blocks the server for
   good, `/dev/zero` is read until memory runs out. `document_text` reads such a document
   itself, from a descriptor that `nnspec.data.files.open_regular` checked (O_NONBLOCK, then
   fstat): anything but a regular file raises `NotRegular` (an OSError) at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from pygls.protocol import LanguageServerProtocol

from nnspec.data.files import open_regular

# The pygls versions this module was written for (checked by the tests, stated in pyproject).
PYGLS_SERIES = "2.1"


def answers_request(protocol: Any, callback: Callable[..., Any]) -> bool:
    """Whether `callback` is the one pygls gives a request's handler (it sends the answer
    and removes the request's future itself)."""
    return isinstance(callback, partial) and callback.func == protocol._send_handler_result


def _forget_when_done(futures: dict[Any, Any], msg_id: Any,
                      callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def done(future: Any) -> Any:
        # Only this handler's own entry: an id is never reused, but be exact anyway.
        if futures.get(msg_id) is future:
            del futures[msg_id]
        return callback(future)

    return done


class Protocol(LanguageServerProtocol):
    """pygls's LanguageServerProtocol that releases finished notification futures."""

    def _execute_handler(self, msg_id: Any, handler: Any, callback: Any,
                         args: Any = None, kwargs: Any = None) -> None:
        if not answers_request(self, callback):
            callback = _forget_when_done(self._request_futures, msg_id, callback)
        super()._execute_handler(msg_id, handler, callback, args, kwargs)


def document_text(doc: Any) -> str:
    """The text of a pygls TextDocument; one the client never opened is read only when it is
    a regular file (NotRegular, an OSError, otherwise; UnicodeDecodeError for non-UTF-8)."""
    if getattr(doc, "_source", None) is None and getattr(doc, "path", None) is not None:
        with open(open_regular(doc.path), "rb") as f:
            return f.read().decode("utf-8")
    return str(doc.source)
