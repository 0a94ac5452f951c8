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
3. Framing errors end the server (pygls 2.1.1, `pygls.io_.run_async`, which
   `JsonRPCServer.start_io` runs). pygls reads a header line with an unbounded `readline()`
   and then `read(Content-Length)` bytes, whatever the length: a header that announces a
   terabyte raises MemoryError out of the read loop and the server exits; a "line" of a
   gigabyte without a line break is held in memory whole. `serve_io` replaces that loop
   (`NnspecServer.start_io` calls it). It reads header lines of at most `MAX_HEADER_LINE`
   bytes (a longer one is read in pieces and dropped, with a log line), refuses a body
   larger than `MAX_BODY` without reading it (a log line), and then resynchronises as clangd
   does: whatever follows is read as header lines until the next `Content-Length:` header,
   also when that header follows other bytes on the same line (a refused body is followed
   directly by the next message's header). The next well-formed message is answered.
   A body that happens to contain the text `Content-Length:` can mislead the resync; only
   bytes after a refusal are at risk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter
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


# Workaround 3: framing errors.

log = logging.getLogger("nnspec.lsp")
MAX_BODY = 64 * 1024 * 1024  # bytes: larger messages are refused unread
MAX_HEADER_LINE = 8 * 1024  # bytes, line break included: longer header lines are dropped
_NAME = b"content-length:"
DROPPED = b"\x00dropped"  # what _header_line gives for a dropped line (never a real line)


def _header_line(stream: BinaryIO) -> bytes | None:
    """The next header line (at most MAX_HEADER_LINE bytes), or None at the end of input.

    A longer line is read in pieces and dropped, keeping none of it but the piece it ends
    with: a Content-Length header at its end is what the resync looks for."""
    line = stream.readline(MAX_HEADER_LINE)
    if len(line) < MAX_HEADER_LINE or line.endswith(b"\n"):
        return line or None
    dropped, last = len(line), line
    while True:
        piece = stream.readline(MAX_HEADER_LINE)
        if not piece:
            log.error("nnspec lsp: dropped a header line of %d bytes without a line break "
                      "(the input ended)", dropped)
            return None
        dropped += len(piece)
        # Keep a header name cut in two by the piece boundary.
        joined = last[-len(_NAME):] + piece
        last = piece
        if piece.endswith(b"\n"):
            break
    log.error("nnspec lsp: dropped a header line of %d bytes (at most %d are read); "
              "looking for the next Content-Length header", dropped, MAX_HEADER_LINE)
    at = joined.lower().rfind(_NAME)
    return joined[at:] if at >= 0 else DROPPED


def read_message(stream: BinaryIO) -> bytes | None:
    """The body of the next well-framed message on `stream` (blocking), None at its end.

    Messages whose framing is wrong are skipped with a log line each; see workaround 3."""
    length: int | None = None
    while True:
        line = _header_line(stream)
        if line is None:
            return None
        if line is DROPPED:
            length = None  # the header block it was part of is broken
            continue
        at = line.lower().find(_NAME)
        if at > 0:
            log.error("nnspec lsp: skipped %d bytes that are not a header before a "
                      "Content-Length header", at)
            line, length = line[at:], None
        if line.strip() == b"":
            if length is None:
                continue  # blank lines between messages, or a header block without a length
            if length > MAX_BODY:
                log.error("nnspec lsp: refused a message of %d bytes (Content-Length; at most "
                          "%d): its body is not read; looking for the next Content-Length "
                          "header", length, MAX_BODY)
                length = None
                continue
            body = stream.read(length)
            if len(body) < length:
                return None  # the input ended inside the body
            return body
        name, colon, value = line.partition(b":")
        if not colon:
            log.error("nnspec lsp: ignored a line that is not a header: %r", line[:80])
            continue
        if name.strip().lower() == _NAME[:-1]:
            digits = value.strip()
            if digits.isdigit() and int(digits) > 0:
                length = int(digits)
            else:
                log.error("nnspec lsp: ignored a message whose Content-Length is %r",
                          digits[:40])
                length = None
        # Any other header (Content-Type) is ignored, as pygls does.


def _start_reader(loop: asyncio.AbstractEventLoop, stream: BinaryIO,
                  queue: asyncio.Queue, may_read: threading.Semaphore) -> None:
    """read_message(stream) in a loop on one daemon thread (it never holds up the server's
    exit, as an executor's thread blocked on stdin would), each message handed to `queue`.
    It reads a message only when `may_read` allows: one ahead of the loop, as pygls does."""

    def work() -> None:
        while True:
            may_read.acquire()
            try:
                item: tuple[bytes | None, BaseException | None] = (read_message(stream), None)
            except BaseException as exc:  # handed to the loop, raised there
                item = (None, exc)
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: the server has stopped
                return
            if item[0] is None:
                return

    threading.Thread(target=work, name="nnspec-lsp-reader", daemon=True).start()


async def _serve(server: Any, stream: BinaryIO) -> None:
    protocol, stop = server.protocol, server._stop_event
    queue: asyncio.Queue = asyncio.Queue()
    may_read = threading.Semaphore(1)
    _start_reader(asyncio.get_running_loop(), stream, queue, may_read)
    while not stop.is_set():
        body, error = await queue.get()
        if error is not None:
            raise error
        if body is None:
            break
        may_read.release()  # read the next message while this one is handled
        try:
            message = json.loads(body, object_hook=protocol.structure_message)
        except Exception as exc:
            log.error("nnspec lsp: ignored a message that is not JSON-RPC: %s", exc)
            continue
        try:
            protocol.handle_message(message)
        except Exception as exc:  # pygls's own loop logs these and goes on, as here
            log.exception("nnspec lsp: unable to handle a message")
            server._report_server_error(exc, type(exc))


def serve_io(server: Any, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """pygls's `JsonRPCServer.start_io` with the message loop of workaround 3."""
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    try:
        # The reader thread reads a private buffered copy of stdin's descriptor, never
        # sys.stdin: at interpreter shutdown Python flushes sys.stdin's buffer and aborts
        # ("could not acquire lock ... possibly due to daemon threads") when the daemon
        # reader holds its lock, blocked in a read.
        asyncio.run(_serve(server, stdin or open(os.dup(sys.stdin.fileno()), "rb")))
    except BrokenPipeError:
        log.error("nnspec lsp: the connection to the client is lost; stopping")
    except (KeyboardInterrupt, SystemExit):  # SystemExit: the client's `exit`
        pass
    finally:
        server.shutdown()
