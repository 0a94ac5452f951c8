"""Signature help through the language server (a real client over pipes): inside `name(` of
every optimizer, schedule, source and early stopping, and after statements taking `key=value`
options, every option is listed with its type, default and meaning, the one being written
highlighted. The expected options are read from the op registry and the IR here, directly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lsp_helpers import ROOT, cursor

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsp_client import open_doc, published  # noqa: E402
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from nnspec import ir  # noqa: E402
from nnspec.ops import LAYERS, OPTIMIZERS, SCHEDULES, SOURCES  # noqa: E402
from nnspec.ops.optimizers import Clip  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")
SERVER = [sys.executable, "-m", "nnspec.cli", "lsp", "--stdio"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient):
    markdown = [types.MarkupKind.Markdown, types.MarkupKind.PlainText]
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
            signature_help=types.SignatureHelpClientCapabilities(
                signature_information=types.ClientSignatureInformationOptions(
                    documentation_format=markdown)))),
        root_uri=ROOT.as_uri()))
    lsp_client.capabilities_result = result  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def fields(cls: type) -> dict[str, str]:
    """The names a user writes (an alias where the field has one) -> the field names."""
    nested = getattr(cls, "nested", ())  # filled from a `{ }` body, not options
    return {info.alias or n: n for n, info in cls.model_fields.items()
            if n not in ("span", "kind", *nested)}


async def help_at(client: LanguageClient, tmp_path: Path, marked: str
                  ) -> tuple[types.SignatureInformation, str | None] | None:
    text, offset = cursor(marked)
    before = text[:offset].split("\n")
    uri = (tmp_path / "sig.nn").as_uri()
    await published(client, uri, lambda: open_doc(client, uri, text))
    got = await client.text_document_signature_help_async(types.SignatureHelpParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=len(before) - 1, character=len(before[-1]))))
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    if got is None:
        return None
    sig = got.signatures[got.active_signature or 0]
    params = sig.parameters or []
    active = got.active_parameter
    name = None
    if active is not None and active < len(params):
        start, end = params[active].label  # type: ignore[misc]
        name = sig.label[start:end].split("=")[0].strip("[]")
    return sig, name


def check_options(sig: types.SignatureInformation, cls: type, renamed: dict | None = None
                  ) -> None:
    """Every option of `cls`, each documented with its type, default and meaning."""
    renamed = renamed or {}
    labels = [sig.label[p.label[0]:p.label[1]]  # type: ignore[index]
              for p in sig.parameters or []]
    written = [lab.split("=")[0].strip("[]") for lab in labels]
    names = fields(cls)
    assert sorted(written) == sorted(renamed.get(f, f) for f in names), sig.label
    for param, name in zip(sig.parameters or [], written, strict=True):
        doc = param.documentation
        assert isinstance(doc, types.MarkupContent) and doc.kind == types.MarkupKind.Markdown
        key = {v: k for k, v in renamed.items()}.get(name, name)
        info = cls.model_fields[names.get(key, key)]
        assert f"`{name}` (" in doc.value
        assert "default " in doc.value or "required" in doc.value, doc.value
        assert (info.description or "") in doc.value


async def test_the_server_declares_its_triggers(client: LanguageClient) -> None:
    caps = client.capabilities_result.capabilities  # type: ignore[attr-defined]
    assert set(caps.signature_help_provider.trigger_characters) == {"(", ",", " "}


CALLS = (
    [(f"train {{\n    optimizer {k}(|\n}}\n", cls) for k, cls in OPTIMIZERS.items()]
    + [(f"train {{\n    schedule {k}(|\n}}\n", cls) for k, cls in SCHEDULES.items()]
    + [(f"data {{\n    source {k}(|\n}}\n", cls) for k, cls in SOURCES.items()]
    + [("train {\n    early_stop(|\n}\n", ir.EarlyStop),
       ("train {\n    schedule warmup(epochs=2) then cosine(|\n}\n", SCHEDULES["cosine"]),
       ("model m {\n    dense 4 leaky_relu(|\n}\n", __import__(
           "nnspec.ops", fromlist=["ACTIVATIONS"]).ACTIVATIONS["leaky_relu"])]
)


@pytest.mark.parametrize("marked,cls", CALLS, ids=[c[0].split("\n")[1].strip() for c in CALLS])
async def test_inside_a_call_every_option(client: LanguageClient, tmp_path: Path,
                                          marked: str, cls: type) -> None:
    got = await help_at(client, tmp_path, marked)
    if not fields(cls):
        assert got is None  # nothing to list
        return
    assert got is not None
    sig, _ = got
    assert sig.label.endswith(")")
    check_options(sig, cls)


STATEMENTS = (
    [(f"model m {{\n    input 2\n    {k} |\n}}\n", cls, {}) for k, cls in LAYERS.items()
     if fields(cls)]
    + [("data {\n    split |\n}\n", ir.Split, {}),
       ("train {\n    clip |\n}\n", Clip, {}),
       ("output {\n    checkpoint |\n}\n", None, {})]
)


@pytest.mark.parametrize("marked,cls,renamed", STATEMENTS,
                         ids=[s[0].split("\n")[-3].strip() for s in STATEMENTS])
async def test_after_a_statement_every_option(client: LanguageClient, tmp_path: Path,
                                              marked: str, cls: type | None,
                                              renamed: dict) -> None:
    got = await help_at(client, tmp_path, marked)
    assert got is not None
    sig, _ = got
    if cls is None:  # `checkpoint every=N | seconds=S`: unset by default (by wall time)
        assert sig.label == "checkpoint every=... seconds=..."
        return
    check_options(sig, cls, renamed)


ACTIVE = [
    ("train {\n    optimizer adam(lr=|\n}\n", "lr"),
    ("train {\n    optimizer adam(lr=0.1, weight_decay=0.01|\n}\n", "weight_decay"),
    ("train {\n    optimizer sgd(lr=0.1, mom|\n}\n", "momentum"),
    ("train {\n    optimizer adam(lr=0.1, |\n}\n", None),
    ("data {\n    source csv(|\n}\n", "path"),
    ('data {\n    source csv("a.csv", |\n}\n', "target"),
    ("model m {\n    dense |\n}\n", "units"),
    ("model m {\n    dense 16 |\n}\n", "activation"),
    ("model m {\n    dense 16 relu |\n}\n", None),
    ("model m {\n    dense 16 relu init=|\n}\n", "init"),
    ("data {\n    split validation=0.2, |\n}\n", None),
    ("data {\n    split validation=0.2, test=|\n}\n", "test"),
    ("output {\n    checkpoint every=|\n}\n", "every"),
    ("train {\n    early_stop(monitor=val_loss, pat|\n}\n", "patience"),
]


@pytest.mark.parametrize("marked,active", ACTIVE)
async def test_the_option_being_written_is_highlighted(client: LanguageClient, tmp_path: Path,
                                                      marked: str, active: str | None) -> None:
    got = await help_at(client, tmp_path, marked)
    assert got is not None
    assert got[1] == active


@pytest.mark.parametrize("marked", [
    "train {\n    loss |\n}\n",  # no options
    "train {\n    optimizer adam(lr=0.1) |\n}\n",  # the call is closed
    "model m {\n    # dense 16 |\n}\n",  # a comment
    "|",
])
async def test_no_help_where_no_options_are_written(client: LanguageClient, tmp_path: Path,
                                                   marked: str) -> None:
    assert await help_at(client, tmp_path, marked) is None
