"""nnspec: a declarative neural-network spec compiler. Start reading at nnspec/pipeline.py.

From Python (nnspec/api.py): `nnspec.load`, `nnspec.check`, `nnspec.fit`, `nnspec.open_run`,
`nnspec.export`.
They are imported on first use, so `import nnspec` stays light. In Jupyter, `%load_ext nnspec`
adds the `%%nnspec` cell magic (nnspec/notebook/magic.py).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Run", "Spec", "SpecError", "check", "export", "fit", "load", "open_run"]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext nnspec`: registers the `%%nnspec` cell magic."""
    from nnspec.notebook.magic import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    if name in __all__:
        from nnspec import api

        return getattr(api, name)
    raise AttributeError(f"module 'nnspec' has no attribute {name!r}")
