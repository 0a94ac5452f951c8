"""A sweep against the same runs one after another, whole processes (start to exit).

16 trials of moons (1000 samples, 200 epochs, batch 32, no early stopping: every trial does
the same work): 8 learning rates x 2 seeds.

- `nnspec sweep` on the local pool with 2 workers (pictures drawn: what a user gets);
- the same 16 `nnspec run --set ... --quiet` commands one after another (each draws its
  curves.png, as a run does);
- `nnspec sweep --executor ray` (a local Ray on 127.0.0.1, 2 CPUs): its overhead over the pool.

Numba's cache of the compiled engine is warmed first (one run), so neither side pays the
first compile; what the pool saves is each run's start-up: the interpreter, importing nnspec
and Numba, loading the engine from the cache. Usage: python benchmarks/bench_sweep.py
[--no-ray] [--keep DIR]. Prints the times and the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LRS = ["0.01", "0.02", "0.05", "0.1", "0.2", "0.3", "0.5", "1.0"]
SEEDS = [42, 43]
SPEC = """\
# bench_sweep.nn: moons, 200 epochs, no early stopping
model moons {
    input 2
    dense 16 relu
    dense 16 relu
    dense 1 sigmoid
}

data {
    source moons(samples=1000, noise=0.2)
    split validation=0.2
    standardize
}

train {
    loss binary_crossentropy
    optimizer sgd(lr=0.1)
    epochs 200
    batch 32
    metrics accuracy
    seed 42
}

sweep {
    grid train.optimizer.lr = [LRS]
    seeds 2
    parallel 2
}
""".replace("LRS", ", ".join(LRS))


def nnspec(*args: str) -> list[str]:
    return [sys.executable, "-m", "nnspec.cli", *args]


def timed(cmds: list[list[str]], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray executor")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    spec = work / "bench_sweep.nn"
    spec.write_text(SPEC, encoding="utf-8")
    try:
        timed([nnspec("run", str(spec), "--epochs", "2", "--quiet", "--out",
                      str(work / "warm"))], env)  # Numba's cache, for both sides
        runs = [nnspec("run", str(spec), "--quiet", "--out", str(work / f"run-{lr}-{seed}"),
                       "--set", f"train.optimizer.lr={lr}", "--set", f"train.seed={seed}")
                for lr in LRS for seed in SEEDS]
        sequential = timed(runs, env)
        pool = timed([nnspec("sweep", str(spec), "-q", "-o", str(work / "pool"))], env)
        ray = None
        if not args.no_ray:
            ray = timed([nnspec("sweep", str(spec), "-q", "--executor", "ray",
                                "-o", str(work / "ray"))], env)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    n = len(runs)
    print(f"{n} trials of moons, 200 epochs each (cpu count {os.cpu_count()}), whole processes:")
    print(f"  {n} x nnspec run, one after another: {sequential:7.1f} s")
    print(f"  nnspec sweep, pool of 2 workers:      {pool:7.1f} s   "
          f"{sequential / pool:.1f}x faster")
    if ray is not None:
        print(f"  nnspec sweep --executor ray (2 CPUs): {ray:7.1f} s   "
              f"{sequential / ray:.1f}x faster; Ray's overhead over the pool {ray - pool:+.1f} s")


if __name__ == "__main__":
    main()
