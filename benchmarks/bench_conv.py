"""benchmarks.bench_conv: convolutional training -> samples/s of nnspec (cpu) and PyTorch CPU.

One process, 2 threads for everybody (BLAS, Numba, torch.set_num_threads(2)), the same
float32 28x28 one-channel images (random, labels from a random linear teacher), epochs and
batch sizes, shuffled every epoch on both sides. Cases:

    lenet-32, lenet-128   LeNet-5: conv 6@5x5 pad 2 relu, maxpool 2, conv 16@5x5 relu,
                          maxpool 2, flatten, dense 120 relu, dense 84 relu, dense 10
                          (softmax + cross-entropy), SGD with momentum, batch 32 / 128
    convnet-128           conv 32@3x3 pad 1 relu, maxpool 2, conv 64@3x3 pad 1 relu,
                          maxpool 2, conv 64@3x3 pad 1 relu, flatten, dense 10; Adam, batch 128

Prints per case nnspec's samples/s (the training loop's own per-epoch clock, as
bench_cpu.py), PyTorch eager's (the tutorial idiom: DataLoader(TensorDataset, shuffle=True),
zero_grad / forward / backward / step), their ratio and the target; for convnet-128 the
GFLOP/s nnspec reaches (the FLOPs of a step: forward, dL/dw and dL/dx of every layer but
the first, per sample; pooling and elementwise work left out) against the float32 matmul
peak measured in the same run (bench_cpu.sgemm_peak); and the 1-minute load average before
and after, since the machine may be shared. Every throughput is the best of --repeats runs,
nnspec and torch interleaved.

    python benchmarks/bench_conv.py            # ~2-4 min on 2 idle cores
    python benchmarks/bench_conv.py --quick    # fewer samples, a smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_cpu  # noqa: E402  (sets the thread counts before numpy is imported)
import numpy as np  # noqa: E402

THREADS = bench_cpu.THREADS


@dataclass(frozen=True)
class ConvCase:
    name: str
    layers: tuple[str, ...]  # nnspec layer statements
    optimizer: str
    batch: int
    samples: int
    epochs: int
    target: float  # nnspec / torch

    def spec_text(self, epochs: int) -> str:
        body = "\n    ".join(("input 1 28 28", *self.layers))
        return (f"model {self.name.replace('-', '_')} {{\n    {body}\n}}\n"
                f"train {{\n    loss categorical_crossentropy\n    optimizer {self.optimizer}\n"
                f"    epochs {epochs}\n    batch {self.batch}\n    seed 1\n}}\n")


LENET = ("conv2d 6 5 relu padding=2", "maxpool 2", "conv2d 16 5 relu", "maxpool 2", "flatten",
         "dense 120 relu", "dense 84 relu", "dense 10 softmax")
CONVNET = ("conv2d 32 3 relu padding=1", "maxpool 2", "conv2d 64 3 relu padding=1", "maxpool 2",
           "conv2d 64 3 relu padding=1", "flatten", "dense 10 softmax")
SGD = "sgd(lr=0.01, momentum=0.9)"
CASES = {
    "lenet-32": ConvCase("lenet-32", LENET, SGD, 32, 8192, 2, 3.0),
    "lenet-128": ConvCase("lenet-128", LENET, SGD, 128, 8192, 2, 1.5),
    "convnet-128": ConvCase("convnet-128", CONVNET, "adam(lr=0.001)", 128, 2048, 2, 0.0),
}
PEAK_FRACTION_TARGET = 0.50


def make_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 1, 28, 28), dtype=np.float32)
    teacher = rng.standard_normal((784, 10), dtype=np.float32)
    return x, np.argmax(x.reshape(n, -1) @ teacher, axis=1).astype(np.int64)


def step_flops(case: ConvCase) -> int:
    """FLOPs per sample of a training step: 2 x multiply-adds of forward, of dL/dw, and of
    dL/dx of every layer but the first (from the Plan's shapes)."""
    plan = _plan(case, 1)
    total = 0
    for i, node in enumerate(plan.layers):
        if node.kind_name == "conv2d":
            f, ho, wo = node.out_shape
            macs = f * ho * wo * node.in_shape[0] * int(node.attr("kh")) * int(node.attr("kw"))
        elif node.kind_name == "dense":
            macs = node.n_in * node.n_out
        else:
            continue
        total += 2 * macs * (2 if i == 0 else 3)
    return total


def _plan(case: ConvCase, epochs: int):  # type: ignore[no-untyped-def]
    from nnspec.lower import lower
    from nnspec.pipeline import diagnose

    spec, diags = diagnose(case.spec_text(epochs))
    assert spec is not None, diags
    return lower(spec)


def bench_nnspec(case: ConvCase, x: np.ndarray, y: np.ndarray, epochs: int) -> float:
    """samples/s of nnspec's training loop (train.loop.train), cpu backend, float32, after a
    warm-up epoch that is not timed."""
    from nnspec.backends import compile as compile_plan
    from nnspec.backends.base import as_inputs, as_targets, dropout_rng
    from nnspec.train.loop import train

    plan = _plan(case, epochs)
    xs, ys = as_inputs(plan, x.reshape(len(x), -1)), as_targets(plan, y)
    exe = compile_plan(plan, "cpu")
    # a whole warm-up epoch on the executable that is timed, as PyTorch's side gets one: the
    # engine loaded (or compiled), its workspace's pages touched (a fresh 100 MB workspace's
    # page faults cost its first epoch ~0.1 s; a run pays them once, and PyTorch's
    # allocator's first epoch is not timed either)
    exe.train_epoch(xs, ys, np.arange(len(xs)), 0.0, 0, plan.n_batches(len(xs)), dropout_rng(0))
    data = SimpleNamespace(train=SimpleNamespace(x=xs, y=ys), val=None, test=None)
    result = train(exe.plan, data, exe)
    assert result.status == "completed" and len(result.history) == epochs
    return len(xs) * epochs / sum(row["time"] for row in result.history)


def _torch_model(case: ConvCase):  # type: ignore[no-untyped-def]
    from torch import nn

    if case.layers == LENET:
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                             nn.Linear(84, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 10))


def bench_torch(case: ConvCase, x: np.ndarray, y: np.ndarray, epochs: int) -> float:
    """samples/s of the tutorial eager loop: DataLoader(TensorDataset(x, y), batch_size=B,
    shuffle=True) (num_workers=0), zero_grad, forward, CrossEntropyLoss, backward, step."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = _torch_model(case)
    loss_fn = nn.CrossEntropyLoss()
    if case.optimizer.startswith("adam"):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                         batch_size=case.batch, shuffle=True)

    def epoch() -> float:
        total = 0.0
        for xb, yb in batches:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        return total / len(x)

    epoch()  # warm-up, not timed
    seconds = bench_cpu._timed(lambda: [epoch() for _ in range(epochs)])
    return len(x) * epochs / seconds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--quick", action="store_true", help="a quarter of the samples")
    ap.add_argument("--repeats", type=int, default=2, help="runs per measurement (best kept)")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    print(f"threads {THREADS}; load average (1 min) {load0:.2f} at start", flush=True)
    peak = max(bench_cpu.sgemm_peak(sizes=(2048,), repeats=3).values())
    print(f"float32 matmul peak (2-thread sgemm, 2048^3): {peak:.1f} GFLOP/s", flush=True)
    rows = []
    for name in args.cases.split(","):
        case = CASES[name]
        n = case.samples // 4 if args.quick else case.samples
        x, y = make_data(n)
        ours = theirs = 0.0
        for _ in range(args.repeats):
            ours = max(ours, bench_nnspec(case, x, y, case.epochs))
            theirs = max(theirs, bench_torch(case, x, y, case.epochs))
        ratio = ours / theirs
        line = (f"{name:12s} nnspec {ours:9,.0f} samples/s   torch {theirs:9,.0f} samples/s   "
                f"ratio {ratio:5.2f}")
        if case.target:
            line += f" (target {case.target:g}x: {'met' if ratio >= case.target else 'MISSED'})"
        if name.startswith("convnet"):
            gflops = ours * step_flops(case) / 1e9
            share = gflops / peak
            line += (f"\n{'':12s} nnspec {gflops:.1f} GFLOP/s = {100 * share:.0f}% of the peak "
                     f"(target {100 * PEAK_FRACTION_TARGET:.0f}%: "
                     f"{'met' if share >= PEAK_FRACTION_TARGET else 'MISSED'}); torch "
                     f"{theirs * step_flops(case) / 1e9:.1f} GFLOP/s")
        print(line, flush=True)
        rows.append(line)
    print(f"load average (1 min) {os.getloadavg()[0]:.2f} at the end (start {load0:.2f})")


if __name__ == "__main__":
    main()
