"""cli.lsp: `nnspec lsp` -> the language server, speaking LSP over stdin/stdout.

Editors start it (the VS Code extension in editors/vscode runs `nnspec lsp`); it needs the
`lsp` extra (pygls). `--stdio` is accepted because LSP clients such as vscode-languageclient
append it; stdio is the only transport.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lsp", help="run the language server (LSP over stdio) for editors",
        description="Run the nnspec language server over stdin/stdout: diagnostics as you type "
        "(the same as `nnspec check`), completion, hover, formatting, outline, go-to-definition.")
    p.add_argument("--stdio", action="store_true",
                   help="talk over stdin/stdout (the default and only transport)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("pygls") is None:
        print("nnspec lsp: the language server needs pygls; install the `lsp` extra: "
              "pip install 'nnspec[lsp]'", file=sys.stderr)
        return 2
    from nnspec.lsp import main

    return main()
