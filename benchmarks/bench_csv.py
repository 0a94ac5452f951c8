"""Reading a large CSV: time and peak memory of nnspec's CSV reader, old and new (issue 21).

Writes a CSV of `--rows` rows (default 3.3 million: four features with three decimals and a
0/1 label, ~86 MB, the issue's file) in a temporary folder, then reads it once per reader,
each in a fresh process, and prints per reader:
- time: the read alone (`read_csv` of a `csv("big.csv", target=label)` source, or the
  library call), measured in the child with perf_counter, best of `--repeats`;
- peak: the child's peak resident memory, taken by a launcher process that runs it and
  reads `getrusage(RUSAGE_CHILDREN).ru_maxrss` (one child each, so it is that child's), and
  `net`: that peak minus the same child's resident memory after its imports, before reading.
Readers: `new` (this checkout's nnspec.data.readers.read_csv), `old` (the same function at
`--old` (a commit; default the last one before the rewrite), extracted with `git archive`),
`loadtxt` (numpy.loadtxt of all columns, or of the features with `--labels`: the floor
nnspec's fast pass builds on), and
`pandas` / `pyarrow` when they are installed. `--labels` writes string class labels instead
of 0/1 (the new reader then reads the target column as text).

    python benchmarks/bench_csv.py                   # the issue's file, ~1.5 min in all
    python benchmarks/bench_csv.py --rows 300000     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OLD = "5f6fd5a"  # main before issue 21's reader: csv module, Python floats, rows in lists

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    reader, path = sys.argv[1], sys.argv[2]
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    if reader in ("new", "old"):
        import numpy as np
        from nnspec.data.readers import read_csv
        from nnspec.data.errors import Where
        from nnspec.ops.sources import Csv
        src = Csv(path=path, target="label")
        read = lambda: read_csv(src, ".", Where("bench.nn")).x
    elif reader == "loadtxt":
        import numpy as np
        with open(path) as f:
            f.readline()
            numeric = f.readline().rstrip().split(",")[-1].isdigit()
        cols = None if numeric else [0, 1, 2, 3]  # string labels: the features only
        read = lambda: np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, usecols=cols)
    elif reader == "pandas":
        import pandas as pd
        read = lambda: pd.read_csv(path).to_numpy()
    elif reader == "pyarrow":
        import pyarrow.csv as pc
        read = lambda: pc.read_csv(path)
    base = rss()
    t = time.perf_counter()
    out = read()
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "base_mb": base, "rows": len(out)}))
""")

LAUNCHER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024); "
            "sys.exit(r.returncode)")


def write_csv(path: Path, rows: int, labels: bool) -> None:
    rng = np.random.default_rng(0)
    names = np.array(["no", "yes"])
    with open(path, "w") as f:
        f.write("a,b,c,d,label\n")
        for start in range(0, rows, 200_000):
            x = rng.uniform(0, 10, size=(min(200_000, rows - start), 4))
            y = (x.sum(axis=1) > 20).astype(int)
            ys = names[y].tolist() if labels else y.tolist()
            f.write("".join(f"{a:.3f},{b:.3f},{c:.3f},{d:.3f},{t}\n"
                            for (a, b, c, d), t in zip(x.tolist(), ys, strict=True)))


def old_tree(commit: str, into: Path) -> Path:
    """The nnspec package as of `commit`, extracted from this checkout's git history."""
    archive = into / "old.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", commit, "nnspec", "grammar"],
                       stdout=f, check=True)
    with tarfile.open(archive) as t:
        t.extractall(into / "old", filter="data")
    return into / "old"


def measure(reader: str, csv_path: Path, pythonpath: Path | None) -> dict:
    env = {**os.environ}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    out = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-c", CHILD, reader,
                          str(csv_path)], capture_output=True, text=True, env=env,
                         cwd=csv_path.parent)
    if out.returncode != 0:
        raise RuntimeError(f"{reader} failed:\n{out.stderr[-2000:]}")
    lines = out.stdout.strip().splitlines()
    result = json.loads(lines[-2])
    result["peak_mb"] = float(lines[-1])
    return result


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=3_300_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--labels", action="store_true", help="string class labels (no/yes)")
    ap.add_argument("--old", default=OLD, help="commit of the old reader (git archive)")
    ap.add_argument("--skip-old", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "big.csv"
        write_csv(path, args.rows, args.labels)
        size = path.stat().st_size
        parsed = args.rows * 5 * 8 / 2**20
        label = "a string" if args.labels else "a 0/1"
        print(f"{path.name}: {args.rows:,} rows, 4 features + {label} label, {size / 1e6:.1f} MB;"
              f" parsed float64 features + target: {parsed:.0f} MiB")
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
              f"{os.getloadavg()[2]:.2f} on {os.cpu_count()} cores")
        readers: list[tuple[str, Path | None]] = [("new", ROOT)]
        if not args.skip_old:
            readers.append(("old", old_tree(args.old, folder)))
        readers.append(("loadtxt", None))
        readers += [(m, None) for m in ("pandas", "pyarrow") if installed(m)]
        print(f"{'reader':8} {'time s':>7} {'peak MiB':>8} {'net MiB':>7} {'net/parsed':>10}")
        for name, pythonpath in readers:
            runs = [measure(name, path, pythonpath) for _ in range(args.repeats)]
            best = min(r["seconds"] for r in runs)
            peak = min(r["peak_mb"] for r in runs)
            net = min(r["peak_mb"] - r["base_mb"] for r in runs)
            assert all(r["rows"] == args.rows for r in runs) or name == "pyarrow"
            print(f"{name:8} {best:7.2f} {peak:8.0f} {net:7.0f} {net / parsed:10.2f}")
        if not installed("pandas") or not installed("pyarrow"):
            print("(pandas / pyarrow not installed: not measured)")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
