"""cli.schema: `nnspec schema` -> the JSON Schema of ir.Spec (the checked spec) on stdout."""

from __future__ import annotations

import argparse
import json

from nnspec import ir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of a checked spec",
                       description="Print the JSON Schema of nnspec.ir.Spec (what `check` "
                       "produces; field descriptions are the language documentation).")
    p.set_defaults(func=run)


def spec_schema() -> dict:
    # Serialization mode: the schema of what a Spec dumps to, without the internal spans.
    return ir.Spec.model_json_schema(mode="serialization")


def run(args: argparse.Namespace) -> int:
    print(json.dumps(spec_schema(), indent=2))
    return 0
