"""ops.sources: where the data comes from: files (csv, npz, image folders) and seeded
built-in generators.

Relative paths resolve against the spec file's folder. A built-in's `seed` defaults to the
spec's seed. `declared_features()` / `declared_shape()` / `declared_target()` state what the
source declares before any data is read, so check/ can compare them with the model's `input`
and output layer.
`is_file`: the source's `path` names one data file (check refuses a folder or FIFO there);
`is_folder`: it names a folder (images).

Images are samples of shape (C, H, W), kept as rows of C*H*W values in that (row-major) order,
as `input C H W` reads them; the model's input must be that shape, or its flat size.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from nnspec.ops.base import Op, registry, union

# declared_target(): ("binary", 2) | ("multiclass", K) | ("regression", n_targets) | None (unknown)
Target = tuple[str, int]


class Source(Op):
    family: ClassVar[str] = "source"
    is_file: ClassVar[bool] = False
    is_folder: ClassVar[bool] = False

    def declared_features(self) -> int | None:
        return None

    def declared_shape(self) -> tuple[int, ...] | None:
        """The shape of one sample, as `input` would state it: (F,) or (C, H, W)."""
        n = self.declared_features()
        return None if n is None else (n,)

    def declared_target(self) -> Target | None:
        return None

    def declared_vocab(self) -> int | None:
        """The number of token ids a text source gives (None: not a token source)."""
        return None


class Csv(Source):
    """A CSV file: one row per sample; the target column by name (header) or 0-based index;
    features: the listed columns, default all others. Non-numeric targets are class labels,
    mapped to indices in sorted order (the mapping is saved with the run)."""

    kind: Literal["csv"] = "csv"
    is_file: ClassVar[bool] = True
    path: str = Field(description="path to the file, relative to the spec")
    target: str | int = Field(description="target column: name (with a header) or 0-based index")
    features: tuple[str | int, ...] | None = Field(None, description="feature columns "
                                                   "(default: every column but the target)")
    header: bool = Field(True, description="whether the first row holds column names")
    delimiter: str = Field(",", min_length=1, max_length=1, description="field separator")


class Npz(Source):
    """A NumPy .npz archive with a feature array and a target array (N or N x K). Features
    are a matrix (N, F), or images for a model with `input C H W`: (N, H, W) when C is 1,
    (N, C, H, W) or (N, H, W, C). The layout is told from the declared input: the one whose
    shape matches is used; when both match (C = H = W) NCHW is assumed and said (W117,
    `layout=` settles it); when none does, E421 at the source."""

    kind: Literal["npz"] = "npz"
    is_file: ClassVar[bool] = True
    path: str = Field(description="path to the file, relative to the spec")
    x: str = Field("x", description="name of the feature array")
    y: str = Field("y", description="name of the target array")
    layout: Literal["auto", "nchw", "nhwc"] = Field(
        "auto", description="how a 4-D image array is ordered: auto (from the model's input), "
        "nchw (N, C, H, W) or nhwc (N, H, W, C)")


class Images(Source):
    """A folder of images with one subfolder per class (as Keras' image_dataset_from_directory):
    `folder/cat/1.png`, `folder/dog/7.jpg`, ...; class names are the subfolder names in sorted
    order (saved with the run: `predict` prints them). Files are read with Pillow (png, jpg,
    bmp, gif, tiff, webp, ppm/pgm), converted to grayscale (1 channel) or RGB (3 channels,
    alpha dropped) and resized to `size` (bilinear); without `size` every image must have the
    size of the first. Pixel values are 0..255. Hidden files are skipped, files of other types
    skipped with W118; an image Pillow cannot read is E422 naming it; a FIFO or device in the
    folder is refused (E413)."""

    kind: Literal["images"] = "images"
    is_folder: ClassVar[bool] = True
    path: str = Field(description="path to the folder, relative to the spec")
    size: tuple[int, int] | None = Field(
        None, description="[height, width] every image is resized to (default: as read, all "
        "of one size)")
    grayscale: bool = Field(False, description="one channel (luminance) instead of three (RGB)")

    def declared_features(self) -> int | None:
        if self.size is None:
            return None
        return (1 if self.grayscale else 3) * self.size[0] * self.size[1]

    def declared_shape(self) -> tuple[int, ...] | None:
        if self.size is None:
            return None
        return (1 if self.grayscale else 3, self.size[0], self.size[1])


class Digits(Source):
    """The 1797 8x8 handwritten digits that scikit-learn bundles (UCI optical recognition of
    handwritten digits, test set; shipped inside nnspec, no download): each value counts the
    set pixels of a 4x4 block (0..16); 10 classes `0`..`9`, in the file's order. `image=true`
    gives (1, 8, 8) images (for `input 1 8 8`), else 64 features `pixel_<row>_<col>`."""

    kind: Literal["digits"] = "digits"
    image: bool = Field(False, description="samples as 1 x 8 x 8 images instead of 64 "
                        "features")

    def declared_features(self) -> int:
        return 64

    def declared_shape(self) -> tuple[int, ...]:
        return (1, 8, 8) if self.image else (64,)

    def declared_target(self) -> Target:
        return ("multiclass", 10)


class _Builtin(Source):
    samples: int = Field(1000, gt=0, description="number of samples")
    noise: float = Field(0.1, ge=0.0, description="standard deviation of added Gaussian noise")
    seed: int | None = Field(None, ge=0, description="generator seed (default: the spec's seed)")


class Xor(_Builtin):
    """Points around the four corners (+-1, +-1); class 1 where x0*x1 < 0 (2 features)."""

    kind: Literal["xor"] = "xor"
    samples: int = Field(200, gt=0, description="number of samples")

    def declared_features(self) -> int:
        return 2

    def declared_target(self) -> Target:
        return ("binary", 2)


class Moons(_Builtin):
    """Two interleaving half circles (as sklearn make_moons), 2 features, 2 classes."""

    kind: Literal["moons"] = "moons"

    def declared_features(self) -> int:
        return 2

    def declared_target(self) -> Target:
        return ("binary", 2)


class Circles(_Builtin):
    """A small circle inside a large one (as sklearn make_circles), 2 features, 2 classes."""

    kind: Literal["circles"] = "circles"
    noise: float = Field(0.05, ge=0.0, description="standard deviation of added Gaussian noise")
    factor: float = Field(0.5, gt=0.0, lt=1.0, description="inner radius / outer radius")

    def declared_features(self) -> int:
        return 2

    def declared_target(self) -> Target:
        return ("binary", 2)


class Spirals(_Builtin):
    """`classes` interleaved spiral arms, 2 features."""

    kind: Literal["spirals"] = "spirals"
    classes: int = Field(2, ge=2, description="number of arms (classes)")
    turns: float = Field(1.0, gt=0.0, description="revolutions of each arm")

    def declared_features(self) -> int:
        return 2

    def declared_target(self) -> Target:
        return ("binary", 2) if self.classes == 2 else ("multiclass", self.classes)


class Blobs(_Builtin):
    """Gaussian clusters around random centres in [-10, 10]^features; noise is the cluster
    standard deviation."""

    kind: Literal["blobs"] = "blobs"
    noise: float = Field(1.0, ge=0.0, description="cluster standard deviation")
    classes: int = Field(3, ge=2, description="number of clusters (classes)")
    n_features: int = Field(2, gt=0, alias="features", description="number of features")

    model_config = {"populate_by_name": True, "frozen": True, "extra": "forbid"}

    def declared_features(self) -> int:
        return self.n_features

    def declared_target(self) -> Target:
        return ("binary", 2) if self.classes == 2 else ("multiclass", self.classes)


class Linear(_Builtin):
    """x ~ U(-1, 1)^features; y = slope * sum_j x_j + intercept + noise (regression)."""

    kind: Literal["linear"] = "linear"
    samples: int = Field(200, gt=0, description="number of samples")
    slope: float = Field(1.0, description="slope of the line")
    intercept: float = Field(0.0, description="value at x = 0")
    n_features: int = Field(1, gt=0, alias="features", description="number of features")

    model_config = {"populate_by_name": True, "frozen": True, "extra": "forbid"}

    def declared_features(self) -> int:
        return self.n_features

    def declared_target(self) -> Target:
        return ("regression", 1)


class Sine(_Builtin):
    """x ~ U(-pi, pi); y = amplitude * sin(frequency * x) + noise (regression, 1 feature)."""

    kind: Literal["sine"] = "sine"
    samples: int = Field(500, gt=0, description="number of samples")
    frequency: float = Field(1.0, gt=0.0, description="angular frequency")
    amplitude: float = Field(1.0, gt=0.0, description="amplitude")

    def declared_features(self) -> int:
        return 1

    def declared_target(self) -> Target:
        return ("regression", 1)


class Shapes(_Builtin):
    """Procedural grayscale images (1, size, size) of 4 classes: 0 circle, 1 square, 2
    triangle, 3 cross (+), each an outline stroke (anti-aliased, 1.5 to 2.5 pixels wide) at a
    random centre and radius (a quarter to 0.4 of the side), tilted up to 15 degrees, on a
    black background; pixel values in [0, 1] before the Gaussian noise (std `noise`) is
    added. Classes are balanced, samples in a seeded random order."""

    kind: Literal["shapes"] = "shapes"
    size: int = Field(28, ge=8, le=256, description="side of the square images in pixels")

    def declared_features(self) -> int:
        return self.size * self.size

    def declared_shape(self) -> tuple[int, ...]:
        return (1, self.size, self.size)

    def declared_target(self) -> Target:
        return ("multiclass", 4)


# the vocabulary size of a text source without `vocab=`: every character of most texts, and
# the usual size of a small word-level model
DEFAULT_VOCAB = {"words": 5000, "chars": 128}


class Text(Source):
    """A plain UTF-8 text file (or the built-in corpus) as next-token windows: the text is
    split into tokens (`words`: runs of letters, digits and underscores, and each other
    non-space character, e.g. `print ( x )`; `chars`: every character, spaces and newlines
    included), lowercased first when `lower`. The vocabulary has exactly `vocab` ids: id 0
    is `<unk>`, ids 1.. the most frequent tokens seen at least `min_count` times (ties in
    order of first appearance); any other token reads as `<unk>`, and ids no token took stay
    unused. Sample i is the `context` token ids before token i (features `t-N` .. `t-1`),
    its target the id of token i (`next`), so the model's output layer has `vocab` units.
    The vocabulary is saved with the run (data.json) and `predict` reads text through it.
    Without a path, `corpus=python_help` reads the help topics that ship with Python
    (`pydoc_data.topics`, the text `help("topics")` shows; PSF licence), no download."""

    kind: Literal["text"] = "text"
    path: str | None = Field(None, description="path to a UTF-8 text file, relative to the "
                             "spec (or use `corpus=`)")
    corpus: Literal["python_help"] | None = Field(
        None, description="a built-in text instead of a file: `python_help`, Python's own "
        "help topics (pydoc_data, PSF licence; about 114,000 words)")
    tokens: Literal["words", "chars"] = Field("words", description="what a token is: "
                                              "`words` (and punctuation) or `chars`")
    context: int = Field(3, gt=0, le=4096, description="tokens before the one predicted "
                         "(the model's `input`)")
    vocab: int | None = Field(None, ge=2, description="vocabulary size, `<unk>` included "
                              "(default 5000 for words, 128 for chars)")
    lower: bool = Field(True, description="lowercase the text before splitting it")
    min_count: int = Field(1, gt=0, description="a token seen fewer times is `<unk>`")
    limit: int | None = Field(None, gt=0, description="read only the first `limit` tokens "
                              "(default: all)")

    @property
    def is_file(self) -> bool:  # type: ignore[override]
        return self.path is not None

    @model_validator(mode="after")
    def _one_text(self) -> Text:
        if (self.path is None) == (self.corpus is None):
            raise ValueError("give either a file path or `corpus=python_help`, not "
                             + ("both" if self.path is not None else "neither"))
        return self

    def vocab_size(self) -> int:
        return self.vocab if self.vocab is not None else DEFAULT_VOCAB[self.tokens]

    def declared_features(self) -> int:
        return self.context

    def declared_target(self) -> Target:
        return ("multiclass", self.vocab_size())

    def declared_vocab(self) -> int:
        return self.vocab_size()


SOURCES = registry(Csv, Npz, Images, Digits, Xor, Moons, Circles, Spirals, Blobs, Linear, Sine,
                   Shapes, Text)
AnySource = union(SOURCES)
