"""The `nnspec` command line: exit codes, output formats, fmt, schema, summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nnspec.cli.check as cli_check
import nnspec.cli.fmt as cli_fmt
from nnspec.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1"
BAD = "tests/check/golden/E204.nn"


def nnspec(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nnspec.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "code"), [
    (["check", "specs/moons.nn", "specs/iris.nn"], 0),
    (["check", "tests/check/golden/W104.nn"], 0),  # warnings only
    (["check", BAD], 1),
    (["check", "specs/moons.nn", "no/such/file.nn"], 2),
    (["check"], 2),
    (["frobnicate"], 2),
])
def test_check_exit_codes_subprocess(args: list[str], code: int) -> None:
    proc = nnspec(*args)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_check_text_output_is_the_golden_rendering() -> None:
    proc = nnspec("check", BAD)
    expected = (ROOT / BAD).with_suffix(".stderr").read_text()
    assert proc.stderr.startswith(expected)
    assert proc.stderr.endswith("1 error, 0 warnings in 1 file\n")
    assert "\x1b[" not in proc.stderr  # no colour when not a terminal


def test_check_json_output() -> None:
    proc = nnspec("check", "--format", "json", BAD, "specs/moons.nn")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["version"] == 1
    (d,) = data["diagnostics"]
    assert d["code"] == "E204" and d["path"] == BAD
    assert d["span"]["line"] == 4 and d["range"]["start"] == {"line": 3, "character": 13}


def test_json_clean_is_empty(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--format", "json", "specs/linear.nn"]) == 0
    assert json.loads(capsys.readouterr().out)["diagnostics"] == []


def test_missing_file_golden(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tests/cli/golden/missing.nn"]) == 2
    golden("E505.stderr", capsys.readouterr().err)


def test_undecodable_file_golden(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tests/cli/golden/E505-2.nn"]) == 1
    golden("E505-2.stderr", capsys.readouterr().err)


def test_internal_error_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def boom(paths: list[str]):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cli_check, "check_files", boom)
    assert main(["check", "specs/moons.nn"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    golden("E502.stderr", err)


def test_fmt_check_and_rewrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = tmp_path / "messy.nn"
    messy.write_text("model m {\n  input 2\n     dense 1 sigmoid\n}\ntrain {   loss mse }\n")
    before = messy.read_text()
    assert main(["fmt", "--check", str(messy)]) == 1
    assert messy.read_text() == before  # --check changes nothing
    assert main(["fmt", str(messy)]) == 0
    after = messy.read_text()
    assert after != before
    assert main(["fmt", "--check", str(messy)]) == 0  # now canonical
    assert [p.name for p in tmp_path.iterdir()] == ["messy.nn"]  # no temp file left behind
    capsys.readouterr()


def test_fmt_write_failure_is_a_diagnostic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    messy = tmp_path / "messy.nn"
    messy.write_text("model m {\n  input 2\n dense 1\n}\ntrain { loss mse }\n")

    def refuse(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli_fmt, "write_atomic", refuse)
    monkeypatch.chdir(tmp_path)
    assert main(["fmt", "messy.nn"]) == 1
    golden("E503.stderr", capsys.readouterr().err)


def test_fmt_refuses_syntax_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.nn"
    broken.write_text("model m {\n  input 2 (\n")
    assert main(["fmt", str(broken)]) == 1
    assert broken.read_text() == "model m {\n  input 2 (\n"
    assert "not formatted" in capsys.readouterr().err


def test_fmt_subprocess_exit_codes(tmp_path: Path) -> None:
    spec = tmp_path / "moons.nn"
    shutil.copy(ROOT / "specs/moons.nn", spec)
    first = nnspec("fmt", str(spec))
    assert first.returncode == 0, first.stderr
    assert nnspec("fmt", "--check", str(spec)).returncode == 0
    assert nnspec("fmt", str(tmp_path / "nope.nn")).returncode == 2


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema["required"]) == {"model", "train"}
    assert "span" not in json.dumps(schema)


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "specs/moons.nn"]) == 0
    out = capsys.readouterr().out
    # 2*16+16, 16*16+16, 16*1+1 parameters; FLOPs 2*in*out + out
    for row in (("dense 16 relu", "48", "80"), ("dense 16 relu", "272", "528"),
                ("dense 1 sigmoid", "17", "33"), ("total", "337", "641")):
        assert any(all(cell in line for cell in row) for line in out.splitlines()), row
    assert main(["summary", BAD]) == 1
    assert main(["summary", "nope.nn"]) == 2


def test_closed_pipe_is_not_an_internal_error() -> None:
    """`nnspec schema | head -c 10`: the reader leaves early; nnspec must exit quietly."""
    proc = subprocess.Popen([sys.executable, "-m", "nnspec.cli", "schema"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # the pipe's reader is gone
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=60)
    assert "E502" not in err and "Traceback" not in err, err
    assert rc in (0, 141)


def test_summary_shows_the_layers_inside_bodies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "specs/inception.nn"]) == 0
    out = capsys.readouterr().out
    # concat: branch 0 is dense 32 (64*32+32), branch 1 dense 16 (64*16+16) then dense 32
    for row in (("concat of 2 branches", "(64,)", "3,664"),
                ("branch 0: dense 32 relu", "(32,)", "2,080"),
                ("branch 1: dense 16 tanh", "(16,)", "1,040"),
                ("branch 1: dense 32 relu", "(32,)", "544"),
                ("- dense 10 softmax", "(10,)", "650"), ("total", "9,124")):
        assert any(all(cell in line for cell in row) for line in out.splitlines()), row


def test_nested_rows_add_up_to_their_composite() -> None:
    from nnspec.pipeline import diagnose
    from nnspec.summary import all_rows, rows

    for name in ("inception.nn", "residual.nn"):
        spec, _ = diagnose((ROOT / "specs" / name).read_text(), name)
        every = all_rows(spec.model)
        assert [r for r in every if r.depth == 0] == rows(spec.model)
        for r in every:
            children = [c for c in every if c.name.startswith(r.name + ".")
                        and c.depth == r.depth + 1]
            if children:
                assert r.params == sum(c.params for c in children), r
