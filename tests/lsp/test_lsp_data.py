"""The language server reads data files off the keystroke path (issue 22 item 2): the spec's
own diagnostics at once, the data's when read (republished); each file read once across
edits, again only when it changes; a bounded cache; an unsaved document with a relative
data path gets a note instead of a read of the server's folder."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nnspec.lsp.analysis import Cache
from nnspec.lsp.datafacts import DataFacts

SPEC = """model m {{
    input 2
    dense 4 relu
    dense {units} softmax
}}
data {{
    source csv("{path}", target=y)
}}
train {{
    loss categorical_crossentropy
    epochs 1
}}
"""
CSV = "a,b,y\n1,2,cat\n3,4,dog\n5,6,cow\n"


def _codes(analysis) -> list[str]:
    return [d.code for d in analysis.diagnostics]


@pytest.fixture
def opens(monkeypatch):
    """How many times each path was opened (os.open), in this process."""
    counts: dict[str, int] = {}
    real = os.open

    def counting(path, *args, **kw):
        counts[str(path)] = counts.get(str(path), 0) + 1
        return real(path, *args, **kw)

    monkeypatch.setattr(os, "open", counting)
    return counts


def test_the_data_file_is_opened_once_across_many_edits(tmp_path, opens):
    data_file = tmp_path / "d.csv"
    data_file.write_text(CSV)
    spec = str(tmp_path / "m.nn")
    arrived = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        data = DataFacts(notify=arrived.set, executor=pool)
        cache = Cache(data)
        text = SPEC.format(units=2, path="d.csv")
        first = cache.get("u", text, spec)
        # the spec's own diagnostics do not wait for the data
        assert first.data_pending or "E406" in _codes(first)
        assert arrived.wait(30)
        for i in range(60):
            # typing: comments, a wrong then right unit count, an unknown activation
            edited = text.replace("epochs 1", f"epochs {i + 1}  # edit {i}")
            if i % 3 == 1:
                edited = edited.replace("relu", "rleu")
            got = cache.get("u", edited, spec)
            assert not got.data_pending
            assert ("E406" in _codes(got)) == (i % 3 != 1), (i, _codes(got))
        assert data.reads == 1
        assert opens.get(str(data_file), 0) == 1
        # the file changes on disk: read again (once)
        data_file.write_text(CSV.replace("cow", "dog") + "7,8,cat\n")
        arrived.clear()
        assert cache.get("u", text + "\n", spec).data_pending
        assert arrived.wait(30)
        assert "E406" not in _codes(cache.get("u", text + "\n\n", spec))
        assert data.reads == 2 and opens[str(data_file)] == 2


def test_the_cache_is_bounded(tmp_path):
    with ThreadPoolExecutor(1) as pool:
        data = DataFacts(executor=pool, entries=3)
        cache = Cache(data)
        for i in range(6):
            (tmp_path / f"d{i}.csv").write_text(CSV)
            cache.get("u", SPEC.format(units=3, path=f"d{i}.csv"), str(tmp_path / "m.nn"))
        pool.shutdown(wait=True)
        assert len(data) == 3 and data.pending() == 0


def test_fifo_and_missing_files_are_never_opened_by_the_server(tmp_path, opens):
    os.mkfifo(tmp_path / "pipe.csv")
    with ThreadPoolExecutor(1) as pool:
        data = DataFacts(executor=pool)
        got = Cache(data).get("u", SPEC.format(units=3, path="pipe.csv"),
                              str(tmp_path / "m.nn"))
        assert _codes(got) == ["E413"] and not got.data_pending and data.reads == 0
    assert str(tmp_path / "pipe.csv") not in opens


def test_an_unsaved_document_with_a_relative_path_gets_a_note(tmp_path):
    with ThreadPoolExecutor(1) as pool:
        data = DataFacts(executor=pool)
        got = Cache(data).get("untitled:1", SPEC.format(units=3, path="d.csv"), None)
        assert _codes(got) == ["W114"] and data.reads == 0
        assert got.diagnostics[0].severity.value == "note"
        # an absolute path is read
        (tmp_path / "d.csv").write_text(CSV)
        got = Cache(data).get("untitled:2", SPEC.format(units=2, path=tmp_path / "d.csv"),
                              None)
        assert data.reads == 1


# ------------------------------------------------------------------ over pipes

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsp_client import internal_errors, open_doc, published  # noqa: E402
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

SERVER = [sys.executable, "-m", "nnspec.cli", "lsp", "--stdio"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient):
    refreshed: list[object] = []
    lsp_client.refreshed = refreshed  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
    def refresh(ls: object, params: object) -> None:
        refreshed.append(params)

    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(
            inlay_hint=types.InlayHintWorkspaceClientCapabilities(refresh_support=True))),
        root_uri=Path.cwd().as_uri()))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="module")
async def test_data_diagnostics_follow_when_read(client: LanguageClient, tmp_path: Path):
    import asyncio

    (tmp_path / "d.csv").write_text(CSV)
    spec = tmp_path / "m.nn"
    text = SPEC.format(units=2, path="d.csv").replace("epochs 1", "epochs 0")
    spec.write_text(text)
    uri = spec.as_uri()
    refreshed = client.refreshed  # type: ignore[attr-defined]
    before = len(refreshed)
    first = await published(client, uri, lambda: open_doc(client, uri, text))
    assert "E302" in [d.code for d in first]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    # republished without any new message from the client, once the worker has read it
    while "E406" not in [d.code for d in client.diagnostics.get(uri, [])]:
        assert loop.time() < deadline, client.diagnostics.get(uri)
        await asyncio.sleep(0.01)
    got = client.diagnostics[uri]
    assert sorted(d.code for d in got) == ["E302", "E406"]
    e406 = next(d for d in got if d.code == "E406")
    assert e406.range.start.line == 6 and "3 classes" in e406.message
    while len(refreshed) == before:  # and the inlay hints are asked for again
        assert loop.time() < deadline
        await asyncio.sleep(0.01)
    untitled = "untitled:Untitled-7"
    got = await published(client, untitled, lambda: open_doc(client, untitled, text))
    assert sorted(d.code for d in got) == ["E302", "W114"]
    assert not internal_errors(client)
