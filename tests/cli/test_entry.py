"""The `nnspec` script and `python -m nnspec` exit through cli.entry(): main()'s exit code,
after freezing the objects still alive (gc.freeze) so that the interpreter's shutdown does
not collect over everything the run created (issue 23: ~0.2 s of a short run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nnspec import __version__, cli

ROOT = Path(__file__).resolve().parents[2]


def test_entry_exits_with_mains_code_after_freezing(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "main", lambda: calls.append("main") or 3)
    monkeypatch.setattr(cli.gc, "freeze", lambda: calls.append("freeze"))
    with pytest.raises(SystemExit) as exc:
        cli.entry()
    assert exc.value.code == 3 and calls == ["main", "freeze"]


@pytest.mark.parametrize("module", ["nnspec", "nnspec.cli"])
def test_python_dash_m_runs_the_command_line(module, tmp_path):
    out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True,
                         text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT),
                                                       "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"nnspec {__version__}"
    bad = subprocess.run([sys.executable, "-m", module, "no-such-command"],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_the_console_script_is_entry():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'nnspec = "nnspec.cli:entry"' in text
