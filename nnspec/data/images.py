"""data.images: image arrays (npz) and image folders + the model's input shape -> rows.

A sample of a model with `input C H W` is one row of C*H*W values in (C, H, W) row-major
order (what `flatten` and the conv layers read). This module turns the image layouts users
have into such rows:

- arrays (`npz`, or `nnspec predict` on an .npz): (N, F) rows pass through unchanged; (N, H, W)
  is one channel (C must be 1); (N, C, H, W) is NCHW (PyTorch), (N, H, W, C) NHWC (Keras,
  PIL, matplotlib) and is transposed. Which of the two a 4-D array is follows from the
  declared input: the one that matches it. Both match only when C = H = W: NCHW is then
  assumed and said (W117); the source's `layout=` option settles it. None matching is E421
  at the source statement, with the `input` that would fit the array.
- folders (`images(...)`): one subfolder per class, read with Pillow (imported only here, and
  only when a folder is read: E424 when it is missing). Regular files only (E413 for a FIFO
  or a device inside the folder, as for any data file); an image Pillow cannot decode is E422
  naming the file; a folder without class subfolders, a class without images, or images of
  different sizes without `size=` is E423. Hidden files are skipped; files of other types
  are skipped with W118 naming them.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspec.data.dataset import FileInfo, Table
from nnspec.data.errors import Where, listing
from nnspec.data.files import NotRegular, open_regular, refusal, resolve
from nnspec.diagnostics import Diagnostic

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm", ".pnm")


def pixel_names(shape: tuple[int, ...]) -> list[str]:
    """Feature names of an image's values: `pixel_<h>_<w>` for one channel (as digits.csv),
    `pixel_<c>_<h>_<w>` for several."""
    c, h, w = shape
    if c == 1:
        return [f"pixel_{i}_{j}" for i in range(h) for j in range(w)]
    return [f"pixel_{k}_{i}_{j}" for k in range(c) for i in range(h) for j in range(w)]


def _dims(shape: Iterable[int]) -> str:
    return " ".join(str(d) for d in shape)


def _guess_input(sample: tuple[int, ...]) -> str:
    """The `input` statement that would read one sample of this array shape."""
    if len(sample) == 2:
        return f"input 1 {_dims(sample)}"
    a, b, c = sample
    if c in (1, 3, 4) and a not in (1, 3, 4):
        return f"input {c} {a} {b}"  # channels last
    return f"input {a} {b} {c}"


def image_rows(x: np.ndarray, shape: tuple[int, ...] | None, layout: str, shown: str,
               where: Where) -> tuple[np.ndarray, list[Diagnostic]]:
    """x as (N, C*H*W) rows in (C, H, W) order for a model whose input is `shape`;
    `layout`: auto | nchw | nhwc. 1-D and 2-D arrays are returned as they are (read as
    features). shape None: the model is not known (what `check` reads from a file before
    the model, data.facts): images are flattened as stored, so only their size counts."""
    if x.ndim <= 2:
        return x, []
    sample = tuple(int(d) for d in x.shape[1:])
    if shape is None and x.ndim <= 4:
        return np.ascontiguousarray(x).reshape(x.shape[0], -1), []
    if x.ndim > 4 or shape is None or len(shape) != 3:
        declared = ("" if shape is None else
                    f" but the model's input is `input {_dims(shape)}`, not an image")
        hint = (f"declare the image shape in the model: `{_guess_input(sample)}`"
                if x.ndim <= 4 else "store images as (N, H, W), (N, C, H, W) or (N, H, W, C)")
        where.fail("E421", f"`{shown}`: features are an array of shape {tuple(x.shape)}: "
                   f"{x.ndim - 1}-D samples{declared}", label="image shape",
                   notes=["an image source gives samples of shape (C, H, W)"], hints=[hint])
    c, h, w = shape
    n = x.shape[0]
    if x.ndim == 3:
        if c == 1 and sample == (h, w):
            return x.reshape(n, h * w), []
        where.fail("E421", f"`{shown}`: features have shape {tuple(x.shape)}, one-channel images "
                   f"of {sample[0]}x{sample[1]}, but the model's input is `input {_dims(shape)}`",
                   label="image shape",
                   notes=[f"for `input {_dims(shape)}` the array must be "
                          + (f"({n}, {h}, {w}), " if c == 1 else "")
                          + f"({n}, {c}, {h}, {w}) or ({n}, {h}, {w}, {c})"],
                   hints=[f"write `{_guess_input(sample)}` in the model"])
    nchw, nhwc = sample == (c, h, w), sample == (h, w, c)
    warnings: list[Diagnostic] = []
    if layout == "auto" and nchw and nhwc:
        warnings.append(where.warn(
            "W117", f"`{shown}`: images of shape {sample} read as (C, H, W) = {sample}: they "
            "could as well be (H, W, C)", label="layout assumed",
            notes=["with C = H = W the declared input cannot tell the two layouts apart"],
            hints=["say which it is: `layout=nchw` (PyTorch) or `layout=nhwc` (Keras, PIL)"]))
    use = {"auto": "nchw" if nchw else "nhwc" if nhwc else None,
           "nchw": "nchw" if nchw else None, "nhwc": "nhwc" if nhwc else None}[layout]
    if use is None:
        expected = {"auto": f"({n}, {c}, {h}, {w}) (NCHW) or ({n}, {h}, {w}, {c}) (NHWC)",
                    "nchw": f"({n}, {c}, {h}, {w}) (layout=nchw)",
                    "nhwc": f"({n}, {h}, {w}, {c}) (layout=nhwc)"}[layout]
        other = {"nchw": nhwc, "nhwc": nchw}.get(layout, False)
        hints = ([f"the array fits the other layout: `layout={'nhwc' if nhwc else 'nchw'}`"]
                 if other else [f"write `{_guess_input(sample)}` in the model, or store the "
                                f"images as {expected}"])
        where.fail("E421", f"`{shown}`: features have shape {tuple(x.shape)}, which does not fit "
                   f"the model's `input {_dims(shape)}`", label="image shape",
                   notes=[f"expected {expected}"], hints=hints)
    if use == "nhwc":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x).reshape(n, c * h * w), warnings


# ----------------------------------------------------------------------------- folders


@dataclass
class FileLocator:
    """Where sample i of an image folder came from: its file."""

    files: list[str]
    shape: tuple[int, int, int]

    def target(self, i: int) -> str:
        return self.files[i]

    def feature(self, i: int, j: int) -> str:
        c, h, w = np.unravel_index(j, self.shape)
        return f"{self.files[i]}: channel {c}, pixel ({h}, {w})"

    def features(self, cells: Iterable[tuple[int, int]]) -> list[str]:
        return [self.feature(i, j) for i, j in cells]


def _pillow(where: Where) -> Any:
    try:
        from PIL import Image
    except ImportError:
        where.fail("E424", "reading images needs Pillow, which is not installed",
                   label="needs Pillow", hints=["pip install pillow"])
    return Image


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.iterdir(), key=lambda p: p.name)


def _class_folders(root: Path, shown: str, where: Where, labeled: bool | None
                   ) -> tuple[list[str], list[Path], list[str]]:
    """(class names, the files of each class in order with their class index, skipped)."""
    skipped: list[str] = []
    entries = [p for p in _entries(root) if not p.name.startswith(".")]
    classes = [p.name for p in entries if p.is_dir()]
    if labeled is None:
        labeled = bool(classes)
    if not labeled:
        return [], [p for p in entries if not p.is_dir()], skipped
    if not classes:
        where.fail("E423", f"`{shown}` has no class subfolders: images() reads one subfolder "
                   "per class", label="bad image folder",
                   notes=["e.g. data/cat/1.png, data/cat/2.png, data/dog/1.png: classes `cat` "
                          "and `dog`"],
                   hints=["move each class's images into a folder named after the class"])
    skipped += [p.name for p in entries if not p.is_dir()]
    files: list[Path] = []
    for name in classes:
        found = []
        for dirpath, dirnames, filenames in os.walk(root / name):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found += [Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".")]
        images = [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES]
        skipped += [p.relative_to(root).as_posix() for p in found
                    if p.suffix.lower() not in IMAGE_SUFFIXES]
        if not images:
            where.fail("E423", f"class folder `{shown}/{name}` holds no images",
                       label="bad image folder",
                       notes=[f"image files end in {', '.join(IMAGE_SUFFIXES)}"],
                       hints=["add images to it, or remove the folder (each subfolder is a "
                              "class)"])
        files += images
    return classes, files, skipped


def _read_bytes(path: Path, shown: str, where: Where) -> bytes:
    try:
        fd = open_regular(path)
    except NotRegular as e:
        message, label, hints = refusal(shown, e.kind)
        where.fail("E413", message, label=label, hints=hints)
    except OSError as e:
        where.fail("E422", f"cannot read image `{shown}`: {e.strerror or e}",
                   label="unreadable image")
    try:
        parts = []
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
        return b"".join(parts)
    except OSError as e:
        where.fail("E422", f"cannot read image `{shown}`: {e.strerror or e}",
                   label="unreadable image")
    finally:
        os.close(fd)


def _decode(image_mod: Any, blob: bytes, shown: str, grayscale: bool,
            size: tuple[int, int] | None, where: Where) -> np.ndarray:
    """One image as float64 (C, H, W), values 0..255."""
    try:
        with image_mod.open(io.BytesIO(blob)) as im:
            im.load()
            im = im.convert("L" if grayscale else "RGB")
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), image_mod.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.float64)
    except (OSError, ValueError, SyntaxError, image_mod.DecompressionBombError) as e:
        # UnidentifiedImageError's text names the BytesIO object (an address): say it plainly
        reason = ("no image format Pillow knows" if type(e).__name__ == "UnidentifiedImageError"
                  else str(e) or type(e).__name__)
        where.fail("E422", f"`{shown}` is not an image Pillow can read: {reason}",
                   label="unreadable image",
                   hints=["remove or replace the file (or convert it to PNG)"])
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def read_image_folder(path: str, base: Path | str, where: Where, role: str, *,
                      size: tuple[int, int] | None, grayscale: bool,
                      labeled: bool | None = True) -> Table:
    """The images under `path` as a Table: x (N, C*H*W) float64 0..255, y the class (folder)
    names as strings (empty (N, 0) when unlabeled). labeled=None: class subfolders when
    there are any, else the images directly in the folder (predict)."""
    root = resolve(path, base)
    shown = root.as_posix().rstrip("/") or "/"
    if not root.exists():
        where.fail("E401", f"image folder `{path}` not found", label="folder not found",
                   notes=[f"looked for {shown}"],
                   hints=[] if role == "input" else
                   [f"paths are relative to the spec's folder ({Path(base).as_posix()})"])
    if not root.is_dir():
        where.fail("E423", f"`{path}` is not a folder: images() reads a folder with one "
                   "subfolder per class", label="bad image folder",
                   hints=["for an array of images use npz(\"file.npz\", x=images, y=labels)"])
    image_mod = _pillow(where)
    classes, files, skipped = _class_folders(root, shown, where, labeled)
    skipped += [p.name for p in files if not classes and p.suffix.lower() not in IMAGE_SUFFIXES]
    if not classes:
        files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            where.fail("E412", f"`{shown}` holds no images", label="empty data set",
                       notes=[f"image files end in {', '.join(IMAGE_SUFFIXES)}"])
    digest = hashlib.sha256()
    arrays, labels, names, total = [], [], [], 0
    first: tuple[str, tuple[int, ...]] | None = None
    for p in files:
        rel = p.relative_to(root).as_posix()
        name = f"{shown}/{rel}"
        blob = _read_bytes(p, name, where)
        total += len(blob)
        digest.update(rel.encode() + b"\0" + hashlib.sha256(blob).digest())
        a = _decode(image_mod, blob, name, grayscale, size, where)
        if first is None:
            first = (name, a.shape)
        elif a.shape != first[1]:
            where.fail("E423", f"`{name}` is {a.shape[2]}x{a.shape[1]} pixels but "
                       f"`{first[0]}` is {first[1][2]}x{first[1][1]}", label="image sizes differ",
                       hints=[f"give every image one size: `size=[{first[1][1]}, "
                              f"{first[1][2]}]` resizes them as they are read"])
        arrays.append(a)
        labels.append(rel.split("/", 1)[0])
        names.append(name)
    assert first is not None
    shape = first[1]
    x = np.stack(arrays).reshape(len(arrays), -1)
    y = np.array(labels) if classes else np.zeros((len(x), 0))
    warnings = []
    if skipped:
        n = len(skipped)
        where_read = "class subfolders" if classes else "the folder"
        warnings.append(where.warn(
            "W118", f"{n} file{'s' if n != 1 else ''} in `{shown}` skipped (not an image in "
            f"{where_read}): {listing(skipped, 5)}", label="files skipped",
            notes=[f"images are read from {where_read}, by suffix: "
                   f"{', '.join(IMAGE_SUFFIXES)}"]))
    info = FileInfo(role, path, shown, digest.hexdigest(), total)
    c, h, w = shape
    layout = {"format": "images", "size": [h, w], "grayscale": grayscale,
              "classes": classes}
    return Table(x, y, pixel_names((c, h, w)), ["class"], info,
                 FileLocator(names, (c, h, w)), layout, warnings, shape=(c, h, w))
