"""The pygls workarounds (nnspec/lsp/pygls_fixes.py) against the pygls installed.

These fail loudly when pygls changes under them: a version outside the series they were
written for, internals they rely on renamed, or the fault they work around gone (then the
workaround can be deleted). The protocol is driven in process through pygls's own message
parsing (`structure_message`) and dispatch (`handle_message`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from importlib.metadata import version

import pytest
from lsp_helpers import ROOT

pytest.importorskip("pygls")
from pygls.lsp.server import LanguageServer  # noqa: E402
from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol  # noqa: E402

from nnspec.lsp import pygls_fixes  # noqa: E402
from nnspec.lsp.server import NnspecServer  # noqa: E402


def test_pygls_is_the_series_the_workarounds_were_written_for() -> None:
    assert version("pygls").startswith(pygls_fixes.PYGLS_SERIES + "."), (
        f"pygls {version('pygls')}: nnspec/lsp/pygls_fixes.py was written for "
        f"{pygls_fixes.PYGLS_SERIES}.x; check each workaround against the new pygls")
    pyproject = (ROOT / "pyproject.toml").read_text()
    major, minor = pygls_fixes.PYGLS_SERIES.split(".")
    pins = re.findall(r'"pygls([^"]*)"', pyproject)
    assert pins and all(p == f">={major}.{minor},<{major}.{int(minor) + 1}" for p in pins), pins


def test_the_internals_relied_on_are_there() -> None:
    params = list(inspect.signature(JsonRPCProtocol._execute_handler).parameters)
    assert params == ["self", "msg_id", "handler", "callback", "args", "kwargs"], params
    assert callable(JsonRPCProtocol._send_handler_result)
    source = inspect.getsource(JsonRPCProtocol._handle_request)
    assert "partial(self._send_handler_result, msg_id=msg_id)" in source, (
        "pygls answers requests differently now: pygls_fixes.answers_request must follow")
    assert "self._request_futures.pop(msg_id" in inspect.getsource(
        JsonRPCProtocol._send_handler_result)
    assert isinstance(NnspecServer().protocol, pygls_fixes.Protocol)


class Sink:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        pass


def server(protocol_cls: type[LanguageServerProtocol]) -> LanguageServer:
    ls = LanguageServer("t", "1", protocol_cls=protocol_cls)

    @ls.feature("test/note")
    async def note(ls: LanguageServer, params: object) -> None:
        await asyncio.sleep(0)

    @ls.feature("test/slow")
    async def slow(ls: LanguageServer, params: object) -> str:
        await asyncio.sleep(0.05)
        return "done"

    ls.protocol.set_writer(Sink())
    return ls


def receive(ls: LanguageServer, message: dict) -> None:
    """What pygls's reader does with one message body."""
    body = json.dumps({"jsonrpc": "2.0", **message})
    ls.protocol.handle_message(json.loads(body, object_hook=ls.protocol.structure_message))


async def notifications_kept(protocol_cls: type[LanguageServerProtocol]) -> int:
    ls = server(protocol_cls)
    for _ in range(50):
        receive(ls, {"method": "test/note", "params": {}})
    for _ in range(10):
        await asyncio.sleep(0)
    return len(ls.protocol._request_futures)


def test_pygls_still_keeps_notification_futures() -> None:
    kept = asyncio.run(notifications_kept(LanguageServerProtocol))
    assert kept == 50, (
        f"pygls kept {kept} of 50 finished notification futures: if 0, pygls releases them "
        "now and workaround 1 of nnspec/lsp/pygls_fixes.py can go")


def test_the_protocol_releases_them() -> None:
    assert asyncio.run(notifications_kept(pygls_fixes.Protocol)) == 0


def test_a_request_keeps_its_future_until_answered() -> None:
    async def run() -> None:
        ls = server(pygls_fixes.Protocol)
        receive(ls, {"id": 7, "method": "test/slow", "params": {}})
        for _ in range(20):
            receive(ls, {"method": "test/note", "params": {}})
        await asyncio.sleep(0.01)
        assert list(ls.protocol._request_futures) == [7]  # cancellable
        await asyncio.sleep(0.1)
        assert ls.protocol._request_futures == {}
        answers = [json.loads(s.split(b"\r\n\r\n")[-1]) for s in ls.protocol.writer.sent]
        assert [(a["id"], a["result"]) for a in answers] == [(7, "done")], answers

    asyncio.run(run())


# Workaround 2: documents the client never opened are read only when they are regular files.


def test_pygls_still_reads_unopened_documents_with_read_text() -> None:
    from pygls.workspace import TextDocument

    source = inspect.getsource(TextDocument.source.fget)  # type: ignore[attr-defined]
    assert "self._source is None" in source and "read_text" in source, (
        "pygls reads unopened documents differently now: check workaround 2 of "
        "nnspec/lsp/pygls_fixes.py (document_text) against it")
    assert TextDocument("file:///x.nn")._source is None


@pytest.mark.parametrize("make", ["fifo", "folder", "device"])
def test_unopened_document_that_is_not_a_file_is_refused_at_once(tmp_path, make) -> None:
    import os
    import time

    from pygls import uris
    from pygls.workspace import TextDocument

    from nnspec.data.files import NotRegular

    path = {"fifo": tmp_path / "pipe.nn", "folder": tmp_path, "device": "/dev/zero"}[make]
    if make == "fifo":
        os.mkfifo(path)
    doc = TextDocument(uris.from_fs_path(str(path)))
    start = time.monotonic()
    with pytest.raises(NotRegular):
        pygls_fixes.document_text(doc)
    assert time.monotonic() - start < 1.0


def test_unopened_regular_and_opened_documents_are_read(tmp_path) -> None:
    from pygls import uris
    from pygls.workspace import TextDocument

    spec = tmp_path / "m.nn"
    spec.write_text("model m { input 2 }\n", encoding="utf-8")
    assert pygls_fixes.document_text(TextDocument(uris.from_fs_path(str(spec)))) == \
        "model m { input 2 }\n"
    opened = TextDocument(uris.from_fs_path(str(spec)), source="edited")
    assert pygls_fixes.document_text(opened) == "edited"


# Workaround 3: the message loop (serve_io) that replaces pygls's.


def test_pygls_start_io_still_runs_its_own_unbounded_loop() -> None:
    """serve_io stands in for `JsonRPCServer.start_io`: it relies on the same attributes of
    the server and protocol, and it is only needed while pygls's loop reads whatever length
    a header announces."""
    from pygls import io_
    from pygls.server import JsonRPCServer

    loop = inspect.getsource(io_.run_async)
    assert "reader.readexactly(content_length)" in loop and "readline()" in loop, (
        "pygls reads messages differently now: check workaround 3 of "
        "nnspec/lsp/pygls_fixes.py (serve_io) against it; it may be able to go")
    assert "run_async(" in inspect.getsource(JsonRPCServer._start_io_async)
    start = inspect.getsource(JsonRPCServer._start_io_async)
    for used in ("self._stop_event = Event()", "StdoutWriter(", "self.protocol.set_writer(",
                 "self.shutdown()"):
        assert used in start, f"pygls's start_io no longer does {used!r}: follow it in serve_io"
    assert list(inspect.signature(JsonRPCServer.start_io).parameters) == [
        "self", "stdin", "stdout"]
    assert callable(JsonRPCServer._report_server_error)
    assert callable(JsonRPCProtocol.structure_message)
    assert callable(JsonRPCProtocol.handle_message)
    assert NnspecServer.start_io is not JsonRPCServer.start_io
    assert "serve_io(self" in inspect.getsource(NnspecServer.start_io)
