"""lsp: an editor's LSP session -> diagnostics, completion, hover, formatting, outline, links.

The language server behind `nnspec lsp` (pygls; install the `lsp` extra). It reaches the
language only through the shared front end (`nnspec.pipeline.diagnose`, `nnspec.parse.parse`,
`nnspec.fmt.format_source`) and the op registry, so the editor and `nnspec check` agree.

Modules: positions (the one Span <-> LSP position conversion), vocab (registry + IR -> what
may be written where), context (cursor -> block/statement/call), complete, hover, navigate
(symbols, definition), formatting, publish (diagnostics), analysis (per-document cache),
datafacts (data files read by a worker, cached), server (pygls wiring, `main()`).
"""


def main(argv: list[str] | None = None) -> int:
    """Run the server over stdio (imports pygls only when called)."""
    from nnspec.lsp.server import main as serve

    return serve(argv)
