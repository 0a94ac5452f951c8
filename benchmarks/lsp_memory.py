"""benchmarks: bursts of full-text didChange -> the language server's resident memory.

Starts the server (default `python -m nnspec.cli lsp --stdio`, or `--server CMD...`) with
pipes, opens a 30-line spec and sends BURSTS bursts of CHANGES full-text `didChange`
notifications, each a distinct text (the `epochs` value changes). After each burst it waits
for the diagnostics of the burst's last version, then IDLE seconds, and reads the server's
VmRSS from /proc (Linux). Prints the resident memory at start and after each burst.

    .venv/bin/python benchmarks/lsp_memory.py [--bursts 2] [--changes 20000]
    .venv/bin/python benchmarks/lsp_memory.py --server python -m nnspec.cli lsp  # another tree
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = (ROOT / "specs" / "moons.nn").read_text() + "# notes\n" * 5  # 30 lines
URI = "file:///tmp/nnspec-memory-bench.nn"


def frame(message: dict) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Reader(threading.Thread):
    """Reads the server's messages; remembers the newest published version of URI."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream, self.version, self.answered = stream, -1, set()

    def run(self) -> None:
        while True:
            length = 0
            while (line := self.stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            msg = json.loads(self.stream.read(length))
            if msg.get("method") == "textDocument/publishDiagnostics":
                if msg["params"].get("version") is not None:
                    self.version = msg["params"]["version"]
            elif "id" in msg:
                self.answered.add(msg["id"])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait(pred, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bursts", type=int, default=2)
    ap.add_argument("--changes", type=int, default=20000)
    ap.add_argument("--idle", type=float, default=2.0)
    ap.add_argument("--server", nargs=argparse.REMAINDER,
                    default=[sys.executable, "-m", "nnspec.cli", "lsp", "--stdio"])
    args = ap.parse_args()
    proc = subprocess.Popen(args.server, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    reader = Reader(proc.stdout)
    reader.start()
    send = proc.stdin.write
    send(frame({"id": 1, "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}}}))
    proc.stdin.flush()
    wait(lambda: 1 in reader.answered, "initialize")
    send(frame({"method": "initialized", "params": {}}))
    send(frame({"method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": URI, "languageId": "nnspec", "version": 0, "text": SPEC}}}))
    proc.stdin.flush()
    wait(lambda: reader.version == 0, "the first diagnostics")
    time.sleep(args.idle)
    print(f"start: {rss_mb(proc.pid):.0f} MB", flush=True)
    version = 0
    for burst in range(1, args.bursts + 1):
        t0 = time.perf_counter()
        for _ in range(args.changes):
            version += 1
            text = SPEC.replace("epochs 200", f"epochs {version % 500 + 1}")
            send(frame({"method": "textDocument/didChange", "params": {
                "textDocument": {"uri": URI, "version": version},
                "contentChanges": [{"text": text}]}}))
        proc.stdin.flush()
        wait(lambda v=version: reader.version == v, f"version {version}")
        took = time.perf_counter() - t0
        time.sleep(args.idle)
        print(f"after burst {burst} ({args.changes} changes, {took:.1f} s): "
              f"{rss_mb(proc.pid):.0f} MB", flush=True)
    send(frame({"id": 2, "method": "shutdown", "params": None}))
    send(frame({"method": "exit", "params": None}))
    proc.stdin.close()
    proc.wait(timeout=30)


if __name__ == "__main__":
    main()
