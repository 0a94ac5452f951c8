"""benchmarks.bench_gpu: four training workloads on one GPU -> samples/s of nnspec (cuda) and
PyTorch CUDA.

The cases `tiny`, `small` and `large` are the CPU benchmark's (benchmarks/bench_cpu.py: same
layers, data, batch sizes and epochs), plus `wide` (784-2048-2048-10 relu, softmax +
categorical crossentropy, Adam, batch 512, 5 epochs, on the `large` data), which is big
enough for the GPU to matter. Both sides train in float32 with TF32 OFF (torch:
allow_tf32 = False for matmul and cuDNN; nnspec: CuPy's default, no CUPY_TF32), with the
data already on the device and a fresh shuffle every epoch. Prints per case: samples/s of
nnspec, of an idiomatic eager PyTorch loop (one host sync per epoch) and of the same with
Adam(fused=True), the ratios; for large and wide the achieved GFLOP/s (the FLOPs a step
computes, bench_cpu.step_flops; the 6 x params convention beside it) against the device's
float32 matmul peak measured in this run.

    .venv/bin/python benchmarks/bench_gpu.py            # everything
    .venv/bin/python benchmarks/bench_gpu.py --quick    # a tenth of the epochs, a smoke run

Needs a CUDA GPU, numba-cuda (and CuPy for cuBLAS: pip install 'nnspec[cuda]') and torch
with CUDA; without a GPU it says so and exits with status 2. nnspec is timed the way
`nnspec run` trains (train.loop.train, chunks of batches, its per-epoch clock, which ends
with the chunk's device-to-host copy of its books, i.e. after the GPU finished), after a
warm-up that compiles or loads the kernels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cpu import CASES as CPU_CASES  # noqa: E402
from bench_cpu import Case, make_data, run_nnspec, step_flops  # noqa: E402

CASES: dict[str, Case] = {
    **{name: CPU_CASES[name] for name in ("tiny", "small", "large")},
    "wide": Case("wide", (784, 2048, 2048, 10), "relu", "categorical_crossentropy",
                 "adam(lr=0.001)", 512, 5, 0.0),
}
DATA = {"wide": "large"}  # cases that reuse another case's data


def require_gpu() -> str:
    """The device line, or exit 2 with the reason when nnspec cannot use a GPU here."""
    from nnspec.backends import cuda as gpu

    ok, why = gpu.cuda_available()
    if not ok:
        print(f"bench_gpu: no usable GPU: {why}", file=sys.stderr)
        print("bench_gpu: run it on a machine with an NVIDIA GPU and `pip install "
              "'nnspec[cuda]'`; nothing was measured", file=sys.stderr)
        sys.exit(2)
    info = gpu.device_info()
    mem = info.get("memory")
    gib = f", {mem / 2**30:.0f} GiB" if isinstance(mem, int) else ""
    return f"{info['name']} (compute capability {info['compute_capability']}{gib})"


# -- nnspec ---------------------------------------------------------------------------------

def bench_nnspec(case: Case, x: np.ndarray, y: np.ndarray, epochs: int) -> tuple[float, str]:
    """(samples/s of nnspec's training loop on the cuda backend, float32; the matmul path)."""
    sps, exe = run_nnspec(case, x, y, epochs, "cuda")
    return sps, exe.matmul


# -- PyTorch --------------------------------------------------------------------------------

def bench_torch(case: Case, x: np.ndarray, y: np.ndarray, epochs: int,
                fused: bool = False) -> float:
    """samples/s of an idiomatic eager PyTorch CUDA loop (data on the device, index slicing,
    the epoch loss accumulated on the device and read once per epoch)."""
    import torch
    from torch import nn

    dev = torch.device("cuda")
    torch.manual_seed(0)
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[case.hidden_act]
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(case.sizes[:-1], case.sizes[1:], strict=False)):
        mods.append(nn.Linear(a, b))
        if i < len(case.sizes) - 2:
            mods.append(act())
    model = nn.Sequential(*mods).to(dev)
    if case.loss == "binary_crossentropy":
        loss_fn: nn.Module = nn.BCEWithLogitsLoss()
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused or None)
    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
    n, b = len(xt), case.batch

    def epoch() -> float:
        perm = torch.randperm(n, device=dev)
        total = torch.zeros((), device=dev)
        for k in range(0, n, b):
            idx = perm[k:k + b]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)  # nnspec reports the epoch loss too
        return float(total.item()) / n  # the one host sync of the epoch

    epoch()  # warm-up (allocator, cuBLAS handles, kernel selection), not timed
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    torch.cuda.synchronize()
    return n * epochs / (time.perf_counter() - t0)


def matmul_peak(n: int = 8192, repeats: int = 5) -> float:
    """GFLOP/s of a float32 n^3 matmul on the GPU with TF32 off (torch, cuBLAS)."""
    import torch

    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    a @ b
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


# -- main -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--cases", default="tiny,small,large,wide")
    ap.add_argument("--quick", action="store_true", help="a tenth of the epochs (smoke run)")
    ap.add_argument("--repeats", type=int, default=2, help="runs per measurement (best kept)")
    ap.add_argument("--no-torch", action="store_true", help="nnspec only")
    args = ap.parse_args(argv)
    device = require_gpu()

    torch_ok = False
    if not args.no_torch:
        try:
            import torch

            torch_ok = torch.cuda.is_available()
        except ImportError:
            pass
        if torch_ok:
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
    print(f"device: {device}")
    if torch_ok:
        import torch

        peak = matmul_peak()
        print(f"torch {torch.__version__}, TF32 off; float32 matmul peak (8192^3): "
              f"{peak:,.0f} GFLOP/s")
    else:
        peak = 0.0
        print("torch with CUDA not available: nnspec only")
    print()
    head = (f"{'case':6} {'N':>6} {'ep':>4} {'batch':>5} {'nnspec/s':>11} {'torch/s':>11} "
            f"{'ratio':>7} {'fused/s':>11} {'ratio':>7}")
    print(head)
    print("-" * len(head))
    flops_rows = []
    matmul_path = ""
    for name in args.cases.split(","):
        case = CASES[name]
        x, y = make_data(DATA.get(name, name))
        epochs = max(1, case.epochs // 10) if args.quick else case.epochs
        adam = "adam" in case.optimizer
        ours = theirs = fused = 0.0
        for _ in range(args.repeats):  # interleaved, best of
            sps, matmul_path = bench_nnspec(case, x, y, epochs)
            ours = max(ours, sps)
            if torch_ok:
                theirs = max(theirs, bench_torch(case, x, y, epochs))
                if adam:
                    fused = max(fused, bench_torch(case, x, y, epochs, fused=True))
        t_cols = f"{theirs:>11,.0f} {ours / theirs:>6.2f}x" if theirs else f"{'-':>11} {'-':>7}"
        f_cols = f"{fused:>11,.0f} {ours / fused:>6.2f}x" if fused else f"{'-':>11} {'-':>7}"
        print(f"{name:6} {len(x):>6} {epochs:>4} {case.batch:>5} {ours:>11,.0f} {t_cols} "
              f"{f_cols}", flush=True)
        if name in ("large", "wide"):
            flops_rows.append((name, case, ours, theirs))
    print(f"\nnnspec matrix products: {matmul_path}")
    for name, case, ours, theirs in flops_rows:
        computed, convention = step_flops(case)  # what a step computes; 6 x params
        for who, sps in (("nnspec", ours), ("torch", theirs)):
            if sps:
                g = sps * computed / 1e9
                share = f" = {100 * g / peak:.0f}% of the matmul peak" if peak else ""
                print(f"{name}, {who}: {g:,.0f} GFLOP/s{share} ({computed / 1e6:.2f} "
                      f"MFLOP/sample computed; {sps * convention / 1e9:,.0f} GFLOP/s by the "
                      f"6 x {case.n_params:,} params convention)")


if __name__ == "__main__":
    main()
