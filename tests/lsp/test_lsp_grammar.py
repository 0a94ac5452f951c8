"""editors/vscode: the TextMate grammar is current, and colours every name by its role.

Three checks: the committed grammar equals what gen_grammar.py makes from the registry; every
regex compiles and every registry name is matched by its family's scope (Python, always); and
the example specs tokenized by VS Code's own engine (vscode-textmate + vscode-oniguruma
through node; skipped when node or `npm install` in editors/vscode is missing) get the scope
that a hand-written table of roles expects for every token.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lsp_helpers import FAMILY_NAMES, KEYWORDS, ROOT, SPECS

from nnspec.lsp.context import tokenize

VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "nnspec.tmLanguage.json"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_grammar",
                                                  VSCODE / "scripts" / "gen_grammar.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_grammar_is_generated_from_the_registry() -> None:
    assert GRAMMAR.read_text(encoding="utf-8") == _generator().render(), (
        "regenerate: .venv/bin/python editors/vscode/scripts/gen_grammar.py")


def _rules(node: object):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _rules(value)
    elif isinstance(node, list):
        for value in node:
            yield from _rules(value)


def test_every_regex_compiles() -> None:
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    count = 0
    for rule in _rules(grammar):
        for key in ("match", "begin", "end"):
            if isinstance(rule.get(key), str):
                re.compile(rule[key])
                count += 1
    assert count > 40


@pytest.mark.parametrize("family", sorted(set(FAMILY_NAMES) - {"layer"}))
def test_every_op_name_has_its_family_scope(family: str) -> None:
    repo = json.loads(GRAMMAR.read_text(encoding="utf-8"))["repository"]
    rule = repo[f"op-{family}"]
    assert rule["name"] == f"support.function.{family}.nnspec"
    for name in FAMILY_NAMES[family]:
        assert re.fullmatch(rule["match"], name), name
        assert not re.fullmatch(rule["match"], name + "x")


@pytest.mark.parametrize("block", sorted(KEYWORDS))
def test_every_statement_keyword_begins_a_statement(block: str) -> None:
    repo = json.loads(GRAMMAR.read_text(encoding="utf-8"))["repository"]
    inner = repo[f"block-{block}"]["patterns"][1]["patterns"]
    starts = [r for r in inner if "begin" in r]
    for kw in KEYWORDS[block]:
        hits = [r for r in starts if re.search(r["begin"], f"    {kw} 1")]
        assert len(hits) == 1, kw
        scope = hits[0]["beginCaptures"]["1"]["name"]
        layer = block == "model" and kw in FAMILY_NAMES["layer"]
        assert scope == ("support.type.layer.nnspec" if layer
                         else "keyword.other.statement.nnspec")


# ---- VS Code's engine on the example specs --------------------------------------------------

# The role of a name after a statement keyword (hand-written, from the language reference).
STATEMENT_FAMILY = {"loss": "loss", "optimizer": "optimizer", "schedule": "schedule",
                    "metrics": "metric", "source": "source", "validation": "source",
                    "test": "source", "dense": "activation", "activation": "activation"}
OPTION_FAMILY = {"init": "initializer", "bias_init": "initializer"}


def _tokenize_with_vscode(files: list[Path]) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (VSCODE / "node_modules" / "vscode-textmate").is_dir():
        pytest.skip("vscode-textmate not installed (cd editors/vscode && npm install)")
    out = subprocess.run([node, str(VSCODE / "scripts" / "tokenize.js"), *map(str, files)],
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _expected(text: str) -> dict[tuple[int, int], str]:
    """(line, col) of each token -> the scope it must have, from the token's role."""
    expected: dict[tuple[int, int], str] = {}
    depth, block, keyword, at_start = 0, "", "", True
    tokens = tokenize(text)
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        scope = None
        if tok.kind == "comment":
            scope = "comment.line.number-sign"
        elif tok.kind == "string":
            scope = "string.quoted.double"
        elif tok.kind == "number":
            scope = "constant.numeric"
        elif tok.kind == "name" and depth == 0:
            scope = "storage.type.block" if at_start else "entity.name.type"
            block = tok.text if at_start else block
        elif tok.kind == "name" and at_start:
            layer = block == "model" and tok.text in FAMILY_NAMES["layer"]
            scope = "support.type.layer" if layer else "keyword.other.statement"
            keyword = tok.text
        elif tok.kind == "name" and nxt is not None and nxt.text == "=":
            scope = "variable.parameter.option"
        elif tok.kind == "name" and tok.text in ("true", "false"):
            scope = "constant.language.boolean"
        elif tok.kind == "name" and prev is not None and prev.text == "=":
            family = OPTION_FAMILY.get(tokens[i - 2].text)
            scope = f"support.function.{family}" if family else None  # `target=species`: any
        elif tok.kind == "name" and tok.text in FAMILY_NAMES.get(
                STATEMENT_FAMILY.get(keyword, ""), ()):
            scope = f"support.function.{STATEMENT_FAMILY[keyword]}"
        if scope is not None:
            line = text.count("\n", 0, tok.start)
            expected[(line, tok.start - (text.rfind("\n", 0, tok.start) + 1))] = scope
        if tok.text == "{":
            depth += 1
        elif tok.text == "}":
            depth -= 1
        if tok.kind == "newline" or tok.text in ("{", "}", ";"):
            at_start = True
        elif tok.kind != "comment":
            at_start = False
    return expected


def test_example_specs_are_coloured_by_role() -> None:
    results = _tokenize_with_vscode(SPECS)
    checked = 0
    for result, path in zip(results, SPECS, strict=True):
        text = path.read_text(encoding="utf-8")
        assert text.isascii()  # token offsets below are UTF-16 units in node
        scopes = {(i, t["start"]): (t["text"], t["scopes"])
                  for i, line in enumerate(result["lines"]) for t in line}
        for (line, col), want in _expected(text).items():
            got_text, got = scopes[(line, col)]
            assert any(s.startswith(want + ".") for s in got), (path.name, line + 1, got_text,
                                                                want, got)
            checked += 1
    assert checked > 150


def test_extension_manifest_points_at_real_files() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    assert (VSCODE / manifest["main"]).is_file()
    (language,) = manifest["contributes"]["languages"]
    assert language["id"] == "nnspec" and language["extensions"] == [".nn"]
    config = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert (VSCODE / grammar["path"]).resolve() == GRAMMAR
    assert json.loads(GRAMMAR.read_text(encoding="utf-8"))["scopeName"] == grammar["scopeName"]
    assert "onLanguage:nnspec" in manifest["activationEvents"]
    # The client starts `nnspec lsp` by default: that command must exist.
    props = manifest["contributes"]["configuration"]["properties"]
    assert props["nnspec.server.command"]["default"] == "nnspec"
    assert props["nnspec.server.args"]["default"] == ["lsp"]
    from nnspec.cli import build_parser

    assert build_parser().parse_args(["lsp", "--stdio"]).command == "lsp"


def test_extension_declares_the_inlay_hint_setting() -> None:
    """The server reads `nnspec.inlayHints.enabled` (test_lsp_inlay.py); the extension declares
    it, sends its changes (didChangeConfiguration) and its README shows the hints."""
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    setting = manifest["contributes"]["configuration"]["properties"]["nnspec.inlayHints.enabled"]
    assert setting["type"] == "boolean" and setting["default"] is True
    client = (VSCODE / "extension.js").read_text(encoding="utf-8")
    assert 'configurationSection: "nnspec"' in client
    readme = (VSCODE / "README.md").read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert pictures and all((VSCODE / p).is_file() for p in pictures), pictures
