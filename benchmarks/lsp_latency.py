"""benchmarks: a 200-line spec edited in the language server -> didChange-to-diagnostics latency.

Starts `nnspec lsp` (as `python -m nnspec.cli lsp --stdio`) as a subprocess, opens a
200-line spec and sends CHANGES full-text changes, alternating a valid edit and one that
introduces an error, and times each from sending didChange to receiving the matching
publishDiagnostics (which carries the document version). Prints the median and p95; the
target is a median under 100 ms.

    .venv/bin/python benchmarks/lsp_latency.py [--changes 50] [--lines 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 100.0


def make_spec(lines: int) -> str:
    """A valid spec of exactly `lines` lines: many layers, comments, every block."""
    head = ["# a long spec for the latency benchmark", "model big {", "    input 8"]
    tail = [
        "    dense 1 sigmoid",
        "}",
        "",
        "data {",
        "    source blobs(samples=500, classes=2, features=8, noise=0.5)",
        "    split validation=0.2, test=0.1, stratify=true",
        "    standardize",
        "}",
        "",
        "train {",
        "    loss binary_crossentropy",
        "    optimizer adam(lr=0.001, weight_decay=1e-4)",
        "    schedule warmup(epochs=2) then cosine(min_lr=1e-5)",
        "    epochs 20",
        "    batch 32",
        "    early_stop(monitor=val_loss, patience=5, restore_best=true)",
        "    metrics accuracy, f1",
        "    seed 1",
        "}",
        "",
        "output {",
        "    dir \"runs/big\"",
        "    checkpoint every=5",
        "}",
    ]
    body = []
    i = 0
    while len(head) + len(body) + len(tail) < lines:
        kind = i % 4
        if kind == 0:
            body.append(f"    # block {i // 4}: π ≈ 3.14 😀")
        elif kind == 1:
            body.append(f"    dense {16 + i % 7} relu init=he_normal")
        elif kind == 2:
            body.append(f"    dense {16 + i % 5} tanh")
        else:
            body.append("    dropout 0.1")
        i += 1
    return "\n".join(head + body + tail) + "\n"


async def run(changes: int, lines: int) -> list[float]:
    client = LanguageClient("nnspec-latency", "1")
    arrived: dict[int, float] = {}
    waiting: dict[int, asyncio.Event] = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params: types.PublishDiagnosticsParams) -> None:
        if params.version is not None:
            arrived[params.version] = time.perf_counter()
            if params.version in waiting:
                waiting[params.version].set()

    await client.start_io(sys.executable, "-m", "nnspec.cli", "lsp", "--stdio",
                          cwd=str(ROOT))
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=ROOT.as_uri()))
    client.initialized(types.InitializedParams())

    text = make_spec(lines)
    assert text.count("\n") == lines, text.count("\n")
    uri = (ROOT / "benchmarks" / "latency.nn").as_uri()
    waiting[0] = asyncio.Event()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="nnspec", version=0,
                                             text=text)))
    await asyncio.wait_for(waiting[0].wait(), 30)

    out: list[float] = []
    for version in range(1, changes + 1):
        # Alternate: a valid edit (a different unit count) and an error (a misspelt name).
        name = "sigmoid" if version % 2 else "sigmiod"
        edited = text.replace("dense 1 sigmoid", f"dense 1 {name}")
        edited = edited.replace("    input 8", f"    input 8  # edit {version}")
        waiting[version] = asyncio.Event()
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=edited)]))
        await asyncio.wait_for(waiting[version].wait(), 30)
        out.append((arrived[version] - sent) * 1000.0)

    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--lines", type=int, default=200)
    args = parser.parse_args()
    times = asyncio.run(run(args.changes, args.lines))
    ordered = sorted(times)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    print(f"nnspec lsp: {args.lines}-line spec, {len(times)} changes, didChange -> "
          f"publishDiagnostics")
    print(f"  median {median:.1f} ms   p95 {p95:.1f} ms   min {ordered[0]:.1f} ms   "
          f"max {ordered[-1]:.1f} ms   (target: median < {TARGET_MS:.0f} ms)")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
