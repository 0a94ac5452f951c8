"""specs/data/make_data.py: scikit-learn's bundled copies + a seed -> the shipped data files.

Run from anywhere: `python specs/data/make_data.py`. Deterministic: running it again gives
byte-identical files (the npz archives are written with fixed zip timestamps).

- iris.csv: 150 x 4 measurements + `species` name, from sklearn/datasets/data/iris.csv.
- digits.csv: 1797 x 64 pixel counts 0..16 + `digit`, from sklearn/datasets/data/digits.csv.gz.
- nnspec/data/builtin/digits.npz: the same samples for the built-in `digits()` source: x
  (1797, 64) uint8, y (1797,) uint8, in the same order.
- reg.npz: x (1000, 8) ~ U(-2, 2), y (1000, 1) = f(x) + N(0, 0.05^2) with the smooth
  f(x) = sin(x0) + 0.5 x1 x2 + tanh(x3) - 0.25 x4^2 + 0.3 x5 + 0.5 cos(x6) x7, seed 20240601.
- reg_init.npz: initial weights of specs/regression.nn (8 -> 32 -> 16 -> 1), PyTorch layout
  layers.<i>.weight (out, in) ~ U(-a, a), a = sqrt(6 / (in + out)) (Glorot uniform),
  layers.<i>.bias ~ U(-0.1, 0.1), float64, seed 20240602.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BUILTIN = HERE.parents[1] / "nnspec" / "data" / "builtin"
SPECIES = ["setosa", "versicolor", "virginica"]
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]


def sklearn_data() -> Path:
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "data"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def make_iris(src: Path) -> None:
    lines = (src / "iris.csv").read_text().splitlines()
    n, f, *names = lines[0].split(",")
    assert names == SPECIES and int(n) == 150 and int(f) == 4, lines[0]
    rows = []
    for line in lines[1:]:
        *x, label = line.split(",")
        rows.append(x + [SPECIES[int(label)]])
    assert len(rows) == 150
    write_csv(HERE / "iris.csv", IRIS_COLUMNS, rows)


def make_digits(src: Path) -> None:
    with gzip.open(src / "digits.csv.gz", "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    assert data.shape == (1797, 65), data.shape
    values = data.astype(np.int64)
    assert (values == data).all() and values[:, :64].min() >= 0 and values[:, :64].max() <= 16
    header = [f"pixel_{i // 8}_{i % 8}" for i in range(64)] + ["digit"]
    write_csv(HERE / "digits.csv", header, [[str(v) for v in row] for row in values])
    BUILTIN.mkdir(parents=True, exist_ok=True)
    save_npz(BUILTIN / "digits.npz", {"x": values[:, :64].astype(np.uint8),
                                      "y": values[:, 64].astype(np.uint8)})


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like numpy.savez, but with a fixed timestamp so that the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buf.getvalue())


def reg_target(x: np.ndarray) -> np.ndarray:
    return (np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + np.tanh(x[:, 3]) - 0.25 * x[:, 4] ** 2
            + 0.3 * x[:, 5] + 0.5 * np.cos(x[:, 6]) * x[:, 7])


def make_reg() -> None:
    rng = np.random.Generator(np.random.PCG64(20240601))
    x = rng.uniform(-2.0, 2.0, size=(1000, 8))
    y = reg_target(x) + rng.normal(0.0, 0.05, size=1000)
    save_npz(HERE / "reg.npz", {"x": x, "y": y[:, None]})


def make_reg_init() -> None:
    rng = np.random.Generator(np.random.PCG64(20240602))
    arrays = {}
    for i, (n_in, n_out) in enumerate([(8, 32), (32, 16), (16, 1)]):
        a = np.sqrt(6.0 / (n_in + n_out))
        arrays[f"layers.{i}.weight"] = rng.uniform(-a, a, size=(n_out, n_in))
        arrays[f"layers.{i}.bias"] = rng.uniform(-0.1, 0.1, size=n_out)
    save_npz(HERE / "reg_init.npz", arrays)


def main() -> None:
    src = sklearn_data()
    make_iris(src)
    make_digits(src)
    make_reg()
    make_reg_init()
    for p in [*sorted(HERE.glob("*.*")), BUILTIN / "digits.npz"]:
        print(f"{p.name:14s} {p.stat().st_size:8d} bytes")


if __name__ == "__main__":
    main()
