"""notebook: training shown in Jupyter (live progress and curves) and the `%%nnspec` magic.

`in_notebook()` says whether this process is an IPython kernel (Jupyter, JupyterLab, VS Code,
Colab): IPython must already be imported and its shell must have a kernel. It never imports
IPython itself, so a script or the CLI does not pay for it; a terminal IPython (no kernel) is
not a notebook and gets what the CLI prints. `nnspec.fit` picks `NotebookReporter`
(notebook/progress.py) there; `%load_ext nnspec` registers the cell magic (notebook/magic.py).
"""

from __future__ import annotations

import sys


def in_notebook() -> bool:
    """True inside an IPython kernel (the shell has a `kernel`), False anywhere else."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001  (a half-imported or foreign IPython: not a notebook)
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None
