"""Structure rules (DESIGN.md section 5): rendered goldens for every diagnostic code,
documented ops, and numba.cuda only under nnspec/backends/cuda/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from nnspec.check.options import FAMILIES
from nnspec.diagnostics import CODES
from nnspec.ops.optimizers import Clip

ROOT = Path(__file__).resolve().parents[2]
RENDERED = re.compile(r"\b(?:error|warning|note)\[([EW]\d{3})\]")

# Codes raised only at run time, whose goldens belong to the data/train/backend tests.
# This set must only shrink: a code listed here that gains a golden fails (strict xfail).
AWAITING_GOLDEN: set[str] = set()


def rendered_codes() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("*.stderr"):
        found |= set(RENDERED.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


CODE_CASES = [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="golden pending"))
              if c in AWAITING_GOLDEN else c for c in CODES]


@pytest.mark.parametrize("code", CODE_CASES)
def test_every_code_has_a_rendered_golden(code: str) -> None:
    assert code in rendered_codes(), f"no tests/**/*.stderr renders [{code}]"


def test_awaiting_list_names_real_codes() -> None:
    assert AWAITING_GOLDEN <= set(CODES)


OPS = [cls for registry, _, _ in FAMILIES.values() for cls in registry.values()] + [Clip]


@pytest.mark.parametrize("cls", OPS, ids=[f"{c.family}.{c.__name__}" for c in OPS])
def test_every_op_is_documented(cls: type) -> None:
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring (its formula)"
    for name, field in cls.model_fields.items():
        if name in ("span", "kind"):
            continue
        assert field.description, f"{cls.__name__}.{name} has no description"


def _imports_numba_cuda(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name == "numba.cuda" or a.name.startswith("numba.cuda.") for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "numba.cuda" or node.module.startswith("numba.cuda."):
                return True
            if node.module == "numba" and any(a.name == "cuda" for a in node.names):
                return True
    return False


def test_numba_cuda_only_in_cuda_backend() -> None:
    allowed = ROOT / "nnspec" / "backends" / "cuda"
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "nnspec").rglob("*.py")
                 if allowed not in p.parents and _imports_numba_cuda(p)]
    assert offenders == []


def test_numba_cuda_detector_works(tmp_path: Path) -> None:
    for line, expected in (("import numba.cuda", True), ("from numba import cuda", True),
                           ("from numba.cuda import jit", True), ("import numba", False),
                           ("from numba import njit", False)):
        f = tmp_path / "m.py"
        f.write_text(line + "\n")
        assert _imports_numba_cuda(f) is expected, line


# The pipeline's stages in order (DESIGN.md: arrows point one way). A module may import
# modules of its own rank or lower, never a later stage, not even lazily inside a function.
# Keys are module paths under nnspec; the longest prefix decides.
STAGE = {
    "__version__": 0, "diagnostics": 0, "syntax": 0, "ir": 0, "ops": 0,
    "bugs": 0,  # the E502 catch-all's diagnostic (and its test hook): imports only diagnostics
    "run.atomic": 0,  # a leaf utility (atomic writes, strict JSON): imports only diagnostics
    "data.files": 0,  # a leaf utility (open regular files only): imports nothing of nnspec
    # `--set` on a checked Spec: imports only diagnostics, parse and check; the sweep block's
    # checker applies its settings the same way (check/sweep.py)
    "run.overrides": 2, "sweep.spec": 2, "sweep": 8,
    "parse": 1, "check": 2, "unparse": 2, "fmt": 2,
    "lower": 3, "weights": 4, "data": 4, "memory": 4, "backends": 5, "train": 6,
    "pipeline": 7, "fix": 7, "summary": 7, "run": 8, "docgen": 9, "cli": 9, "__main__": 9,
    "lsp": 9, "api": 9,
    "exporter": 8, "notebook": 9,
    "pictures": 9, "pictures.trajectory": 8,  # the run folder writes the trajectory log
}
# Deliberate exceptions, each with its reason.
LATER_IMPORTS_ALLOWED = {
    # `nnspec.check(...)` is the public API's check (api.check) as well as the checker's
    # package: calling the package forwards to the API, imported on call.
    ("check", "api"),
}


def _stage_of(dotted: str) -> tuple[str, int] | None:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in STAGE:
            return key, STAGE[key]
    return None


def _nnspec_imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("nnspec."):
                out.append(node.module)
            elif node.module == "nnspec":
                out += [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("nnspec.")]
    return [m.removeprefix("nnspec.") for m in out]


def test_stages_import_forward_only() -> None:
    backwards, unranked = [], []
    for path in sorted((ROOT / "nnspec").rglob("*.py")):
        rel = path.relative_to(ROOT / "nnspec").with_suffix("")
        if rel.parts == ("__init__",):
            continue  # the package's facade re-exports the API
        name = ".".join(p for p in rel.parts if p != "__init__")
        mine = _stage_of(name)
        if mine is None:
            unranked.append(name)
            continue
        for target in _nnspec_imports(path):
            theirs = _stage_of(target)
            if theirs is None:
                unranked.append(target)
            elif theirs[1] > mine[1] and (mine[0], theirs[0]) not in LATER_IMPORTS_ALLOWED:
                backwards.append(f"{name} -> {target}")
    assert unranked == [], "give these modules a stage in STAGE"
    assert backwards == [], "a stage imports a later one"


def test_stage_rule_catches_a_backward_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from nnspec.train.loop import train\n")
    assert _nnspec_imports(f) == ["train.loop"]
    assert _stage_of("train.loop")[1] > _stage_of("lower.plan")[1]  # type: ignore[index]


def test_no_plan_field_is_dead() -> None:
    """Every field of the Plan's records is read by something other than lower() (which
    writes them): a backend, the training loop, the run directory, init, the printer."""
    import dataclasses

    from nnspec.lower import plan as plan_types

    read: set[str] = set()
    producer = ROOT / "nnspec" / "lower" / "lower.py"
    for path in (ROOT / "nnspec").rglob("*.py"):
        if path != producer:
            read |= {n.attr for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                     if isinstance(n, ast.Attribute)}
    records = [obj for obj in vars(plan_types).values()
               if dataclasses.is_dataclass(obj) and obj.__module__ == plan_types.__name__]
    assert {r.__name__ for r in records} >= {"Plan", "LayerPlan", "OptimizerPlan", "OutputPlan"}
    dead = [f"{r.__name__}.{f.name}" for r in records for f in dataclasses.fields(r)
            if f.name not in read]
    assert dead == []
