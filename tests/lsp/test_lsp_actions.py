"""Quick fixes through the language server (a real client over pipes): the fixes the checker
attaches to its diagnostics come back from `textDocument/codeAction` as versioned edits, one
quick fix per fix and one `source.fixAll`, and applying them gives what `nnspec check --fix`
writes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lsp_helpers import ROOT

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsp_client import change_doc, open_doc, published  # noqa: E402
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from nnspec.fix import fix_source  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")
SERVER = [sys.executable, "-m", "nnspec.cli", "lsp", "--stdio"]
GOOD = (ROOT / "specs" / "moons.nn").read_text()
# Three misspelt names, one with an emoji before it on its line (UTF-16 columns).
BAD = (GOOD.replace("dense 16 relu", "dense 16 rleu", 1)
       .replace("sgd(lr=", "sgd(lrr=")
       .replace("    epochs 200", "    epoch 200 # 😀")
       .replace("    metrics accuracy", "    metrics acuracy"))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient):
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=ROOT.as_uri()))
    lsp_client.capabilities_result = result  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def apply_edits(text: str, edit: types.WorkspaceEdit, uri: str, version: int) -> str:
    """What a client does with a versioned edit (positions in UTF-16, as negotiated)."""
    [change] = edit.document_changes or []
    assert isinstance(change, types.TextDocumentEdit)
    assert change.text_document.uri == uri and change.text_document.version == version
    lines = text.split("\n")

    def offset(p: types.Position) -> int:
        line = lines[p.line]
        units = 0
        for i, ch in enumerate(line):
            if units >= p.character:
                return sum(len(x) + 1 for x in lines[: p.line]) + i
            units += len(ch.encode("utf-16-le")) // 2
        return sum(len(x) + 1 for x in lines[: p.line]) + len(line)

    spans = sorted(((offset(e.range.start), offset(e.range.end), e.new_text)
                    for e in change.edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


async def actions(client: LanguageClient, uri: str, rng: types.Range,
                  only: list[str] | None = None) -> list[types.CodeAction]:
    got = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=rng,
        context=types.CodeActionContext(diagnostics=[], only=only)))
    return [a for a in got or [] if isinstance(a, types.CodeAction)]


async def test_the_server_declares_its_kinds(client: LanguageClient) -> None:
    caps = client.capabilities_result.capabilities  # type: ignore[attr-defined]
    kinds = set(caps.code_action_provider.code_action_kinds)
    assert {types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll} <= kinds


async def test_each_diagnostic_offers_its_fix(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "fix.nn").as_uri()
    shown = await published(client, uri, lambda: open_doc(client, uri, BAD, version=3))
    assert sorted(d.code for d in shown) == ["E202", "E204", "E209", "E211"]
    for d in shown:
        found = await actions(client, uri, d.range, only=[types.CodeActionKind.QuickFix])
        assert len(found) == 1, found
        [action] = found
        assert action.kind == types.CodeActionKind.QuickFix and action.is_preferred
        assert [x.code for x in action.diagnostics or []] == [d.code]
        assert action.edit is not None
        fixed = apply_edits(BAD, action.edit, uri, 3)
        again = await published(client, uri, lambda t=fixed: change_doc(client, uri, t, 4))
        assert d.code not in {x.code for x in again}
        assert len(again) == len(shown) - 1
        await published(client, uri, lambda: change_doc(client, uri, BAD, 3))


async def test_fix_all_gives_what_check_fix_writes(client: LanguageClient,
                                                   tmp_path: Path) -> None:
    uri = (tmp_path / "all.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, BAD, version=7))
    top = types.Range(start=types.Position(line=0, character=0),
                      end=types.Position(line=0, character=0))
    [action] = await actions(client, uri, top, only=[types.CodeActionKind.SourceFixAll])
    assert action.kind == types.CodeActionKind.SourceFixAll and action.edit is not None
    fixed = apply_edits(BAD, action.edit, uri, 7)
    assert fixed == fix_source(BAD).text == GOOD.replace("    epochs 200", "    epochs 200 # 😀")
    # Nothing to fix: no action (and none at a range without a diagnostic).
    await published(client, uri, lambda: change_doc(client, uri, fixed, 8))
    assert await actions(client, uri, top) == []


async def test_edits_name_the_version_they_were_made_for(client: LanguageClient,
                                                         tmp_path: Path) -> None:
    """A client refuses a versioned edit for another version: after a change, the actions
    name the new version (and were computed on the new text)."""
    uri = (tmp_path / "stale.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, BAD, version=1))
    newer = "# a line added above\n" + BAD
    await published(client, uri, lambda: change_doc(client, uri, newer, 2))
    everything = types.Range(start=types.Position(line=0, character=0),
                             end=types.Position(line=len(newer.split("\n")) - 1, character=0))
    found = await actions(client, uri, everything)
    assert found
    for action in found:
        assert action.edit is not None
        [change] = action.edit.document_changes or []
        assert change.text_document.version == 2  # type: ignore[union-attr]
    fix_all = [a for a in found if a.kind == types.CodeActionKind.SourceFixAll]
    assert apply_edits(newer, fix_all[0].edit, uri, 2) == fix_source(newer).text  # type: ignore[arg-type]


async def test_a_missing_block_and_a_guess(client: LanguageClient, tmp_path: Path) -> None:
    """A missing `train` block (a file-level finding, shown at the start) offers its minimal
    form as a preferred fix; a missing `model` block only a guess (`isPreferred: false`),
    which `source.fixAll` leaves out, as `nnspec check --fix` does."""
    top = types.Range(start=types.Position(line=0, character=0),
                      end=types.Position(line=0, character=0))
    no_train = GOOD[:GOOD.index("train {")].rstrip("\n") + "\n"
    uri = (tmp_path / "no_train.nn").as_uri()
    shown = await published(client, uri, lambda: open_doc(client, uri, no_train, version=1))
    assert [d.code for d in shown] == ["E308"]
    [action] = await actions(client, uri, top, only=[types.CodeActionKind.QuickFix])
    assert action.is_preferred and action.title == (
        "add a `train` block with `loss binary_crossentropy`")
    assert action.edit is not None
    fixed = apply_edits(no_train, action.edit, uri, 1)
    assert fixed.endswith("\n\ntrain {\n    loss binary_crossentropy\n}\n")
    assert await published(client, uri, lambda: change_doc(client, uri, fixed, 2)) == []

    no_model = GOOD[GOOD.index("data {"):]
    uri = (tmp_path / "no_model.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, no_model, version=1))
    [guess] = await actions(client, uri, top)  # a quick fix, and no fixAll
    assert guess.kind == types.CodeActionKind.QuickFix and guess.is_preferred is False
    assert guess.edit is not None
    guessed = apply_edits(no_model, guess.edit, uri, 1)
    assert guessed == "model m {\n    input 2\n    dense 1 sigmoid\n}\n\n" + no_model
    assert await published(client, uri, lambda: change_doc(client, uri, guessed, 2)) == []
