"""A/B of the nnspec side of bench_cpu.py between two source trees (no torch).

    python benchmarks/ab_nnspec.py TREE tiny,small,large        # samples/s per case
    python benchmarks/ab_nnspec.py TREE tiny first              # first epoch, cold and cached

TREE is a checkout of nnspec (e.g. `git worktree add --detach /tmp/base <commit>`): its
nnspec and its benchmarks/bench_cpu.py are imported, so each tree is timed with its own
engine and its own timing code. Run the two trees alternately, several rounds, on a quiet
machine, and compare the best of each (`bench_cpu.bench_nnspec`: the loop's own clock).
"""

from __future__ import annotations

import os
import sys
import tempfile


def main() -> None:
    root = sys.argv[1]
    sys.path.insert(0, root)
    sys.path.insert(0, os.path.join(root, "benchmarks"))
    import bench_cpu as b

    which = sys.argv[2].split(",")
    if len(sys.argv) > 3 and sys.argv[3] == "first":
        text = b.CASES["tiny"].spec_text(1)
        start = b.python_startup()
        with tempfile.TemporaryDirectory(prefix="nnspec-numba-") as cache:
            cold, _ = b.first_epoch(cache, text)
            cached, _ = min(b.first_epoch(cache, text) for _ in range(3))
        print(f"{root} first-epoch cold {cold - start:.2f} s cached {cached - start:.2f} s",
              flush=True)
        return
    for name in which:
        case = b.CASES[name]
        x, y = b.make_data(name)
        sps = b.bench_nnspec(case, x, y, case.epochs)
        print(f"{root} {name} {sps:,.0f} samples/s  load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
