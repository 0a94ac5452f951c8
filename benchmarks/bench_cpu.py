"""benchmarks.bench_cpu: three training workloads -> samples/s of nnspec (cpu) and PyTorch CPU.

One process, 2 threads for everybody (BLAS, Numba, torch), the same float32 data, epochs and
batch sizes, shuffled every epoch on both sides. Prints, per case: samples/s of nnspec and
of idiomatic eager PyTorch loops (index slicing; the tutorial DataLoader; slicing with
Adam(fused=True)), nnspec's ratio against each and whether it meets the target against
each; the machine's float32 matmul peak measured in this run (2-thread sgemm) and the
large case's achieved GFLOP/s (the FLOPs a step computes, and the 6 x params convention); the time
to the end of the first epoch of a new spec in a fresh process, with an empty Numba cache
(cold) and again with the cache filled (cached), minus the start-up of `python -c pass`.
Every throughput is the best of --repeats runs, nnspec and torch interleaved.

    .venv/bin/python benchmarks/bench_cpu.py            # everything (~5 min on 2 cores)
    .venv/bin/python benchmarks/bench_cpu.py --quick    # fewer epochs, a smoke run

nnspec is timed the way `nnspec run` trains (train.loop.train: chunks of whole epochs in the
compiled engine), from the loop's own per-epoch clock; the engine is warmed up (loaded from
the Numba cache) before timing, as torch's kernels are.
"""

from __future__ import annotations

import os

THREADS = 2
# Before numpy/torch/numba are imported: their thread pools read these once.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from nnspec.backends.base import Executable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Case:
    name: str
    sizes: tuple[int, ...]  # input, hidden..., output
    hidden_act: str
    loss: str
    optimizer: str  # nnspec spelling
    batch: int
    epochs: int
    target: float  # required nnspec / torch ratio

    def spec_text(self, epochs: int) -> str:
        out_act = "sigmoid" if self.loss == "binary_crossentropy" else "softmax"
        layers = [f"dense {n} {self.hidden_act}" for n in self.sizes[1:-1]]
        layers.append(f"dense {self.sizes[-1]} {out_act}")
        body = "\n    ".join([f"input {self.sizes[0]}", *layers])
        return (f"model {self.name} {{\n    {body}\n}}\n"
                f"train {{\n    loss {self.loss}\n    optimizer {self.optimizer}\n"
                f"    epochs {epochs}\n    batch {self.batch}\n    seed 1\n}}\n")

    @property
    def n_params(self) -> int:
        return sum(a * b + b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=False))


CASES = {
    "tiny": Case("tiny", (2, 16, 16, 1), "tanh", "binary_crossentropy",
                 "sgd(lr=0.1, momentum=0.9)", 32, 200, 50.0),
    "small": Case("small", (64, 128, 64, 10), "relu", "categorical_crossentropy",
                  "adam(lr=0.001)", 32, 50, 12.0),
    "large": Case("large", (784, 512, 512, 10), "relu", "categorical_crossentropy",
                  "adam(lr=0.001)", 128, 2, 1.5),
}
PEAK_FRACTION_TARGET = 0.60
CACHED_FIRST_EPOCH_TARGET = 1.0


def make_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """float32 features and targets: (N, 1) 0/1 for tiny, int64 class indices otherwise."""
    if name == "tiny":
        from sklearn.datasets import make_moons

        x, y = make_moons(n_samples=1000, noise=0.2, random_state=0)
        x = (x - x.mean(0)) / x.std(0)
        return x.astype(np.float32), y.reshape(-1, 1).astype(np.float32)
    if name == "small":
        from sklearn.datasets import load_digits  # 1,797 x 64, shipped with scikit-learn

        x, y = load_digits(return_X_y=True)
        return (x / 16.0).astype(np.float32), y.astype(np.int64)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60_000, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10), dtype=np.float32)
    return x, np.argmax(x @ teacher, axis=1).astype(np.int64)


# -- nnspec ---------------------------------------------------------------------------------

def run_nnspec(case: Case, x: np.ndarray, y: np.ndarray, epochs: int,
               backend: str = "cpu") -> tuple[float, Executable]:
    """(samples/s of nnspec's training loop on `backend`, float32; the trained executable).
    Also used by bench_gpu.py with backend="cuda"."""
    from nnspec.backends import compile as compile_plan
    from nnspec.backends.base import as_inputs, as_targets, dropout_rng
    from nnspec.lower import lower
    from nnspec.pipeline import diagnose
    from nnspec.train.loop import train

    spec, diags = diagnose(case.spec_text(epochs))
    assert spec is not None, diags
    plan = lower(spec)
    xs, ys = as_inputs(plan, x), as_targets(plan, y)
    # Warm-up on a throwaway executable: loads (or compiles) the engine, so it is not timed.
    compile_plan(plan, backend).train_epoch(xs, ys, np.arange(len(xs)), 0.0, 0, 2,
                                            dropout_rng(0))
    exe = compile_plan(plan, backend)
    data = SimpleNamespace(train=SimpleNamespace(x=xs, y=ys), val=None, test=None)
    result = train(exe.plan, data, exe)
    assert result.status == "completed" and len(result.history) == epochs
    seconds = sum(row["time"] for row in result.history)
    return len(xs) * epochs / seconds, exe


def bench_nnspec(case: Case, x: np.ndarray, y: np.ndarray, epochs: int) -> float:
    """samples/s of nnspec's training loop (cpu backend, float32)."""
    return run_nnspec(case, x, y, epochs, "cpu")[0]


# -- PyTorch --------------------------------------------------------------------------------

def bench_torch(case: Case, x: np.ndarray, y: np.ndarray, epochs: int,
                fused: bool = False, loader: bool = False) -> float:
    """samples/s of an idiomatic eager PyTorch loop: batches by index slicing of a
    per-epoch randperm (the lean loop), or, with loader=True, the tutorial idiom
    `DataLoader(TensorDataset(x, y), batch_size=B, shuffle=True)` (default num_workers=0,
    which is what the tutorials use and the fastest on 2 cores for in-memory tensors)."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[case.hidden_act]
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(case.sizes[:-1], case.sizes[1:], strict=False)):
        mods.append(nn.Linear(a, b))
        if i < len(case.sizes) - 2:
            mods.append(act())
    model = nn.Sequential(*mods)
    if case.loss == "binary_crossentropy":
        loss_fn = nn.BCEWithLogitsLoss()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused or None)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n, b = len(xt), case.batch

    batches = DataLoader(TensorDataset(xt, yt), batch_size=b, shuffle=True)

    def epoch_loader() -> float:
        total = 0.0
        for xb, yb in batches:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        return total / n

    def epoch_slicing() -> float:
        perm = torch.randperm(n)
        total = 0.0
        for k in range(0, n, b):
            idx = perm[k:k + b]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)  # nnspec reports the epoch loss too
        return total / n

    epoch = epoch_loader if loader else epoch_slicing
    epoch()  # warm-up (allocator, first-call dispatch), not timed
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return n * epochs / (time.perf_counter() - t0)


# -- machine peak ---------------------------------------------------------------------------

def sgemm_peak(sizes: tuple[int, ...] = (2048, 4096), repeats: int = 5) -> dict[str, float]:
    """GFLOP/s of float32 n x n x n matmul, the best over `sizes` and `repeats`: numpy's BLAS
    and SciPy's (the BLAS Numba's np.dot calls inside the engine). The peak the benchmark
    compares with is the larger of the two: a single size or a single run can land below
    what the engine's own gemms reach (on an AMD EPYC, numpy's 4096^3 alone gave 192
    GFLOP/s where the large case's gemms ran at ~196)."""
    from scipy.linalg import blas

    rng = np.random.default_rng(0)
    out: dict[str, float] = {"numpy": 0.0, "scipy": 0.0}
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        # f2py's sgemm wants Fortran order: give it that up front so no copy is timed.
        af, bf = np.asfortranarray(a), np.asfortranarray(b)
        for name, fn in (("numpy", lambda a=a, b=b: a @ b),
                         ("scipy", lambda af=af, bf=bf: blas.sgemm(1.0, af, bf))):
            fn()
            best = min(_timed(fn) for _ in range(repeats))
            out[name] = max(out[name], 2.0 * n**3 / best / 1e9)
    return out


def step_flops(case: Case) -> tuple[int, int]:
    """FLOPs per sample of one training step: (computed, conventional 6 x params). Computed:
    forward 2 x weights, dL/dw 2 x weights, dL/dx 2 x the weights of every layer but the
    first (neither nnspec nor torch's autograd computes dL/d(input)); biases and
    elementwise work left out."""
    weights = [a * b for a, b in zip(case.sizes[:-1], case.sizes[1:], strict=False)]
    return 6 * sum(weights) - 2 * weights[0], 6 * case.n_params


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- time to first epoch --------------------------------------------------------------------

FIRST_EPOCH = r"""
import time
marks = [("start", time.time())]
import json, sys
import numpy as np
marks.append(("import numpy", time.time()))
import numba
marks.append(("import numba", time.time()))
from nnspec.pipeline import diagnose
from nnspec.lower import lower
from nnspec.backends import cpu
from nnspec.train.loop import train
from nnspec.train.progress import Reporter
from nnspec.data import load_spec_data
marks.append(("import nnspec", time.time()))
spec, _ = diagnose(sys.argv[1] + 'data {\n    source moons(samples=1000, noise=0.2)\n}\n')
marks.append(("parse + check", time.time()))
data = load_spec_data(spec, spec_dir='.')
marks.append(("data", time.time()))
exe = cpu.compile(lower(spec))
marks.append(("lower + compile()", time.time()))
class First(Reporter):
    def epoch(self, row, sps):
        marks.append(("first epoch (engine load or JIT)", time.time()))
        print(json.dumps(marks), flush=True)
train(exe.plan, data, exe, reporter=First())
"""


def first_epoch(cache_dir: str, text: str) -> tuple[float, list[tuple[str, float]]]:
    """Seconds from process start to the end of epoch 1 (a fresh interpreter), and the
    seconds each stage took inside the child."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    # Python's own bytecode cache on, as on a user's machine: a sandbox that sets
    # PYTHONDONTWRITEBYTECODE would otherwise have every run compile nnspec's modules anew
    # (~0.1 s); the cold run writes the .pyc files, as a user's first run does
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", FIRST_EPOCH, text], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    marks = json.loads(out.strip().splitlines()[-1])
    stages = [(name, t - marks[i][1]) for i, (name, t) in enumerate(marks[1:])]
    return marks[-1][1] - t0, stages


def python_startup(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.time()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.time() - t0)
    return min(times)


# -- main -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="tiny,small,large")
    ap.add_argument("--quick", action="store_true", help="a tenth of the epochs (smoke run)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (best kept)")
    ap.add_argument("--skip-first-epoch", action="store_true")
    args = ap.parse_args(argv)

    import threadpoolctl
    import torch

    torch.set_num_threads(THREADS)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}; torch {torch.__version__}, {THREADS} threads for torch, "
          f"BLAS and Numba")
    peak = sgemm_peak()  # also loads SciPy's BLAS, so that it is listed here
    for pool in threadpoolctl.threadpool_info():
        print(f"  {pool['internal_api']} {pool.get('version')} ({Path(pool['filepath']).name}):"
              f" {pool['num_threads']} threads")
    ref = max(peak.values())
    print(f"float32 matmul peak (best of 2048^3 and 4096^3, 2 threads): numpy "
          f"{peak['numpy']:.1f} GFLOP/s, scipy (Numba's BLAS) {peak['scipy']:.1f} GFLOP/s; "
          f"peak = {ref:.1f}")
    print()
    print("torch baselines: slicing = randperm + index slicing; loader = DataLoader("
          "TensorDataset, shuffle=True); fused = slicing with Adam(fused=True)")
    head = (f"{'case':6} {'N':>6} {'ep':>4} {'batch':>5} {'nnspec/s':>11} {'slicing/s':>10} "
            f"{'ratio':>7} {'loader/s':>10} {'ratio':>7} {'fused/s':>10} {'ratio':>7} "
            f"{'target':>7}  met vs slicing/loader/fused")
    print(head)
    print("-" * len(head))
    large_sps = None
    for name in args.cases.split(","):
        case = CASES[name]
        x, y = make_data(name)
        epochs = max(1, case.epochs // 10) if args.quick else case.epochs
        adam = "adam" in case.optimizer
        ours = theirs = loader = fused = 0.0
        for _ in range(args.repeats):  # interleaved, best of: other load hits all alike
            ours = max(ours, bench_nnspec(case, x, y, epochs))
            theirs = max(theirs, bench_torch(case, x, y, epochs))
            loader = max(loader, bench_torch(case, x, y, epochs, loader=True))
            fused = max(fused, bench_torch(case, x, y, epochs, fused=True)) if adam else 0.0
        cols, met = [], []
        for sps in (theirs, loader, fused):
            if sps:
                cols.append(f"{sps:>10,.0f} {ours / sps:>6.2f}x")
                met.append("yes" if ours / sps >= case.target else "NO")
            else:
                cols.append(f"{'-':>10} {'-':>7}")
                met.append("-")
        print(f"{name:6} {len(x):>6} {epochs:>4} {case.batch:>5} {ours:>11,.0f} "
              f"{' '.join(cols)} {case.target:>6.1f}x  {'/'.join(met)}")
        if name == "large":
            large_sps = ours, theirs
    if large_sps is not None:
        ours, theirs = large_sps
        computed, convention = step_flops(CASES["large"])
        for who, sps in (("nnspec", ours), ("torch", theirs)):
            g = sps * computed / 1e9
            print(f"large, {who}: {g:.1f} GFLOP/s = {100 * g / ref:.0f}% of the sgemm peak "
                  f"({computed / 1e6:.2f} MFLOP/sample computed; by the 6 x params "
                  f"convention, {convention / 1e6:.2f} MFLOP: {sps * convention / 1e9:.1f} "
                  f"GFLOP/s, {100 * sps * convention / 1e9 / ref:.0f}%)")
        met = "yes" if ours * computed / 1e9 / ref >= PEAK_FRACTION_TARGET else "NO"
        print(f"target >= {PEAK_FRACTION_TARGET:.0%} of peak (FLOPs computed): {met}")

    if not args.skip_first_epoch:
        print()
        text = CASES["tiny"].spec_text(1)
        start = python_startup()
        with tempfile.TemporaryDirectory(prefix="nnspec-numba-") as cache:
            cold, cold_stages = first_epoch(cache, text)
            cached, stages = min(first_epoch(cache, text) for _ in range(3))
        met = "yes" if cached - start < CACHED_FIRST_EPOCH_TARGET else "NO"
        print(f"python -c pass: {start:.2f} s (bytecode cache on in the child processes; "
              f"PYTHONDONTWRITEBYTECODE was {os.environ.get('PYTHONDONTWRITEBYTECODE') or 'unset'}"
              f" here)")
        print(f"first epoch of a new spec (tiny, 1,000 moons), beyond start-up: cold "
              f"(empty Numba cache) {cold - start:.2f} s, cached {cached - start:.2f} s "
              f"(target < {CACHED_FIRST_EPOCH_TARGET:.0f} s: {met})")
        print("  stages (cold | cached): " + ", ".join(
            f"{name} {c:.2f} | {w:.2f}" for (name, c), (_, w) in zip(cold_stages, stages,
                                                                     strict=True)))
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
