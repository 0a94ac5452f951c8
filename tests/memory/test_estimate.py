"""memory.estimate: the buffers counted, by hand on a small spec, and against the cpu engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnspec.lower import lower
from nnspec.memory import run_estimate
from nnspec.memory.datasize import data_size
from nnspec.memory.estimate import (
    EVAL_ROWS,
    GX_KINDS,
    KEEP_COLS_MAX,
    SPLIT_MIN_WORK,
    WT_MAX_SIZE,
    WT_MIN_OUT,
    engine_threads,
    workspace_values,
)
from nnspec.pipeline import diagnose, load_spec

ROOT = Path(__file__).resolve().parents[2]

SMALL = """model m {
    input 2
    dense 4 tanh
    dense 1 sigmoid
}
data {
    source moons(samples=100)
    split validation=0.2
}
train {
    loss binary_crossentropy
    optimizer adam lr=0.01
    batch 16
    epochs 5
    metrics accuracy
    early_stop(monitor=val_loss, patience=3, restore_best=true)
}
"""


def checked(text: str, path: str = "m.nn"):
    spec, diags = diagnose(text, path)
    assert spec is not None, diags
    return spec


def test_breakdown_of_a_small_spec_by_hand() -> None:
    est, _ = run_estimate(checked(SMALL))
    # P = 2*4 + 4 + 4*1 + 1 = 17 parameters, float32 (4 bytes), adam keeps 3 x P
    expected = {
        "parameters": 17 * 4,
        "gradients": 17 * 4,
        "optimizer state": 3 * 17 * 4,
        "checkpoint copy": (17 + 3 * 17) * 4,
        "restore_best copy": 17 * 4,
        "saved weights": 2 * 17 * 4,
        # batches of 16: input 2 + targets 1, dense 4 tanh (z and a), dense 1 sigmoid (z and
        # a), two backward buffers of the widest (4) -> 16 * (3 + 8 + 2 + 8) = 336 values
        "activations": 336 * 4,
        # evaluation chunks of 80 (train) and 20 (validation) rows: 21 values per row
        "evaluation activations": (80 + 20) * 21 * 4,
        # 100 samples: x 2 x 4 bytes, y 1 x 4 bytes, row index 8 bytes
        "data splits": 100 * (8 + 4 + 8),
        # two int64 orders of 80, outputs for accuracy of 80 x 1 (float32 + float64)
        "per epoch": 2 * 8 * 80 + 80 * (4 + 8),
        # generated table: 100 x (2 features + 1 target) float64
        "data as read": 100 * 3 * 8,
        # 2 float64 copies of the 80 training rows x 2 features
        "scaling copies": 2 * 80 * 2 * 8,
        # 5 rows of 7 columns: epoch, loss, lr, time, val_loss, accuracy, val_accuracy
        "history": 5 * (120 + 108 * 7),
    }
    assert {i.name: i.bytes for i in est.items} == expected
    train = sum(v for k, v in expected.items()
                if k not in ("data as read", "scaling copies"))
    assert est.phase("train") == train == 19180
    assert est.phase("scale") == 2000 + 2400 + 2560
    assert est.phase("read") == 2400
    assert est.total == 19180 and est.peak_phase == "train"


def test_float64_and_sgd_without_state() -> None:
    text = SMALL.replace("optimizer adam lr=0.01", "optimizer sgd lr=0.1").replace(
        "    batch 16", "    batch 16\n    dtype float64")
    est, _ = run_estimate(checked(text))
    assert est.get("optimizer state") == 0
    assert est.get("parameters") == 17 * 8
    assert est.get("checkpoint copy") == 17 * 8


def test_no_data_block_counts_the_model_and_says_data_is_unknown() -> None:
    text = SMALL.split("data {")[0] + "train {\n    loss mse\n    batch 8\n}\n"
    est, _ = run_estimate(checked(text))
    assert est.get("parameters") == 17 * 4
    assert est.get("data splits") == 0
    assert any("unknown" in n for n in est.notes)


GRAPHS = [
    "model g {\n input 6\n dense 8 relu\n residual {\n  dense 8 relu\n  dense 8\n }\n"
    " dropout 0.2\n batchnorm\n dense 3 softmax\n}\n",
    "model g {\n input 5\n concat {\n  branch { dense 16 tanh }\n  branch { dense 4 relu }\n }\n"
    " head aux { dense 2 }\n activation relu\n dense 2\n}\n",
    "model g {\n input 40\n dense 300 relu\n dense 100\n dense 1\n}\n",
]


# image plans: padding (same with an even kernel), stride, dilation, a direct 1x1 conv2d,
# batchnorm per channel, pools, a graph whose pool's and conv2d's dL/dx are the widest; and
# a conv2d large enough to be split across the engine's threads at batch 32
IMAGES = [
    "model c {\n input 3 9 8\n conv2d 4 [4, 2] relu padding=same dilation=2\n"
    " conv2d 4 3 stride=[2, 1] padding=1\n"
    " batchnorm\n maxpool 2 padding=1\n conv2d 5 1\n avgpool 2 stride=1\n global_avgpool\n"
    " dense 3 softmax\n}\n",
    "model g {\n input 2 12 12\n concat {\n  branch { maxpool 3 stride=1 padding=1 }\n"
    "  branch { conv2d 6 3 tanh padding=1 }\n }\n conv2d 2 1 bias=false\n flatten\n"
    " dense 2\n}\n",
    "model big {\n input 8 64 64\n conv2d 32 3 relu padding=same\n global_avgpool\n"
    " dense 2\n}\n",
]


def _specs() -> list[str]:
    return [p.read_text() for p in sorted((ROOT / "specs").glob("*.nn"))] + GRAPHS + IMAGES


@pytest.mark.parametrize("text", _specs())
@pytest.mark.parametrize("rows", [1, 7, 32, 1024])
def test_workspace_is_what_the_cpu_engine_allocates(text: str, rows: int) -> None:
    """Image plans included: with the engine's own thread count, and with 1 and 4 threads
    (a split conv2d's per-thread scratch)."""
    from nnspec.backends.cpu import layout

    if "train {" not in text:
        text += "train {\n    loss mse\n}\n"
    spec, diags = diagnose(text, str(ROOT / "specs" / "x.nn"))
    assert spec is not None, diags
    plan = lower(spec)
    for threads in {layout.threads(), 1, 4}:
        layout._THREADS, saved = threads, layout._THREADS
        try:
            lay = layout.layout(plan, rows)
        finally:
            layout._THREADS = saved
        gws = lay.graph.gws_size if lay.graph is not None else 0
        assert workspace_values(plan, rows, threads) == lay.ws_size + 2 * lay.g_size + gws, \
            threads


def test_a_split_conv2d_counts_a_scratch_per_thread() -> None:
    spec = checked(IMAGES[2] + "train {\n    loss mse\n}\n")
    plan = lower(spec)
    one, four = workspace_values(plan, 32, 1), workspace_values(plan, 32, 4)
    # im2col (8*3*3 x 64*64) and the padded sample (8 x 66 x 66) per thread, and the partial
    # weight and bias gradients (32 x (72 + 1)) of the three other threads
    per_thread = 8 * 9 * 64 * 64 + 8 * 66 * 66
    assert four - one == 3 * per_thread + 3 * 32 * 73
    assert workspace_values(plan, 1, 4) == workspace_values(plan, 1, 1)  # one sample: serial
    assert workspace_values(plan, 32) == workspace_values(plan, 32, engine_threads())


def test_constants_follow_the_engine() -> None:
    from nnspec.backends.cpu import executable, layout
    from nnspec.run import warmup

    assert EVAL_ROWS == executable.EVAL_ROWS == warmup.EVAL_ROWS
    assert (WT_MIN_OUT, WT_MAX_SIZE) == (layout.WT_MIN_OUT, layout.WT_MAX_SIZE)
    assert KEEP_COLS_MAX == layout.KEEP_COLS_MAX
    assert SPLIT_MIN_WORK == layout.SPLIT_MIN_WORK and GX_KINDS == layout.GX_KINDS
    assert layout.threads() <= engine_threads()  # the estimate's bound


# ---- data sizes ---------------------------------------------------------------------------

CSV_SPEC = """model m {{
    input 3
    dense 1
}}
data {{ source csv("{name}", target=y) }}
train {{ loss mse }}
"""


def test_csv_rows_counted_exactly_when_small(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b,c,y\n" + "1,2,3,4\n" * 50 + "\n")
    spec = checked(CSV_SPEC.format(name="d.csv"), str(tmp_path / "m.nn"))
    size = data_size(spec, 3, 1)
    assert size is not None and size.samples == 50 and size.exact


def test_csv_rows_estimated_from_the_size_when_large(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30_000, 4)).round(rng.integers(1, 6))
    np.savetxt(tmp_path / "d.csv", x, fmt="%g", delimiter=",", header="a,b,c,y", comments="")
    spec = checked(CSV_SPEC.format(name="d.csv"), str(tmp_path / "m.nn"))
    size = data_size(spec, 3, 1)
    assert size is not None and not size.exact
    assert abs(size.samples - 30_000) < 0.1 * 30_000
    assert "estimated" in size.note


def test_npz_rows_from_the_array_header(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.zeros((1234, 3)), y=np.zeros(1234))
    text = CSV_SPEC.format(name="").replace('csv("", target=y)', 'npz("d.npz")')
    spec = checked(text, str(tmp_path / "m.nn"))
    size = data_size(spec, 3, 1)
    assert size is not None and size.samples == 1234 and size.exact
    assert size.raw == (tmp_path / "d.npz").stat().st_size
    np.savez_compressed(tmp_path / "d.npz", x=np.zeros((77, 3)), y=np.zeros(77))
    assert data_size(spec, 3, 1).samples == 77  # type: ignore[union-attr]


def test_missing_file_is_unknown_not_an_error(tmp_path: Path) -> None:
    spec = checked(CSV_SPEC.format(name="nope.csv"), str(tmp_path / "m.nn"))
    size = data_size(spec, 3, 1)
    assert size is not None and size.samples is None
    est, _ = run_estimate(spec)
    assert any("unknown" in n for n in est.notes)


def test_spec_files_estimate_without_error() -> None:
    for path in sorted((ROOT / "specs").glob("*.nn")):
        spec, _ = load_spec(path)
        assert spec is not None
        est, _ = run_estimate(spec)
        assert 0 < est.total < 10**9, path.name


def test_image_layers_are_counted_as_the_cpu_engine_lays_them_out() -> None:
    text = ("model c {\n    input 1 28 28\n    conv2d 8 3 relu\n    maxpool 2\n    flatten\n"
            "    dense 10 softmax\n}\ndata { source blobs(features=784, classes=10, "
            "samples=500) }\ntrain { loss categorical_crossentropy\n    batch 10 }\n")
    est, _ = run_estimate(checked(text))
    assert est.notes == ()
    # batches of 10: input 784 + targets 10; conv2d z and a 2 x 8*26*26 (its scratch, 9 x 676
    # + 784, independent of the batch: 10 samples x 8*9*676 is below the split threshold);
    # the batch's im2col kept for backward, 10 x 9*676; maxpool argmax and output
    # 2 x 8*13*13; dense z and a 2 x 10; backward buffers 2 x 5408
    values = 10 * (794 + 2 * 5408 + 9 * 676 + 2 * 1352 + 20 + 2 * 5408) + 9 * 676 + 784
    assert est.get("activations") == values * 4


def test_rows_from_what_check_read_and_no_file_opened_for_the_editor(tmp_path: Path) -> None:
    from types import SimpleNamespace

    spec = checked(CSV_SPEC.format(name="nope.csv"), str(tmp_path / "m.nn"))
    size = data_size(spec, 3, 1, {"source": SimpleNamespace(rows=4321, size=99)})
    assert size is not None and size.samples == 4321 and size.exact
    (tmp_path / "nope.csv").write_text("a,b,c,y\n1,2,3,4\n")
    size = data_size(spec, 3, 1, {}, read=False)  # the language server: facts not known yet
    assert size is not None and size.samples is None and "not been read" in size.note
    assert data_size(spec, 3, 1, {}).samples == 1  # type: ignore[union-attr]
