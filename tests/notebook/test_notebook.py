"""notebook: docs/notebook.ipynb runs from top to bottom; `nnspec.fit` shows live progress
and curves in a kernel (rate-limited) and prints what the CLI prints in a script; the
`%%nnspec` magic reports a mistake as a diagnostic, never a traceback.

The notebook runs in a real kernel with nbclient (outputs as a frontend would keep them);
without nbclient or ipykernel its code cells run in order in an IPython shell instead; without
IPython the test is skipped. It trains two 15-epoch runs of a 400-sample toy problem: a few
seconds once Numba's cache is warm.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import nnspec
from nnspec.notebook import in_notebook
from nnspec.notebook.progress import PICTURE_S, REFRESH_HZ, NotebookReporter
from nnspec.train.progress import RunInfo

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "docs" / "notebook.ipynb"


def _run_with_nbclient(folder: Path) -> list[dict]:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(str(folder / NOTEBOOK.name), as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    return [{"source": c.source, "outputs": c.outputs} for c in nb.cells
            if c.cell_type == "code"]


def _run_in_shell(folder: Path, capsys) -> list[dict]:
    """No kernel: each code cell through IPython's shell, in order (outputs: stdout)."""
    import json

    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    cells = [c for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "code"]
    out = []
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        for cell in cells:
            source = "".join(cell["source"])
            result = shell.run_cell(source, store_history=True)
            assert result.success, (source, result.error_in_exec)
            text = capsys.readouterr().out
            out.append({"source": source, "outputs": [
                {"output_type": "stream", "name": "stdout", "text": text}]})
    finally:
        os.chdir(cwd)
    return out


def _text(outputs: list) -> str:
    parts = []
    for o in outputs:
        if o["output_type"] == "stream":
            parts.append(o["text"])
        elif o["output_type"] in ("display_data", "execute_result"):
            parts.append(o["data"].get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def notebook_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nb")
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    return folder


def test_docs_notebook_runs(notebook_folder, monkeypatch, capsys):
    # the kernel imports this checkout's nnspec, whether it is installed or not
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    try:
        import ipykernel  # noqa: F401
        import nbclient  # noqa: F401
        cells = _run_with_nbclient(notebook_folder)
        kernel = True
    except ImportError:
        cells = _run_in_shell(notebook_folder, capsys)
        kernel = False
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert errors == []
    by_first = {c["source"].splitlines()[0]: c for c in cells}
    check = by_first["%%nnspec moons_nb.nn --check"]
    assert "moons_nb.nn: ok" in _text(check["outputs"])
    train = next(c for c in cells if c["source"].startswith("%%nnspec moons_nb.nn --epochs"))
    text = _text(train["outputs"])
    assert "spec saved to moons_nb.nn" in text
    assert re.search(r"done: 15 epochs in [\d.]+s; train loss [\d.]+, accuracy", text)
    if kernel:  # what the cell ends with: the final table, then the curves picture
        shown = [o for o in train["outputs"] if o["output_type"] == "display_data"]
        assert "<table>" in shown[0]["data"]["text/html"]
        assert "<th>val</th>" in shown[0]["data"]["text/html"]
        assert shown[1]["data"]["image/png"]
        assert "Run(dir=" in _text([o for o in train["outputs"]
                                    if o["output_type"] == "execute_result"])
    assert (notebook_folder / "runs" / "moons-nb" / "curves.png").is_file()
    predict = next(c for c in cells if c["source"].startswith("probabilities ="))
    values = re.findall(r"P\(class 1\) = ([\d.]+)", _text(predict["outputs"]))
    assert len(values) == 3 and all(0.0 <= float(v) <= 1.0 for v in values)
    compare = _text(cells[-1]["outputs"])
    fast, slow = (float(v) for v in re.findall(r"lr 0\.0+1: +([\d.]+)", compare))
    assert fast < slow  # ten times the learning rate learns faster in 15 epochs


class Recorder:
    """Stands in for IPython.display's display / update_display."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, str]] = []

    def display(self, bundle, raw, display_id):
        assert raw
        self.calls.append(("display", dict(bundle), display_id))

    def update(self, bundle, raw, display_id):
        assert raw
        self.calls.append(("update", dict(bundle), display_id))


def test_live_view_is_rate_limited_and_ends_complete():
    """A fast run (thousands of events in a fraction of a second) draws a handful of times;
    the last state is always drawn."""
    import time

    rec = Recorder()
    rep = NotebookReporter(rec.display, rec.update, title="t")
    epochs, batches = 300, 20
    t0 = time.perf_counter()
    rep.start(RunInfo("t", epochs, 0, 640, batches))
    for e in range(1, epochs + 1):
        for b in range(1, batches + 1):
            rep.chunk(e, b, 1e5)
        rep.epoch({"epoch": e, "time": 0.0, "loss": 1.0 / e, "val_loss": 1.2 / e, "lr": 0.01},
                  1e5)
    rep.message("stopped early")
    rep.end()
    elapsed = time.perf_counter() - t0
    status = [c for c in rec.calls if "text/html" in c[1]]
    pictures = [c for c in rec.calls if "image/png" in c[1]]
    # the forced draws: start, the last epoch, the message, end (progress); last epoch, end
    assert len(status) <= elapsed * REFRESH_HZ + 5
    assert len(pictures) <= elapsed / PICTURE_S + 3
    assert len({c[2] for c in status}) == 1 and status[0][0] == "display"
    assert all(c[0] == "update" for c in status[1:] + pictures[1:])
    last = status[-1][1]
    assert "epoch 300/300" in last["text/plain"] and "stopped early" in last["text/plain"]
    assert pictures[-1][1]["text/plain"] == "<curves of 300 epochs>"


def test_notebook_detection(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not in_notebook()
    assert "IPython" not in sys.modules  # never imported just to look
    fake = types.ModuleType("IPython")
    monkeypatch.setitem(sys.modules, "IPython", fake)
    fake.get_ipython = lambda: None  # type: ignore[attr-defined]
    assert not in_notebook()  # IPython imported, no shell
    fake.get_ipython = lambda: types.SimpleNamespace()  # type: ignore[attr-defined]
    assert not in_notebook()  # a terminal IPython: no kernel
    fake.get_ipython = lambda: types.SimpleNamespace(kernel=object())  # type: ignore[attr-defined]
    assert in_notebook()


TINY = """model tiny {
    input 2
    dense 8 tanh
    dense 1 sigmoid
}
data {
    source moons(samples=80, noise=0.2)
    split validation=0.25
    standardize
}
train {
    loss binary_crossentropy
    optimizer adam(lr=0.01)
    epochs 3
    batch 20
    metrics accuracy
    seed 5
}
"""


def _normalized(text: str) -> list[str]:
    text = re.sub(r"samples/s [\d,]+", "samples/s N", text)
    text = re.sub(r"eta [\d:-]+", "eta T", text)
    text = re.sub(r"in [\d.]+s", "in Ts", text)
    return [line for line in text.splitlines() if not line.startswith("run directory: ")]


def test_script_prints_what_the_cli_prints(tmp_path):
    (tmp_path / "tiny.nn").write_text(TINY, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    script = subprocess.run(
        [sys.executable, "-c", "import nnspec; nnspec.fit('tiny.nn', out='a')"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    cli = subprocess.run([sys.executable, "-m", "nnspec.cli", "run", "tiny.nn", "--out", "b"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert script.returncode == cli.returncode == 0, script.stderr + cli.stderr
    assert _normalized(script.stdout) == _normalized(cli.stdout)
    assert script.stderr == cli.stderr
    assert re.search(r"^epoch 3/3 ", script.stdout, re.M) and "done: 3 epochs" in script.stdout


def test_magic_reports_a_mistake_at_the_cell_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    assert shell.run_cell("%load_ext nnspec").success
    bad = TINY.replace("dense 8 tanh", "dense 8 tahn")
    result = shell.run_cell("%%nnspec --check\n" + bad)
    err = capsys.readouterr().err
    assert result.success and "Traceback" not in err
    assert re.search(r"cell\.nn:3:\d+: error\[E\d{3}\]", err) and "tanh" in err
    assert not list(tmp_path.iterdir())  # a cell that does not check is not saved
    result = shell.run_cell("%%nnspec --bogus 3\n" + TINY)
    assert result.success and "%%nnspec:" in capsys.readouterr().err  # usage, not SystemExit
    result = shell.run_cell("%%nnspec tiny.nn --epochs 2 --quiet --out r\n" + TINY)
    assert result.success and isinstance(result.result, nnspec.Run)
    assert result.result.status == "completed" and len(result.result.history) == 2
    assert (tmp_path / "tiny.nn").read_text(encoding="utf-8") == TINY
