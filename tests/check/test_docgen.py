"""docs/language.md is generated; it must match the registry and the IR."""

from __future__ import annotations

from nnspec import docgen
from nnspec.check.options import FAMILIES, options
from nnspec.diagnostics import CODES


def test_language_md_is_up_to_date() -> None:
    current = docgen.OUT.read_text(encoding="utf-8")
    assert current == docgen.generate(), "run `python -m nnspec.docgen` and commit the result"


def test_every_op_option_and_code_is_documented() -> None:
    text = docgen.generate()
    for registry, _, _ in FAMILIES.values():
        for kind, cls in registry.items():
            assert f"### `{kind}`" in text
            for key in options(cls):
                assert f"| `{key}`" in text, (kind, key)
    for code in CODES:
        assert f"| {code} |" in text
