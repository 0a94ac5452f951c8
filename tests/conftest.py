"""Test-suite setup shared by every stage folder.

Test modules are imported with pytest's importlib mode (see pyproject.toml), so two stages
may both have a `test_golden.py`. Each stage folder's helper modules (`ref_nets.py`,
`data_helpers.py`, ...) are imported by bare name, so every stage folder is put on sys.path;
helper module names are prefixed with their stage to stay unique.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent

for _folder in sorted(p for p in _HERE.iterdir() if p.is_dir() and p.name[0] not in "._"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
# The checkout itself, so `import nnspec` works without an editable install.
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

# The memory a run may use (nnspec/memory/limit.py): fixed, so that E311 / W107 in goldens and
# tests do not depend on the machine the suite runs on. Subprocesses inherit it.
import os  # noqa: E402

os.environ.setdefault("NNSPEC_MAX_MEMORY", "16GB")

import pytest  # noqa: E402

# Tests marked `slow` (longer fuzz hunts, wheel builds, memory peaks, examples on the
# reference backend, kill -9 sweeps) run with `--slow` (or `-m slow`), not by default: the
# default suite, which CI runs, stays well under 15 minutes on 2 cores.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the tests marked slow (a few more minutes on 2 cores)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
