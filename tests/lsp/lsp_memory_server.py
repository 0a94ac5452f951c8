"""`nnspec lsp` for the memory tests (test_lsp_memory.py): the real server over stdio, with
tracemalloc on from the start and two requests that only this wrapper adds:

- `nnspec/test.state`: after a full garbage collection, the bytes tracemalloc traces now and the
  size of each per-document and per-message table of the server (`NnspecServer.state_sizes`);
- `nnspec/test.slow`: answers `"done"` after `seconds` (a slow request, to cancel or wait for).

Run as a script; it puts its own checkout first on sys.path, so the server tested is this tree's.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from pathlib import Path

tracemalloc.start()
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncio  # noqa: E402

from nnspec.lsp import server as server_mod  # noqa: E402

server = server_mod.server


@server.feature("nnspec/test.state")
def state(ls: server_mod.NnspecServer, params: object) -> dict:
    gc.collect()
    return {"traced": tracemalloc.get_traced_memory()[0], **ls.state_sizes()}


@server.feature("nnspec/test.slow")
async def slow(ls: server_mod.NnspecServer, params: object) -> str:
    await asyncio.sleep(float(params.seconds))  # type: ignore[attr-defined]
    return "done"


if __name__ == "__main__":
    sys.exit(server_mod.main())
