"""The language server survives framing errors (workaround 3 of nnspec/lsp/pygls_fixes.py).

End to end with a raw client over pipes (`nnspec lsp --stdio` in a subprocess, bytes written
by hand): after each kind of broken framing the next well-formed request is answered, the
refusal is logged, and the server still exits cleanly on shutdown/exit. In process,
`read_message` is fed lazily generated input to show that what it refuses is never held in
memory.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc

import pytest
from lsp_helpers import ROOT

pytest.importorskip("pygls")
from nnspec.lsp import pygls_fixes  # noqa: E402
from nnspec.lsp.pygls_fixes import MAX_BODY, MAX_HEADER_LINE, read_message  # noqa: E402


def frame(message: dict) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


INITIALIZE = frame({"id": 1, "method": "initialize", "params": {"capabilities": {}}})
BYE = frame({"id": 2, "method": "shutdown"}) + frame({"method": "exit"})

BROKEN = {
    # A terabyte announced, nothing sent: refused unread, the next header is found.
    "terabyte": b"Content-Length: 1000000000000\r\n\r\n",
    # Over the limit, and the client does send the body (no line break in it): the next
    # message's header follows the body on the same "line".
    "over-64-MiB-with-body": b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1) + b"x" * 300_000,
    # A header line far over the limit (2 MB without a line break), then a line break.
    "endless-header-line": b"X-Junk: " + b"y" * 2_000_000 + b"\r\n\r\n",
    "length-not-a-number": b"Content-Length: 12abc\r\n\r\n{\"id\": 9}\r\n",
    "negative-length": b"Content-Length: -5\r\n\r\n",
    "no-length": b"Content-Type: application/json\r\n\r\n{}\r\n",
    "body-not-json": b"Content-Length: 5\r\n\r\n{]]]}",
    "body-not-utf8": b"Content-Length: 4\r\n\r\n\xff\xfe\xfd\xfc",
    "garbage": b"\x00\x01 hello\r\n\r\n\r\n",
}


def talk(data: bytes) -> tuple[int, list[dict], str]:
    """Start the server, send `data` then initialize, shutdown and exit; its exit status,
    the messages it sent, and its log."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "nnspec.cli", "lsp", "--stdio"],
                          input=data + INITIALIZE + BYE, capture_output=True, env=env,
                          timeout=60)
    sent, out = [], proc.stdout
    while out:
        head, _, rest = out.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        sent.append(json.loads(rest[:length]))
        out = rest[length:]
    return proc.returncode, sent, proc.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def answers() -> tuple[int, list[dict], str]:
    # One server for all kinds of breakage (starting a server costs about a second).
    return talk(b"".join(BROKEN.values()))


def test_the_next_request_is_answered_after_every_kind_of_broken_framing(answers) -> None:
    code, sent, log = answers
    assert code == 0, log
    by_id = {m.get("id"): m for m in sent}
    assert "capabilities" in by_id[1]["result"], sent
    assert by_id[2]["result"] is None  # shutdown answered, exit clean
    assert "Traceback" not in log and "E502" not in log, log


def test_each_refusal_is_logged(answers) -> None:
    _, _, log = answers
    assert "refused a message of 1000000000000 bytes" in log, log
    assert f"refused a message of {MAX_BODY + 1} bytes" in log, log
    assert "dropped a header line of" in log, log
    assert "Content-Length is b'12abc'" in log and "Content-Length is b'-5'" in log, log
    assert log.count("not JSON-RPC") == 2, log


@pytest.mark.parametrize("kind", ["terabyte", "over-64-MiB-with-body"])
def test_a_huge_message_alone(kind) -> None:
    code, sent, log = talk(BROKEN[kind])
    assert code == 0 and [m.get("id") for m in sent] == [1, 2], (sent, log)
    assert "refused a message of" in log, log


def test_pygls_own_loop_dies_on_a_terabyte() -> None:
    """What workaround 3 is for: if this fails, pygls survives it itself now and the
    workaround can go."""
    import asyncio
    import threading

    from pygls.io_ import run_async
    from pygls.lsp.server import LanguageServer

    class Reader:
        def __init__(self) -> None:
            self.stream = io.BytesIO(BROKEN["terabyte"] + INITIALIZE)

        async def readline(self) -> bytes:
            return self.stream.readline()

        async def readexactly(self, n: int) -> bytes:
            if n > MAX_BODY:
                raise MemoryError  # what reading a terabyte ends in, without trying it
            return self.stream.read(n)

    ls = LanguageServer("t", "1")
    with pytest.raises(MemoryError):
        asyncio.run(run_async(threading.Event(), Reader(), ls.protocol))


class Lazy(io.RawIOBase):
    """`size` bytes of `fill`, then `tail`, made as they are read (never all in memory)."""

    def __init__(self, size: int, fill: bytes, tail: bytes) -> None:
        self.left, self.fill, self.tail = size, fill, tail

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        if self.left > 0:
            n = min(len(buf), self.left)
            buf[:n] = self.fill * n
            self.left -= n
            return n
        n = min(len(buf), len(self.tail))
        buf[:n], self.tail = self.tail[:n], self.tail[n:]
        return n


def test_a_long_line_is_dropped_without_keeping_it() -> None:
    body = b'{"id": 3}'
    raw = Lazy(100 * 1024 * 1024, b"z", b"Content-Length: %d\r\n\r\n" % len(body) + body)
    tracemalloc.start()
    try:
        got = read_message(io.BufferedReader(raw))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == body
    assert peak < 4 * MAX_HEADER_LINE + 64 * 1024, peak


def test_a_header_name_cut_by_a_piece_boundary_is_found() -> None:
    body = b"{}"
    for cut in range(1, 16):
        # The long line's pieces are MAX_HEADER_LINE bytes: put the name across a boundary.
        junk = b"j" * (MAX_HEADER_LINE * 3 - cut)
        stream = io.BytesIO(junk + b"Content-Length: 2\r\n\r\n" + body)
        assert read_message(stream) == body, cut


def test_well_formed_messages_are_read_as_pygls_reads_them() -> None:
    stream = io.BytesIO(INITIALIZE + b"Content-Type: x\r\n" + BYE)
    bodies = [read_message(stream) for _ in range(4)]
    assert [json.loads(b).get("id") for b in bodies[:3]] == [1, 2, None]
    assert bodies[3] is None  # the end of input
    assert read_message(io.BytesIO(b"Content-Length: 10\r\n\r\n{}")) is None  # cut short
    assert pygls_fixes.MAX_BODY == 64 * 1024 * 1024
