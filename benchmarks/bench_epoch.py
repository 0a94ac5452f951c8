"""The whole epoch in process, what `nnspec run` does per epoch besides start-up and the end:
`main()` on the moons-200 workload of bench_e2e.py (2-16-16-1 relu, 800 + 200 samples,
batch 32, validation loss and accuracy, training accuracy, history, one line per epoch to
the pipe unless -q) at 200 and at 2,200 epochs in one process after a warm-up run; the
difference / 2,000 is the marginal cost of an epoch. Best of --repeats.

    .venv/bin/python benchmarks/bench_epoch.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_e2e  # noqa: E402  (its workloads and data)

from nnspec.cli import main as nnspec_main  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nnspec-epoch-") as tmp:
        work = Path(tmp)
        data = bench_e2e.make_data(work, {"moons"})["moons"]
        specs = {}
        for epochs in (200, 2200):
            w = dict(bench_e2e.WORKLOADS["moons-200"], epochs=epochs)
            specs[epochs] = work / f"moons{epochs}.nn"
            specs[epochs].write_text(bench_e2e.nnspec_spec("moons", w, data))

        def run(epochs: int) -> float:
            t = time.perf_counter()
            rc = nnspec_main(["run", str(specs[epochs]), "--out", str(work / f"run{epochs}"),
                              "-q", "--overwrite"])
            if rc != 0:
                raise SystemExit(f"nnspec run failed ({rc})")
            return time.perf_counter() - t

        run(200)  # the kernels loaded, the files cached
        best = []
        for _ in range(args.repeats):
            a, b = run(200), run(2200)
            best.append((b - a) / 2000 * 1e3)
            print(f"200 epochs {a:.3f} s, 2,200 epochs {b:.3f} s: {best[-1]:.4f} ms an epoch")
        print(f"a whole epoch in process: {min(best):.4f} ms (best of {args.repeats})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
