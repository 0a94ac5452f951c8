"""memory.limit: sizes as text, and the memory the machine allows (physical, cgroup, RLIMIT_AS,
--max-memory, NNSPEC_MAX_MEMORY)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnspec.memory import limit as lim

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_override():
    yield
    lim.set_override(None)


@pytest.mark.parametrize(("text", "n"), [
    ("1000", 1000), ("24G", 24 * 10**9), ("24GB", 24 * 10**9), ("24gb", 24 * 10**9),
    ("512MiB", 512 * 2**20), ("1.5T", 1.5e12), ("2 GiB", 2 * 2**30), ("64k", 64_000),
])
def test_parse_size(text: str, n: float) -> None:
    assert lim.parse_size(text) == int(n)


@pytest.mark.parametrize("text", ["", "G", "-1G", "1X", "0", "1e9", "twelve"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        lim.parse_size(text)


def test_show() -> None:
    assert lim.show_size(384e9) == "384 GB"
    assert lim.show_size(1_200_000) == "1.2 MB"
    assert lim.show_size(512) == "512 B"
    assert lim.show_count(24_000_000_000) == "24 billion"
    assert lim.show_count(12_345) == "12,345"


def test_override_then_env_then_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lim.ENV, "3GB")
    assert lim.machine_limit() == lim.Limit(3 * 10**9, lim.ENV)
    lim.set_override(10**6)
    assert lim.machine_limit() == lim.Limit(10**6, "--max-memory")
    lim.set_override(None)
    monkeypatch.delenv(lim.ENV)
    monkeypatch.setattr(lim, "_physical", lambda: 64 * 10**9)
    monkeypatch.setattr(lim, "_cgroup", lambda: 8 * 10**9)
    monkeypatch.setattr(lim, "_rlimit_as", lambda: None)
    assert lim.machine_limit() == lim.Limit(8 * 10**9, "cgroup")
    monkeypatch.setattr(lim, "_rlimit_as", lambda: 2 * 10**9)
    assert lim.machine_limit() == lim.Limit(2 * 10**9, "RLIMIT_AS")
    assert lim.machine_limit().words == "this machine allows 2 GB"


def test_cgroup_v2(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/user.slice/job\n")
    (tmp_path / "user.slice" / "job").mkdir(parents=True)
    (tmp_path / "user.slice" / "job" / "memory.max").write_text("4294967296\n")
    assert lim._cgroup(proc, tmp_path) == 4294967296
    (tmp_path / "user.slice" / "job" / "memory.max").write_text("max\n")
    assert lim._cgroup(proc, tmp_path) is None


def test_cgroup_v1(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("5:cpu,cpuacct:/x\n4:memory:/docker/abc\n")
    (tmp_path / "memory" / "docker" / "abc").mkdir(parents=True)
    (tmp_path / "memory" / "docker" / "abc" / "memory.limit_in_bytes").write_text("1073741824")
    assert lim._cgroup(proc, tmp_path) == 1073741824
    # v1 says "no limit" with a huge number
    (tmp_path / "memory" / "docker" / "abc" / "memory.limit_in_bytes").write_text(
        str(2**63 - 4096))
    assert lim._cgroup(proc, tmp_path) is None


def test_rlimit_as_in_a_child() -> None:
    """RLIMIT_AS set in a child (never in the pytest process) is the machine's limit there."""
    code = ("import resource, json\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 * 10**9, resource.RLIM_INFINITY))\n"
            "from nnspec.memory.limit import machine_limit\n"
            "lim = machine_limit(); print(json.dumps([lim.bytes, lim.source]))\n")
    env = {k: v for k, v in os.environ.items() if k != lim.ENV}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    n, source = json.loads(out.stdout)
    physical = lim._physical() or 2**63
    cgroup = lim._cgroup() or 2**63
    assert n == min(3 * 10**9, physical, cgroup)
    if 3 * 10**9 < min(physical, cgroup):
        assert source == "RLIMIT_AS"
