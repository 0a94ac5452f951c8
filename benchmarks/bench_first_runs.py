"""What a new user waits for: the first `nnspec run` on an empty compile cache, then every
other example spec (issue 18 item 1).

    python benchmarks/bench_first_runs.py [--epochs N] [--specs a.nn b.nn ...]

Each run is a whole process (`python -m nnspec run SPEC --out TMP --quiet`), timed from
start to exit, with NUMBA_CACHE_DIR pointing at a fresh empty folder for the whole
sequence, so the first spec compiles and the others show whether they compile again: the
table gives each run's wall time and how many compiled-code files (.nbc) it added to the
cache. `--epochs` (default: each spec's own) shortens training so that what is left is
start-up, compilation and writing the run folder. Run it with nothing else running.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST = "specs/moons.nn"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--specs", nargs="*", default=None)
    args = ap.parse_args()
    specs = args.specs or [FIRST] + sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.nn")
        if str(p.relative_to(ROOT)) != FIRST)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "numba-cache"
        cache.mkdir()
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
        print(f"{'spec':<28} {'wall s':>7} {'new .nbc':>8}  rc")
        total = 0.0
        for i, spec in enumerate(specs):
            before = len(list(cache.rglob("*.nbc")))
            cmd = [sys.executable, "-m", "nnspec", "run", spec, "--out", f"{tmp}/run{i}",
                   "--quiet"]
            if args.epochs is not None:
                cmd += ["--epochs", str(args.epochs)]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            total += wall
            added = len(list(cache.rglob("*.nbc"))) - before
            print(f"{spec:<28} {wall:7.2f} {added:8d}  {proc.returncode}", flush=True)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
        print(f"{'total':<28} {total:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
