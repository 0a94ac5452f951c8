"""Memory running out is a named diagnostic (E509), never "this is a bug in nnspec" (E502).

Found by the training property test (tests/run/test_train_fuzz.py): a generated source of
2^31 samples ended in the CLI's catch-all with numpy's "Unable to allocate 8.00 GiB".
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

import pytest
from runfork import needs_fork, run
from runspecs import write_spec

from nnspec.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
NUMPY_OOM = ("Unable to allocate 8.00 TiB for an array with shape (1099511627776,) and data "
             "type float64")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_e509_out_of_memory_while_reading_the_data(tmp_path, monkeypatch, capsys):
    """The data loader asks numpy for 8 TiB (the fuzz case asked for 8 GiB)."""
    import numpy as np

    import nnspec.run.session as session

    def too_big(spec):
        return np.empty(2**40)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(session, "dataset_of", too_big)
    write_spec(Path("."), epochs=1)
    assert main(["run", "tiny.nn", "--out", "r", "-q"]) == 1
    err = capsys.readouterr().err
    assert "error[E509]" in err and NUMPY_OOM in err and "E502" not in err, err
    manifest = json.loads(Path("r/manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert [d["code"] for d in manifest["diagnostics"]] == ["E509"]
    check_golden("E509.stderr", err)


@pytest.mark.parametrize("where", ["compile", "train"])
def test_out_of_memory_in_the_catch_alls_is_e509(tmp_path, monkeypatch, capsys, where):
    import nnspec.run.session as session

    def boom(*args, **kwargs):
        raise MemoryError()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(session, "compile_spec" if where == "compile" else "train", boom)
    write_spec(Path("."), epochs=1)
    assert main(["run", "tiny.nn", "--out", "r", "-q"]) == 1
    err = capsys.readouterr().err
    assert "error[E509]: out of memory: the machine could not give" in err, err
    assert "bug in nnspec" not in err


def test_any_memory_error_reaching_the_cli_is_e509(monkeypatch, capsys):
    import nnspec.cli.check as check_cli

    def boom(args):
        raise MemoryError("Allocation failed (probably too large).")

    monkeypatch.setattr(check_cli, "run", boom)
    assert main(["check", "x.nn"]) == 1
    err = capsys.readouterr().err
    assert "error[E509]: out of memory: Allocation failed" in err and "E502" not in err, err


@needs_fork
def test_a_real_address_space_limit(tmp_path):
    """A forked child (warm: this process trained the same layer kinds first) under an
    RLIMIT_AS of 64 MiB more than it has, training a model of 9 million parameters."""
    from nnspec.bugs import VARIABLE

    write_spec(tmp_path, epochs=1)
    assert main(["run", str(tmp_path / "tiny.nn"), "--out", str(tmp_path / "warm"), "-q"]) == 0
    big = tmp_path / "big.nn"
    big.write_text((tmp_path / "tiny.nn").read_text().replace(
        "dense 6 tanh", "dense 3000 tanh\n    dense 3000 tanh"))
    bugs = tmp_path / "bugs.jsonl"
    err = tmp_path / "err.txt"

    def limit() -> None:
        os.environ[VARIABLE] = str(bugs)
        sys.stderr = open(err, "w", buffering=1)  # noqa: SIM115 (line buffered: os._exit)
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + 64 * 2**20, vm + 64 * 2**20))

    code = run(["run", big, "--out", tmp_path / "r", "-q"], before=limit)
    text = err.read_text() if err.exists() else ""
    assert code == 1 and "error[E509]: out of memory" in text, (code, text)
    assert not bugs.exists(), bugs.read_text()
    assert "RLIMIT_AS" in text
