"""Image data: npz layouts, image folders (Pillow), the built-in digits and shapes, per-channel
scaling, and the diagnostics E421-E424, W117, W118 (rendered goldens in golden_images/;
NNSPEC_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from data_helpers import fails

from nnspec import ir
from nnspec.data import load_data, load_features, load_spec_data
from nnspec.data.errors import Where
from nnspec.data.generators import generate
from nnspec.data.images import image_rows, read_image_folder
from nnspec.data.scaling import Scaler
from nnspec.diagnostics import DiagnosticError, render
from nnspec.ops.sources import Digits, Images, Npz, Shapes
from nnspec.pipeline import diagnose

PIL = pytest.importorskip("PIL.Image")
ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden_images"
RNG = np.random.default_rng(7)
IMAGES_NHWC = RNG.normal(size=(6, 5, 4, 3))  # N=6 RGB images of 5x4 (H x W)
LABELS = np.array([0, 1, 0, 1, 1, 0])


def _load(src, shape, *, folder=".", task="multiclass", n_out=2, scale="none", **kw):
    data = ir.Data(source=src, scale=scale, **kw)
    n = int(np.prod(shape))
    return load_data(data, spec_dir=folder, seed=0, n_inputs=n, n_outputs=n_out, task=task,
                     dtype=np.float64, input_shape=tuple(shape))


def _savez(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)
    return path


# ----------------------------------------------------------------------------- npz layouts


@pytest.mark.parametrize("layout", ["auto", "nchw", "nhwc"])
def test_npz_layouts_give_the_same_chw_rows(tmp_path, layout):
    nchw = IMAGES_NHWC.transpose(0, 3, 1, 2)
    expected = nchw.reshape(6, -1)
    for name, x, fits in [("nchw", nchw, layout in ("auto", "nchw")),
                          ("nhwc", IMAGES_NHWC, layout in ("auto", "nhwc")),
                          ("flat", expected, True)]:
        path = _savez(tmp_path / f"{name}.npz", x=x, y=LABELS)
        src = Npz(path=str(path), layout=layout)
        if not fits:
            diag = fails("E421", _load, src, (3, 5, 4))
            assert f"layout={name}" in " ".join(diag.hints)  # the other layout fits
            continue
        ds = _load(src, (3, 5, 4))
        np.testing.assert_array_equal(ds.train.x, expected)
        assert ds.warnings == ()


def test_npz_one_channel_images(tmp_path):
    gray = RNG.normal(size=(6, 5, 4))
    ds = _load(Npz(path=str(_savez(tmp_path / "g.npz", x=gray, y=LABELS))), (1, 5, 4))
    np.testing.assert_array_equal(ds.train.x, gray.reshape(6, 20))
    ds = _load(Npz(path=str(_savez(tmp_path / "g1.npz", x=gray[..., None], y=LABELS))),
               (1, 5, 4))  # (N, H, W, 1): NHWC
    np.testing.assert_array_equal(ds.train.x, gray.reshape(6, 20))


def test_ambiguous_layout_is_assumed_nchw_and_said(tmp_path):
    cube = RNG.normal(size=(6, 3, 3, 3))
    path = _savez(tmp_path / "cube.npz", x=cube, y=LABELS)
    ds = _load(Npz(path=str(path)), (3, 3, 3))
    [w] = ds.warnings
    assert w.code == "W117" and "could as well be (H, W, C)" in w.message
    np.testing.assert_array_equal(ds.train.x, cube.reshape(6, -1))
    ds = _load(Npz(path=str(path), layout="nhwc"), (3, 3, 3))
    assert ds.warnings == ()
    np.testing.assert_array_equal(ds.train.x, cube.transpose(0, 3, 1, 2).reshape(6, -1))


@pytest.mark.parametrize("x, shape, says", [
    (RNG.normal(size=(6, 5, 4)), (3, 5, 4), "`input 1 5 4`"),  # grey images, RGB model
    (RNG.normal(size=(6, 5, 4, 3)), (3, 4, 5), "`input 3 5 4`"),  # H and W swapped
    (RNG.normal(size=(6, 5, 4, 3)), (60,), "`input 3 5 4`"),  # a flat model input
    (RNG.normal(size=(6, 2, 5, 4, 3)), (3, 5, 4), "(N, H, W), (N, C, H, W) or (N, H, W, C)"),
])
def test_image_array_that_does_not_fit_is_E421(tmp_path, x, shape, says):
    path = _savez(tmp_path / "x.npz", x=x, y=LABELS)
    diag = fails("E421", _load, Npz(path=str(path)), shape)
    assert says in " ".join(diag.hints)


def test_image_rows_leave_2d_features_alone():
    x = RNG.normal(size=(4, 7))
    rows, warns = image_rows(x, (7,), "auto", "x.npz", Where())
    assert rows is x and warns == []


# ----------------------------------------------------------------------------- folders


def _folder(root: Path, *, size=(6, 5), mode="RGB") -> Path:
    rng = np.random.default_rng(3)
    for cls, level in (("dog", 200), ("cat", 40)):
        for i in range(3):
            shape = (*size, 3) if mode == "RGB" else size
            _png(root / cls / f"{i}.png", np.full(shape, level) + rng.integers(0, 20, shape))
    return root


def test_image_folder_reads_classes_in_sorted_order(tmp_path):
    root = _folder(tmp_path / "pets")
    ds = _load(Images(path="pets"), (3, 6, 5), folder=tmp_path)
    assert ds.classes == ["cat", "dog"]
    table = read_image_folder("pets", tmp_path, Where(), "source", size=None, grayscale=False)
    assert table.shape == (3, 6, 5) and table.x.shape == (6, 90)
    assert list(table.y) == ["cat"] * 3 + ["dog"] * 3
    first = np.asarray(PIL.open(root / "cat" / "0.png"), dtype=np.float64)
    np.testing.assert_array_equal(table.x[0], first.transpose(2, 0, 1).reshape(-1))
    assert table.locate(3).endswith("pets/dog/0.png")
    assert ds.files[0].path == "pets" and len(ds.files[0].sha256) == 64


def test_image_folder_grayscale_and_resize(tmp_path):
    _folder(tmp_path / "pets", size=(12, 10))
    table = read_image_folder("pets", tmp_path, Where(), "source", size=(6, 5), grayscale=True)
    assert table.shape == (1, 6, 5) and table.x.shape == (6, 30)
    assert table.x[:3].mean() < 80 < table.x[3:].mean()  # cats dark, dogs bright
    ds = _load(Images(path="pets", size=(6, 5), grayscale=True), (1, 6, 5), folder=tmp_path)
    assert ds.layout == {"format": "images", "size": [6, 5], "grayscale": True,
                         "classes": ["cat", "dog"]}


def test_image_folder_shape_must_fit_the_input(tmp_path):
    _folder(tmp_path / "pets")
    diag = fails("E421", _load, Images(path="pets"), (1, 6, 5), folder=tmp_path)
    assert "`input 3 6 5`" in diag.hints[0] and "size=" in diag.hints[0]
    ds = _load(Images(path="pets"), (90,), folder=tmp_path)  # a flat input of the same size
    assert ds.train.x.shape == (6, 90)


def test_other_files_are_skipped_with_W118(tmp_path):
    root = _folder(tmp_path / "pets")
    (root / "README.txt").write_text("about")
    (root / "cat" / "notes.md").write_text("x")
    (root / "cat" / ".DS_Store").write_bytes(b"\0")  # hidden: skipped silently
    ds = _load(Images(path="pets"), (3, 6, 5), folder=tmp_path)
    [w] = ds.warnings
    assert w.code == "W118" and "2 files" in w.message
    assert "README.txt" in w.message and "cat/notes.md" in w.message and ".DS_Store" not in \
        w.message
    assert len(ds.train) == 6


def test_unreadable_image_is_E422_naming_the_file(tmp_path):
    root = _folder(tmp_path / "pets")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    diag = fails("E422", _load, Images(path="pets"), (3, 6, 5), folder=tmp_path)
    assert "pets/dog/broken.png" in diag.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_in_the_folder_is_refused_E413(tmp_path):
    root = _folder(tmp_path / "pets")
    os.mkfifo(root / "cat" / "pipe.png")
    diag = fails("E413", _load, Images(path="pets"), (3, 6, 5), folder=tmp_path)
    assert "pipe.png" in diag.message and "named pipe" in diag.message


def test_folder_problems_are_E423(tmp_path):
    flat = tmp_path / "flat"
    _png(flat / "a.png", np.zeros((6, 5, 3)))
    assert "no class subfolders" in fails("E423", _load, Images(path="flat"), (3, 6, 5),
                                          folder=tmp_path).message
    root = _folder(tmp_path / "pets")
    (root / "emu").mkdir()
    assert "`" + (root / "emu").as_posix() + "` holds no images" in fails(
        "E423", _load, Images(path="pets"), (3, 6, 5), folder=tmp_path).message
    (root / "emu").rmdir()
    _png(root / "dog" / "big.png", np.zeros((7, 5, 3)))
    diag = fails("E423", _load, Images(path="pets"), (3, 6, 5), folder=tmp_path)
    assert "big.png" in diag.message and "size=[6, 5]" in diag.hints[0]
    (tmp_path / "file.png").write_bytes(b"")
    assert "is not a folder" in fails("E423", _load, Images(path="file.png"), (3, 6, 5),
                                      folder=tmp_path).message
    fails("E401", _load, Images(path="nowhere"), (3, 6, 5), folder=tmp_path)


def test_missing_pillow_is_E424(tmp_path, monkeypatch):
    _folder(tmp_path / "pets")
    monkeypatch.setitem(sys.modules, "PIL", None)
    diag = fails("E424", _load, Images(path="pets"), (3, 6, 5), folder=tmp_path)
    assert list(diag.hints) == ["pip install pillow"]


def test_check_accepts_an_image_folder_and_pillow_is_not_imported(tmp_path):
    _folder(tmp_path / "pets")
    text = ('model m {\n    input 3 6 5\n    flatten\n    dense 2 softmax\n}\ndata {\n'
            '    source images("pets")\n}\ntrain {\n    loss categorical_crossentropy\n}\n')
    spec, diagnostics = diagnose(text, str(tmp_path / "m.nn"), require_data=True)
    assert diagnostics == [] and spec is not None
    assert spec.data.source.is_folder and not spec.data.source.is_file


# ----------------------------------------------------------------------------- built-ins


def test_digits_is_the_shipped_csv():
    csv = np.loadtxt(ROOT / "specs" / "data" / "digits.csv", delimiter=",", skiprows=1)
    flat = generate(Digits(), 0)
    image = generate(Digits(image=True), 0)
    np.testing.assert_array_equal(flat.x, csv[:, :64])
    np.testing.assert_array_equal(flat.y, csv[:, 64])
    np.testing.assert_array_equal(image.x, flat.x)
    assert flat.shape is None and image.shape == (1, 8, 8)
    assert image.feature_names[9] == "pixel_1_1"


def test_digits_as_images_needs_that_input():
    fails("E421", _load, Digits(image=True), (1, 4, 16), n_out=10)
    ds = _load(Digits(image=True), (1, 8, 8), n_out=10, scale="standardize")
    assert ds.input_shape == (1, 8, 8) and ds.scaler.channels == 1
    assert ds.warnings == ()  # no W105 for blank border pixels of an image


def test_shapes_are_seeded_balanced_and_in_range():
    a = generate(Shapes(samples=42, noise=0.0, size=12), 5)
    b = generate(Shapes(samples=42, noise=0.0, size=12), 5)
    c = generate(Shapes(samples=42, noise=0.0, size=12), 6)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    assert a.shape == (1, 12, 12) and a.x.shape == (42, 144)
    assert np.bincount(a.y.astype(int)).tolist() == [11, 11, 10, 10]
    assert a.x.min() >= 0.0 and a.x.max() == 1.0
    noisy = generate(Shapes(samples=42, noise=0.3, size=12), 5)
    assert 0.2 < float(np.std(noisy.x - a.x)) < 0.4  # the same shapes, noise added
    # each image holds a stroke, and the classes differ on average (a circle has no corners)
    assert (a.x.reshape(42, -1).max(axis=1) == 1.0).all()
    means = [a.x[a.y == k].mean(axis=0) for k in range(4)]
    assert min(np.abs(means[i] - means[j]).sum() for i in range(4) for j in range(i)) > 1.0


def test_shapes_default_size_is_28():
    t = generate(Shapes(samples=8), 0)
    assert t.shape == (1, 28, 28)


# ----------------------------------------------------------------------------- scaling


def test_per_channel_standardize_and_normalize():
    x = RNG.normal(size=(10, 2, 3, 3)) * np.array([1.0, 10.0])[None, :, None, None] \
        + np.array([0.0, 50.0])[None, :, None, None]
    rows = x.reshape(10, -1)
    s = Scaler.fit("standardize", rows, channels=2)
    np.testing.assert_allclose(s.stats["mean"], [x[:, 0].mean(), x[:, 1].mean()])
    np.testing.assert_allclose(s.stats["std"], [x[:, 0].std(), x[:, 1].std()])
    out = s.apply(rows).reshape(10, 2, 3, 3)
    np.testing.assert_allclose([out[:, 0].mean(), out[:, 1].mean()], [0, 0], atol=1e-12)
    np.testing.assert_allclose([out[:, 0].std(), out[:, 1].std()], [1, 1])
    n = Scaler.fit("normalize", rows, channels=2)
    out = n.apply(rows).reshape(10, 2, 3, 3)
    assert [out[:, k].min() for k in (0, 1)] == [0.0, 0.0]
    np.testing.assert_allclose([out[:, k].max() for k in (0, 1)], [1.0, 1.0])
    for scaler in (s, n):
        d = json.loads(json.dumps(scaler.to_dict()))
        assert d["channels"] == 2 and len(next(v for k, v in d.items() if k in ("mean", "min")))\
            == 2
        np.testing.assert_array_equal(Scaler.from_dict(d).apply(rows), scaler.apply(rows))
    assert s.stat("std", 8) == s.stats["std"][0] and s.stat("std", 9) == s.stats["std"][1]


def test_image_input_scales_per_channel_flat_input_per_column(tmp_path):
    path = _savez(tmp_path / "i.npz", x=IMAGES_NHWC * 5 + 3, y=LABELS)
    image = _load(Npz(path=str(path)), (3, 5, 4), scale="standardize")
    assert image.scaler.channels == 3 and image.schema()["scaler"]["channels"] == 3
    assert len(image.schema()["scaler"]["mean"]) == 3
    assert image.schema()["input_shape"] == [3, 5, 4]
    flat = _savez(tmp_path / "f.npz", x=(IMAGES_NHWC * 5 + 3).reshape(6, -1), y=LABELS)
    plain = _load(Npz(path=str(flat)), (60,), scale="standardize")
    assert plain.scaler.channels is None and len(plain.schema()["scaler"]["mean"]) == 60
    assert plain.schema()["input_shape"] is None


# ----------------------------------------------------------------------------- predict


def test_load_features_reads_a_folder_and_an_npz_of_images(tmp_path):
    root = _folder(tmp_path / "pets")
    ds = _load(Images(path="pets"), (3, 6, 5), folder=tmp_path, scale="normalize")
    schema = json.loads(json.dumps(ds.schema()))
    labeled = load_features(root, schema, dtype=np.float64)
    np.testing.assert_array_equal(labeled.y, [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(labeled.x, ds.scaler.apply(labeled.raw))
    plain = load_features(root / "dog", schema, dtype=np.float64)  # no class subfolders
    assert plain.y is None and plain.table.locator.files[0].endswith("dog/0.png")
    np.testing.assert_array_equal(plain.x, labeled.x[3:])
    nhwc = labeled.raw.reshape(6, 3, 6, 5).transpose(0, 2, 3, 1)
    arrays = load_features(_savez(tmp_path / "p.npz", x=nhwc), schema, dtype=np.float64)
    np.testing.assert_array_equal(arrays.x, labeled.x)


def test_predict_prints_the_class_names_of_an_image_folder(tmp_path, capsys):
    from nnspec.cli import main

    _folder(tmp_path / "pets")
    spec = tmp_path / "pets.nn"
    spec.write_text('model pets {\n    input 3 6 5\n    conv2d 2 3 relu padding=same\n'
                    '    global_avgpool\n    dense 2 softmax\n}\ndata {\n'
                    '    source images("pets")\n    normalize\n}\ntrain {\n'
                    '    loss categorical_crossentropy\n    epochs 2\n    seed 1\n}\n')
    assert main(["run", str(spec), "--backend", "reference", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    saved = json.loads((tmp_path / "r" / "data.json").read_text())
    assert saved["classes"] == ["cat", "dog"] and saved["scaler"]["channels"] == 3
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "r"), str(tmp_path / "pets" / "cat")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "file,class,p_cat,p_dog"
    assert lines[1].startswith((tmp_path / "pets" / "cat" / "0.png").as_posix() + ",")
    assert len(lines) == 4 and all(line.split(",")[1] in ("cat", "dog") for line in lines[1:])


# ----------------------------------------------------------------------------- goldens

SPEC = """model m {{
    input {shape}
    flatten
    dense {units} softmax
}}
data {{
    source {source}
}}
train {{
    loss categorical_crossentropy
}}
"""


def _render(tmp: Path, code: str, shape: str, source: str, units: int = 2) -> str:
    text = SPEC.format(shape=shape, source=source, units=units)
    spec, diagnostics = diagnose(text, "proj/model.nn", require_data=True)
    assert spec is not None, diagnostics
    if code.startswith("W"):
        ds = load_spec_data(spec)
        [w] = [w for w in ds.warnings if w.code == code]
        return render(w, text)
    with pytest.raises(DiagnosticError) as info:
        load_spec_data(spec)
    [diag] = info.value.diagnostics
    assert diag.code == code, (diag.code, diag.message)
    assert diag.path == "proj/model.nn" and diag.span is not None
    return render(diag, text)


def _renders(tmp: Path, monkeypatch) -> dict[str, list[str]]:
    monkeypatch.chdir(tmp)
    proj = tmp / "proj"
    proj.mkdir()
    _savez(proj / "nhwc.npz", x=IMAGES_NHWC, y=LABELS)
    _savez(proj / "cube.npz", x=RNG.normal(size=(6, 3, 3, 3)), y=LABELS)
    _folder(proj / "pets")
    _png(proj / "flat" / "a.png", np.zeros((6, 5, 3)))
    (proj / "pets" / "notes.txt").write_text("x")
    out = {
        "E421": [_render(tmp, "E421", "1 5 4", 'npz("nhwc.npz")'),
                 _render(tmp, "E421", "1 4 16", "digits(image=true)", 10)],
        "E423": [_render(tmp, "E423", "3 6 5", 'images("flat")')],
        "W117": [_render(tmp, "W117", "3 3 3", 'npz("cube.npz")')],
        "W118": [_render(tmp, "W118", "3 6 5", 'images("pets")')],
    }
    (proj / "pets" / "cat" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out["E422"] = [_render(tmp, "E422", "3 6 5", 'images("pets")')]
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "PIL", None)
        out["E424"] = [_render(tmp, "E424", "3 6 5", 'images("pets")')]
    return out


GOLDEN_CODES = ["E421", "E422", "E423", "E424", "W117", "W118"]


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        return _renders(tmp_path_factory.mktemp("img"), mp)


@pytest.mark.parametrize("code", GOLDEN_CODES)
def test_golden_render(code, renders):
    text = "\n\n".join(renders[code]) + "\n"
    path = GOLDEN / f"{code}.stderr"
    if os.environ.get("NNSPEC_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path.name}; run with NNSPEC_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_every_golden_file_has_cases():
    assert sorted(p.stem for p in GOLDEN.glob("*.stderr")) == GOLDEN_CODES


def test_check_reads_an_npz_of_images_by_its_size(tmp_path):
    """`check` reads the file before it knows the model (data.facts): images count by their
    size there; the layout is `run`'s to judge (E421, above)."""
    _savez(tmp_path / "i.npz", x=IMAGES_NHWC, y=LABELS)
    text = ('model m {{\n    input {shape}\n    flatten\n    dense 2 softmax\n}}\ndata {{\n'
            '    source npz("i.npz")\n}}\ntrain {{\n    loss categorical_crossentropy\n}}\n')
    spec, diagnostics = diagnose(text.format(shape="3 5 4"), str(tmp_path / "m.nn"),
                                 require_data=True, read_data=True)
    assert diagnostics == [] and spec is not None
    _, diagnostics = diagnose(text.format(shape="1 5 4"), str(tmp_path / "m.nn"),
                              require_data=True, read_data=True)
    assert [d.code for d in diagnostics] == ["E405"]
