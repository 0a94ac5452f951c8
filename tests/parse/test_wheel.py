"""The grammar ships in the wheel: build a wheel from a copy of the source, install it into a
temporary --target, and parse a spec with the installed package (no checkout on sys.path)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, nnspec
from nnspec.parse import parse
from nnspec.parse.grammar import grammar_source
doc, diagnostics = parse(open(SPEC).read(), SPEC)
print(json.dumps({"package": nnspec.__file__, "grammar": grammar_source()[1],
                  "blocks": [b.kind.value for b in doc.blocks],
                  "diagnostics": [d.code for d in diagnostics]}))
"""


@pytest.mark.slow
def test_installed_wheel_finds_its_grammar(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    readme = ROOT / "README.md"
    (src / "README.md").write_text(readme.read_text() if readme.exists() else "nnspec\n")
    shutil.copytree(ROOT / "grammar", src / "grammar")
    shutil.copytree(ROOT / "nnspec", src / "nnspec",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(src),
                    "-w", str(tmp_path / "dist")], check=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("nnspec-*.whl")
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site),
                    str(wheel)], check=True, cwd=tmp_path)

    # The checkout's grammar must not be what the installed package finds.
    assert not (site / "grammar").exists()
    assert (site / "nnspec" / "_grammar" / "nnspec.lark").is_file()
    # so does the data of the built-in `digits()` source (no download)
    assert (site / "nnspec" / "data" / "builtin" / "digits.npz").is_file()
    spec = str(ROOT / "specs" / "moons.nn")
    out = subprocess.run([sys.executable, "-P", "-c", f"SPEC = {spec!r}\n{PROBE}"],
                         cwd=tmp_path, env={"PYTHONPATH": str(site)}, check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out)
    assert result["package"].startswith(str(site))
    assert result["grammar"] == str(site / "nnspec" / "_grammar" / "nnspec.lark")
    assert result["blocks"] == ["model", "data", "train"]
    assert result["diagnostics"] == []
