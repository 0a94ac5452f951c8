"""Shapes inline: `textDocument/inlayHint` through the language server (a real client over
pipes). After each layer statement, those inside `concat`, `add`, `residual` and `head` bodies
too, a hint shows its output shape and parameter count, the numbers `nnspec summary` prints
(`nnspec.summary.all_rows`); a mistake outside the model block does not blank them, one inside
keeps those before it; the setting `nnspec.inlayHints.enabled` (read through
`workspace/configuration`, again on `workspace/didChangeConfiguration`) switches them off."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from lsp_helpers import ROOT

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsp_client import change_doc, open_doc, published  # noqa: E402
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from nnspec.lsp.positions import position_to_offset  # noqa: E402
from nnspec.ops.layers import show_shape  # noqa: E402
from nnspec.pipeline import diagnose  # noqa: E402
from nnspec.summary import all_rows  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")
SERVER = [sys.executable, "-m", "nnspec.cli", "lsp", "--stdio"]
SPECS = {name: (ROOT / "specs" / name).read_text() for name in
         ("moons.nn", "inception.nn", "residual.nn", "digits.nn")}
EVERYTHING = types.Range(start=types.Position(line=0, character=0),
                         end=types.Position(line=10_000, character=0))
LABEL = re.compile(r"^-> (\([0-9, ]*\))(?:  ([0-9,]+) params?)?$")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient):
    refreshed: list[object] = []
    lsp_client.refreshed = refreshed  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
    def refresh(ls: object, params: object) -> None:
        refreshed.append(params)

    lsp_client.set_configuration({"inlayHints": {"enabled": True}}, section="nnspec")
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(
            configuration=True,
            did_change_configuration=types.DidChangeConfigurationClientCapabilities(),
            inlay_hint=types.InlayHintWorkspaceClientCapabilities(refresh_support=True))),
        root_uri=ROOT.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def inlay(client: LanguageClient, uri: str, rng: types.Range = EVERYTHING
                ) -> list[types.InlayHint]:
    got = await client.text_document_inlay_hint_async(types.InlayHintParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=rng))
    return list(got or [])


def numbers(hint: types.InlayHint) -> tuple[str, int]:
    assert isinstance(hint.label, str), hint.label
    m = LABEL.match(hint.label)
    assert m is not None, hint.label
    return m.group(1), int((m.group(2) or "0").replace(",", ""))


def statement_ends(text: str) -> list[int]:
    """Offsets where each layer statement ends, in all_rows order (the checker's spans)."""
    spec, _ = diagnose(text, "spec.nn")
    ends = []

    def walk(layers: tuple) -> None:
        for layer in layers:
            ends.append(layer.span.end)
            for name in getattr(layer, "nested", ()):
                for part in getattr(layer, name):
                    walk(part.layers if hasattr(part, "layers") else (part,))

    walk(spec.model.layers)
    return ends


async def opened(client: LanguageClient, tmp_path: Path, name: str, text: str) -> str:
    uri = (tmp_path / name).as_uri()
    await published(client, uri, lambda: open_doc(client, uri, text))
    return uri


@pytest.mark.parametrize("name", sorted(SPECS))
async def test_hints_are_the_summary(client: LanguageClient, tmp_path: Path, name: str) -> None:
    text = SPECS[name]
    uri = await opened(client, tmp_path, name, text)
    hints = await inlay(client, uri)
    spec, _ = diagnose(text, name)
    rows = all_rows(spec.model)
    assert [numbers(h) for h in hints] == [(show_shape(r.shape), r.params) for r in rows]
    assert [position_to_offset(text, h.position) for h in hints] == statement_ends(text)
    assert all(h.padding_left and "nnspec summary" in str(h.tooltip) for h in hints)


async def test_nested_bodies_have_hints(client: LanguageClient, tmp_path: Path) -> None:
    text = SPECS["inception.nn"]
    uri = await opened(client, tmp_path, "nested.nn", text)
    shown = [(text.split("\n")[h.position.line].strip(), h.label)
             for h in await inlay(client, uri)]
    assert shown == [
        ("dense 64 relu", "-> (64,)  4,160 params"),
        ("}", "-> (64,)  650 params"),  # the head, after its body: the main path goes on (x)
        ("dense 10 softmax", "-> (10,)  650 params"),  # the head's own output
        ("}", "-> (64,)  3,664 params"),  # the concat, after its body: 32 + 32
        ("dense 32 relu", "-> (32,)  2,080 params"),
        ("dense 16 tanh", "-> (16,)  1,040 params"),
        ("dense 32 relu", "-> (32,)  544 params"),
        ("dropout 0.2", "-> (64,)"),
        ("dense 10 softmax", "-> (10,)  650 params"),
    ]


async def test_a_typo_in_the_train_block_keeps_them(client: LanguageClient,
                                                     tmp_path: Path) -> None:
    text = SPECS["moons.nn"]
    uri = await opened(client, tmp_path, "typo.nn", text)
    good = [(h.position, h.label) for h in await inlay(client, uri)]
    assert len(good) == 4
    for n, broken in enumerate((text.replace("epochs 200", "epochs 2x0"),  # E301
                                text.replace("    loss binary_crossentropy\n", "    los\n"),
                                text.replace("sgd(lr=0.1", "sgd(lr=0.1,,"),  # a syntax error
                                text.replace("moons(", "moonz("))):
        await published(client, uri, lambda b=broken, v=n + 2: change_doc(client, uri, b, v))
        hints = await inlay(client, uri)
        assert [(h.position, h.label) for h in hints] == good, broken
        assert "last version" not in str(hints[0].tooltip)  # the model block checks alone


async def test_a_mistake_in_the_model_keeps_what_still_holds(client: LanguageClient,
                                                              tmp_path: Path) -> None:
    text = SPECS["moons.nn"]
    uri = await opened(client, tmp_path, "model.nn", text)
    good = [h.label for h in await inlay(client, uri)]
    assert good == ["-> (16,)  48 params", "-> (16,)  272 params", "-> (16,)",
                    "-> (1,)  17 params"]
    # The second layer being retyped: the first keeps its (last known) numbers.
    broken = text.replace("dense 16 relu\n    dropout", "dense 16 rel\n    dropout")
    assert broken != text
    await published(client, uri, lambda: change_doc(client, uri, broken, 2))
    hints = await inlay(client, uri)
    assert [h.label for h in hints] == good[:1]
    assert "from the last version that checked" in str(hints[0].tooltip)
    # A new input: nothing known holds.
    await published(client, uri, lambda: change_doc(
        client, uri, broken.replace("input 2", "input 3"), 3))
    assert await inlay(client, uri) == []
    # Fixed again: all of them, computed anew.
    await published(client, uri, lambda: change_doc(client, uri, text, 4))
    assert [h.label for h in await inlay(client, uri)] == good


async def test_a_mistake_inside_a_body_drops_its_composite(client: LanguageClient,
                                                            tmp_path: Path) -> None:
    text = SPECS["inception.nn"]
    uri = await opened(client, tmp_path, "body.nn", text)
    good = await inlay(client, uri)
    broken = text.replace("dense 16 tanh", "dense 16 tanhh")
    await published(client, uri, lambda: change_doc(client, uri, broken, 2))
    kept = await inlay(client, uri)
    lines = broken.split("\n")
    shown = [lines[h.position.line].strip() for h in kept]
    # before the concat: its first layer, the head and the head's layer, and the concat's
    # first branch; not the concat itself (its shape depends on the changed branch).
    assert shown == ["dense 64 relu", "}", "dense 10 softmax", "dense 32 relu"], shown
    assert [h.label for h in kept] == [good[i].label for i in (0, 1, 2, 4)]


async def test_only_the_range_asked_for(client: LanguageClient, tmp_path: Path) -> None:
    text = SPECS["moons.nn"]
    uri = await opened(client, tmp_path, "range.nn", text)
    every = await inlay(client, uri)
    line = every[1].position.line
    part = await inlay(client, uri, types.Range(start=types.Position(line=line, character=0),
                                                end=types.Position(line=line + 1, character=0)))
    assert [h.label for h in part] == [every[1].label]


async def test_the_setting_switches_them_off(client: LanguageClient, tmp_path: Path) -> None:
    text = SPECS["moons.nn"]
    uri = await opened(client, tmp_path, "setting.nn", text)
    assert await inlay(client, uri)
    refreshed = client.refreshed  # type: ignore[attr-defined]
    before = len(refreshed)
    # Pulled: the client says only that something changed; the server asks for the value.
    client.set_configuration(False, section="nnspec.inlayHints.enabled")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await until(lambda: len(refreshed) > before)
    # The first refresh may be another's: the document's data facts, read in the background,
    # also end in one (server._republish_data; seen on a loaded machine). The setting's
    # follows once the server has read it.
    assert await settled(client, uri, lambda hints: hints == []) == []
    # Pushed: the settings come with the notification.
    before = len(refreshed)
    client.set_configuration(True, section="nnspec.inlayHints.enabled")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"nnspec": {"inlayHints": {"enabled": True}}}))
    await until(lambda: len(refreshed) > before)
    assert len(await inlay(client, uri)) == 4


async def settled(client: LanguageClient, uri: str, done, timeout: float = 20.0
                  ) -> list[types.InlayHint]:
    """The document's hints once done(hints) holds, or when `timeout` has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    hints = await inlay(client, uri)
    while not done(hints) and loop.time() < deadline:
        await asyncio.sleep(0.02)
        hints = await inlay(client, uri)
    return hints


async def until(condition, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail("the server did not ask the client to refresh its inlay hints")
        await asyncio.sleep(0.005)

