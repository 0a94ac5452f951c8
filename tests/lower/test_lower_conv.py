"""lower: image layers in the Plan (PyTorch tensor layouts and fans, window attrs, FLOPs),
and a backend that lacks their kernels refusing the Plan (E506) before any engine runs.
Every backend runs the image layers now, so the cuda engine's image kernels are taken out of
KERNELS here to stand for one that lacks them (as cuda did before they landed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnspec import backends
from nnspec.backends import KERNELS, compile, missing_kernels, runs_on
from nnspec.diagnostics import DiagnosticError, render
from nnspec.lower import lower
from nnspec.lower.plan import AVGPOOL, BATCHNORM, CONV2D, GLOBAL_AVGPOOL, MAXPOOL
from nnspec.pipeline import diagnose
from nnspec.summary import rows

LENET = """model lenet {
    input 3 9 8
    conv2d 6 [3, 2] relu padding=[1, 0] stride=[2, 1]
    batchnorm
    maxpool 2
    avgpool 3 stride=1 padding=1
    conv2d 4 3 tanh padding=same bias=false dilation=2
    global_avgpool
    dense 5 softmax
}
train { loss categorical_crossentropy; dtype float64 }
"""


def _spec(text: str, path: str = "m.nn"):  # type: ignore[no-untyped-def]
    spec, diagnostics = diagnose(text, path)
    assert spec is not None, [render(d, text) for d in diagnostics]
    return spec


def test_conv_layouts_fans_and_windows():
    spec = _spec(LENET)
    plan = lower(spec)
    kinds = [n.kind for n in plan.layers]
    assert kinds[:6] == [CONV2D, BATCHNORM, MAXPOOL, AVGPOOL, CONV2D, GLOBAL_AVGPOOL]
    shapes = [n.out_shape for n in plan.layers]
    # H: (9 + 2 - 3)//2 + 1 = 5, W: 8 - 2 + 1 = 7; maxpool 2: 2x3; avgpool 3/1/1: 2x3
    assert shapes == [(6, 5, 7), (6, 5, 7), (6, 2, 3), (6, 2, 3), (4, 2, 3), (4,), (5,)]
    w = plan.slot("layers.0.weight")
    assert w.shape == (6, 3, 3, 2) and (w.fan_in, w.fan_out) == (3 * 3 * 2, 6 * 3 * 2)
    assert w.init is not None and w.init.kind == "he_normal"  # relu's default
    assert plan.slot("layers.0.bias").shape == (6,)
    assert [t.shape for t in plan.layers[1].tensors] == [(6,)] * 4  # per channel
    conv2 = plan.layers[4]
    assert [t.name for t in conv2.tensors] == ["weight"]  # bias=false
    assert conv2.tensors[0].init.kind == "glorot_uniform"  # tanh's default
    # `same` with dilation 2: 2*(3-1) = 4 rows and columns, 2 before and 2 after
    win = conv2.window
    assert (win.kh, win.kw, win.sh, win.sw, win.dh, win.dw) == (3, 3, 1, 1, 2, 2)
    assert (win.pt, win.pl, win.pb, win.pr) == (2, 2, 2, 2)
    assert plan.layers[2].window.sh == 2  # a pool's stride defaults to its kernel
    assert plan.n_params == 6 * 3 * 3 * 2 + 6 + 2 * 6 + 4 * 6 * 9 + 5 * 4 + 5
    assert plan.n_buffers == 2 * 6


def test_summary_params_and_flops():
    by_layer = {r.index: r for r in rows(_spec(LENET).model)}
    assert by_layer[0].params == 6 * 3 * 3 * 2 + 6
    # 2 * (multiply-adds per output) * outputs + the bias per output
    assert by_layer[0].flops == 2 * 3 * 3 * 2 * (6 * 5 * 7) + 6 * 5 * 7
    assert by_layer[4].flops == 2 * 6 * 9 * (4 * 2 * 3)
    assert by_layer[2].flops == 4 * (6 * 2 * 3)  # maxpool: a compare per window element
    assert by_layer[5].flops == 4 * 2 * 3


def test_same_padding_with_an_even_kernel_pads_after():
    spec = _spec(LENET.replace("conv2d 6 [3, 2] relu padding=[1, 0] stride=[2, 1]",
                               "conv2d 6 [4, 2] relu padding=same"))
    win = lower(spec).layers[0].window
    assert (win.pt, win.pb, win.pl, win.pr) == (1, 2, 0, 1)
    assert lower(spec).layers[0].out_shape == (6, 9, 8)


@pytest.fixture
def no_cuda_image_kernels(monkeypatch):  # type: ignore[no-untyped-def]
    """cuda standing for an engine without image kernels."""
    assert backends.IMAGE_KINDS <= KERNELS["cuda"]
    monkeypatch.setitem(backends.KERNELS, "cuda", KERNELS["cuda"] - backends.IMAGE_KINDS)


def test_every_backend_runs_the_image_layers():
    plan = lower(_spec(LENET))
    assert runs_on(plan) == ["reference", "cpu", "cuda"]
    assert missing_kernels(plan, "cuda") == []


def test_backends_without_image_kernels_refuse_the_plan(no_cuda_image_kernels):
    plan = lower(_spec(LENET))
    assert runs_on(plan) == ["reference", "cpu"]
    assert KERNELS["reference"] is None  # every layer
    assert missing_kernels(plan, "cpu") == []
    missing = [n.kind_name for n in missing_kernels(plan, "cuda")]
    assert missing == ["conv2d", "batchnorm", "maxpool", "avgpool", "global_avgpool"]
    with pytest.raises(DiagnosticError) as info:
        compile(plan, "cuda")
    (d,) = info.value.diagnostics
    assert d.code == "E506" and d.span is not None and d.span.line == 3
    assert "--backend reference" in d.hints[0]
    compile(plan, "reference")


def test_batchnorm_on_flat_rows_still_runs_on_the_engines(no_cuda_image_kernels):
    """Only a batchnorm over images needs the per-channel kernel."""
    flat = _spec("model m {\n    input 4\n    dense 3\n    batchnorm\n    dense 1\n}\n"
                 "train { loss mse }\n")
    assert runs_on(lower(flat)) == ["reference", "cpu", "cuda"]
    image = _spec("model m {\n    input 2 3 3\n    batchnorm\n    flatten\n    dense 1\n}\n"
                  "train { loss mse }\n")
    plan = lower(image)
    assert runs_on(plan) == ["reference", "cpu"]
    assert [t.shape for t in plan.layers[0].tensors] == [(2,)] * 4


def test_missing_kernel_golden(tmp_path: Path, no_cuda_image_kernels):
    path = tmp_path / "lenet.nn"
    path.write_text(LENET, encoding="utf-8")
    plan = lower(_spec(LENET, str(path)))
    with pytest.raises(DiagnosticError) as info:
        compile(plan, "cuda")
    (d,) = info.value.diagnostics
    text = render(d, LENET).replace(str(path), "lenet.nn") + "\n"
    golden = Path(__file__).resolve().parent / "golden" / "E506-kernels.stderr"
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_plan_layout_of_a_conv_model(tmp_path: Path, capsys):
    """`nnspec plan --layout` prints the Plan (windows as attrs) and the cpu layout, with
    each image node's geometry."""
    from nnspec.cli import main

    path = tmp_path / "lenet.nn"
    path.write_text(LENET, encoding="utf-8")
    assert main(["plan", str(path), "--layout"]) == 0
    out = capsys.readouterr().out
    assert "(6, 3, 3, 2)" in out and "kh 3, kw 2, sh 2, sw 1, pt 1, pl 0" in out
    assert "cpu layout for batches of 32" in out and "cpu layout: none" not in out
    assert ("   0  in 3x9x8 -> out 6x5x7, window 3x2 stride 2,1 padding 1,0 dilation 1,1"
            in out)
    assert "   5  in 4x2x3 -> out 4x1x1\n" in out  # the global pool
