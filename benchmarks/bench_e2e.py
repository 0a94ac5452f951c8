"""Whole-process benchmark: `nnspec run SPEC` against the same work written as a PyTorch, a JAX
and a Keras 3 user writes it, timed as the shell sees it (start to exit).

    python benchmarks/bench_e2e.py [--quick] [--repeats N] [--workloads a,b] [--frameworks a,b]
                                   [--baseline DIR] [--work DIR]

What is timed: one child process per run, from spawn to exit, stdout and stderr read through
pipes (each prints one line per epoch: nnspec's plain reporter, the scripts' print, Keras's
verbose=2). nnspec runs with its cached kernels (its first run here is the warm-up; say
`--cold` to also time one run with an empty Numba cache) and writes its whole default run
directory (spec, manifest, history, metrics, weights, curves, checkpoint). The other scripts
save their weights. Every framework reads the same npz files (train and validation sets
split once, here), uses float32 and 2 threads (NUMBA_NUM_THREADS, OMP/MKL/OpenBLAS threads,
torch.set_num_threads; XLA's CPU pool is the machine's 2 cores), with Python's bytecode cache
on. Rounds run the frameworks interleaved (A B C D, A B C D, ...); the first round is a
warm-up (nnspec's kernel cache, JAX's persistent compilation cache, the OS file cache) and is
reported apart as "first"; the table gives medians of the other rounds, and ratios
framework / nnspec (above 1: nnspec is faster).

`--baseline DIR` adds another nnspec checkout (e.g. `git archive <commit> | tar -x -C DIR`)
as the column `base`, run in the same rounds, for before/after figures. Optional installs for
the comparisons: `pip install -e ".[bench]"` (torch, jax[cpu], optax, keras); a framework
that is not installed is skipped with a message.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "e2e"
THREADS = 2

# name: model (units, activation), loss, optimizer, batch (None: full), epochs, data, accuracy
WORKLOADS: dict[str, dict] = {
    "tiny-1": dict(data="moons", layers=[[16, "relu"], [16, "relu"], [1, "sigmoid"]],
                   loss="bce", opt={"kind": "sgd", "lr": 0.1, "momentum": 0.9}, batch=32,
                   epochs=1, accuracy=True),
    "logistic": dict(data="logistic", layers=[[1, "sigmoid"]], loss="bce",
                     opt={"kind": "adam", "lr": 0.9}, batch=None, epochs=500, accuracy=True),
    "moons-200": dict(data="moons", layers=[[16, "relu"], [16, "relu"], [1, "sigmoid"]],
                      loss="bce", opt={"kind": "sgd", "lr": 0.1, "momentum": 0.9}, batch=32,
                      epochs=200, accuracy=True),
    "digits": dict(data="digits", layers=[[128, "relu"], [64, "relu"], [10, "softmax"]],
                   loss="cce", opt={"kind": "adam", "lr": 1e-3}, batch=32, epochs=50,
                   accuracy=True),
    "moons-2000": dict(data="moons", layers=[[16, "relu"], [16, "relu"], [1, "sigmoid"]],
                       loss="bce", opt={"kind": "sgd", "lr": 0.1, "momentum": 0.9}, batch=32,
                       epochs=2000, accuracy=True),
    "moons-20000": dict(data="moons", layers=[[16, "relu"], [16, "relu"], [1, "sigmoid"]],
                        loss="bce", opt={"kind": "sgd", "lr": 0.1, "momentum": 0.9},
                        batch=32, epochs=20000, accuracy=True),
    "large": dict(data="large", layers=[[512, "relu"], [512, "relu"], [10, "softmax"]],
                  loss="cce", opt={"kind": "adam", "lr": 1e-3}, batch=128, epochs=2,
                  accuracy=False),
}
# LeNet-5 on 28x28 one-channel images (issue 13): PyTorch only (the JAX and Keras scripts
# write dense models; they are skipped for these workloads with a message)
for _batch in (32, 128):
    WORKLOADS[f"lenet-{_batch}"] = dict(
        data="images", net="lenet", layers=[], loss="cce",
        opt={"kind": "sgd", "lr": 0.05, "momentum": 0.9}, batch=_batch, epochs=2,
        accuracy=True, only=("nnspec", "base", "torch"))
LENET = """    conv2d 6 5 relu padding=2
    maxpool 2
    conv2d 16 5 relu
    maxpool 2
    flatten
    dense 120 relu
    dense 84 relu
    dense 10 softmax"""
QUICK = ("tiny-1", "logistic", "moons-200", "digits")
FRAMEWORKS = ("nnspec", "base", "torch", "jax", "keras")
MODULES = {"torch": ("torch",), "jax": ("jax", "optax"), "keras": ("keras", "torch")}


# -- data: written once, read by every framework -----------------------------------------------


def make_data(folder: Path, which: set[str]) -> dict[str, dict]:
    """{name: {"train": path, "val": path | None, "inputs": F}} for the data sets used."""
    rng = np.random.default_rng(0)
    out: dict[str, dict] = {}
    if "logistic" in which:  # the study notes': AND of two inputs, 4 samples, no validation
        x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
        out["logistic"] = _save(folder, "logistic", x, np.array([0, 0, 0, 1], np.float32))
    if "moons" in which:  # two moons, 1,000 samples, noise 0.2, standardized; 800/200
        n = 1000
        t = rng.uniform(0, np.pi, n)
        label = rng.integers(0, 2, n)
        x = np.where(label[:, None] == 0, np.c_[np.cos(t), np.sin(t)],
                     np.c_[1 - np.cos(t), 0.5 - np.sin(t)]) + rng.normal(0, 0.2, (n, 2))
        x = (x - x.mean(0)) / x.std(0)
        out["moons"] = _save(folder, "moons", x.astype(np.float32), label.astype(np.float32),
                             val=0.2)
    if "digits" in which:  # scikit-learn's 8x8 digits (specs/data/digits.csv), /16
        with open(ROOT / "specs" / "data" / "digits.csv") as f:
            rows = list(csv.reader(f))
        col = rows[0].index("digit")
        data = np.array(rows[1:], dtype=np.float64)
        x = np.delete(data, col, axis=1) / 16.0
        y = data[:, col].astype(np.int64)
        idx = rng.permutation(len(x))
        out["digits"] = _save(folder, "digits", x[idx].astype(np.float32), y[idx], val=0.2)
    if "large" in which:  # 60,000 synthetic 784-feature samples, 10 classes (a linear teacher)
        x = rng.standard_normal((60000, 784), dtype=np.float32)
        w = rng.standard_normal((784, 10), dtype=np.float32)
        out["large"] = _save(folder, "large", x, (x @ w).argmax(1).astype(np.int64))
    if "images" in which:  # 6,000 random 1x28x28 images, 10 classes (a linear teacher); 5/1
        x = rng.standard_normal((6000, 1, 28, 28), dtype=np.float32)
        w = rng.standard_normal((784, 10), dtype=np.float32)
        y = (x.reshape(len(x), -1) @ w).argmax(1).astype(np.int64)
        out["images"] = _save(folder, "images", x, y, val=1 / 6)
    return out


def _save(folder: Path, name: str, x: np.ndarray, y: np.ndarray, val: float = 0.0) -> dict:
    n_val = int(round(len(x) * val))
    n_train = len(x) - n_val
    train = folder / f"{name}-train.npz"
    np.savez(train, x=x[:n_train], y=y[:n_train])
    entry = {"train": str(train), "val": None, "inputs": int(x.shape[1]),
             "shape": list(x.shape[1:])}
    if n_val:
        entry["val"] = str(folder / f"{name}-val.npz")
        np.savez(entry["val"], x=x[n_train:], y=y[n_train:])
    return entry


# -- what each framework runs ----------------------------------------------------------------


def nnspec_spec(name: str, w: dict, data: dict) -> str:
    """The spec a user writes for the workload (defaults for everything unsaid)."""
    layers = (LENET if w.get("net") == "lenet" else
              "\n".join(f"    dense {u} {a}" for u, a in w["layers"]))
    opt = w["opt"]
    optimizer = (f"sgd(lr={opt['lr']}, momentum={opt['momentum']})" if opt["kind"] == "sgd"
                 else f"adam(lr={opt['lr']})")
    source = f'    source npz("{data["train"]}", x=x, y=y)'
    if data["val"]:
        source += f'\n    validation npz("{data["val"]}", x=x, y=y)'
    loss = "binary_crossentropy" if w["loss"] == "bce" else "categorical_crossentropy"
    metrics = "\n    metrics accuracy" if w["accuracy"] else ""
    shape = " ".join(str(d) for d in data["shape"])
    return (f"model {name.replace('-', '_')} {{\n    input {shape}\n{layers}\n}}\n"
            f"data {{\n{source}\n}}\n"
            f"train {{\n    loss {loss}\n    optimizer {optimizer}\n    epochs {w['epochs']}\n"
            f"    batch {w['batch'] or 'full'}{metrics}\n    seed 0\n}}\n")


def commands(name: str, w: dict, data: dict, work: Path, checkouts: dict[str, Path],
             frameworks: list[str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    spec = work / f"{name}.nn"
    spec.write_text(nnspec_spec(name, w, data))
    cfg = {**{k: w[k] for k in ("layers", "loss", "opt", "batch", "epochs", "accuracy")},
           "net": w.get("net"),
           "train": data["train"], "val": data["val"], "inputs": data["inputs"],
           "threads": THREADS, "cache": str(work / "jax-cache"), "out": str(work / "out" / name)}
    config = work / f"{name}.json"
    config.write_text(json.dumps(cfg))
    out: dict[str, tuple[list[str], dict[str, str]]] = {}
    for fw in frameworks:
        if fw not in w.get("only", FRAMEWORKS):
            continue
        if fw in checkouts:
            runs = work / "runs" / fw
            out[fw] = ([sys.executable, "-m", "nnspec.cli", "run", str(spec), "--out",
                        str(runs / name)], {"PYTHONPATH": str(checkouts[fw])})
        else:
            out[fw] = ([sys.executable, str(SCRIPTS / f"{fw}_run.py"), str(config)],
                       {"KERAS_BACKEND": "torch"} if fw == "keras" else {})
    return out


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",
                                                           "PYTHONPATH")}
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "OPENBLAS_NUM_THREADS"):
        env[var] = str(THREADS)
    env.update(extra)
    return env


def timed(cmd: list[str], extra: dict[str, str], cwd: Path) -> float:
    for path in cmd:  # a run folder from an earlier round: nnspec refuses to overwrite one
        if path.startswith(str(cwd / "runs")):
            shutil.rmtree(path, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=child_env(extra), capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dt


# -- the run ---------------------------------------------------------------------------------


def available(fw: str) -> str | None:
    """Why `fw` cannot run here, or None."""
    import importlib.util

    missing = [m for m in MODULES.get(fw, ()) if importlib.util.find_spec(m) is None]
    return f"{', '.join(missing)} not installed" if missing else None


def versions(frameworks: list[str], checkouts: dict[str, Path]) -> dict[str, str]:
    probe = {"torch": "import torch; print(torch.__version__)",
             "jax": "import jax, optax; print(jax.__version__, 'optax', optax.__version__)",
             "keras": "import keras, torch; print(keras.__version__, 'torch', torch.__version__)"}
    out = {}
    for fw in frameworks:
        code = probe.get(fw, "import nnspec, numba, numpy; print(nnspec.__version__, "
                             "'numba', numba.__version__, 'numpy', numpy.__version__)")
        extra = {"PYTHONPATH": str(checkouts[fw])} if fw in checkouts else {}
        extra.update({"KERAS_BACKEND": "torch"} if fw == "keras" else {})
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=child_env(extra))
        out[fw] = proc.stdout.strip() or proc.stderr.strip()[-200:]
    return out


def cold_nnspec(name: str, cmd: list[str], extra: dict[str, str], work: Path) -> float:
    cache = Path(tempfile.mkdtemp(prefix="numba-cold-", dir=work))
    try:
        return timed(cmd, {**extra, "NUMBA_CACHE_DIR": str(cache)}, work)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}; 2 rounds")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds after the warm-up")
    p.add_argument("--workloads", help=f"comma-separated, of {', '.join(WORKLOADS)}")
    p.add_argument("--frameworks", default="nnspec,torch,jax,keras",
                   help=f"comma-separated, of {', '.join(FRAMEWORKS)}")
    p.add_argument("--baseline", type=Path, help="another nnspec checkout, run as `base`")
    p.add_argument("--cold", action="store_true", help="also time one nnspec run with an "
                   "empty kernel cache (Numba compiles everything: tens of seconds)")
    p.add_argument("--work", type=Path, help="folder for data, specs and runs (default: a "
                   "temporary folder, removed at the end)")
    args = p.parse_args(argv)

    names = (args.workloads.split(",") if args.workloads else
             list(QUICK) if args.quick else list(WORKLOADS))
    repeats = 1 if args.quick and args.repeats == 3 else args.repeats
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}")
    checkouts = {"nnspec": ROOT}
    frameworks = []
    for fw in args.frameworks.split(","):
        if fw == "base":
            continue
        if fw not in FRAMEWORKS:
            p.error(f"unknown framework {fw}")
        why = available(fw)
        if why:
            print(f"skipping {fw}: {why}", file=sys.stderr)
        else:
            frameworks.append(fw)
    if args.baseline is not None:
        checkouts["base"] = args.baseline.resolve()
        frameworks.insert(1, "base")

    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="nnspec-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "out").mkdir(exist_ok=True)
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} (1 min); {os.cpu_count()} CPUs; "
              f"{THREADS} threads each; work folder {work}")
        for fw, v in versions(frameworks, checkouts).items():
            print(f"  {fw}: {v}")
        data = make_data(work, {WORKLOADS[n]["data"] for n in names})
        results = {n: run_workload(n, WORKLOADS[n], data[WORKLOADS[n]["data"]], work,
                                   checkouts, frameworks, repeats, args.cold) for n in names}
        print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")
        print()
        print(table(results, frameworks))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def run_workload(name: str, w: dict, data: dict, work: Path, checkouts: dict[str, Path],
                 frameworks: list[str], repeats: int, cold: bool) -> dict[str, dict]:
    cmds = commands(name, w, data, work, checkouts, frameworks)
    skipped = [fw for fw in frameworks if fw not in cmds]
    if skipped:
        print(f"{name}: skipping {', '.join(skipped)} (no script for this model)", flush=True)
    frameworks = [fw for fw in frameworks if fw in cmds]
    times: dict[str, list[float]] = {fw: [] for fw in frameworks}
    result: dict[str, dict] = {fw: {} for fw in frameworks}
    if cold:
        for fw in frameworks:
            if fw in checkouts:
                result[fw]["cold"] = cold_nnspec(name, *cmds[fw], work)
    for r in range(1 + repeats):
        for fw in frameworks:
            dt = timed(*cmds[fw], work)
            if r == 0:
                result[fw]["first"] = dt
            else:
                times[fw].append(dt)
        print(f"{name} round {r}{' (warm-up)' if r == 0 else ''}: " + "  ".join(
            f"{fw} {result[fw]['first'] if r == 0 else times[fw][-1]:.2f}s"
            for fw in frameworks), flush=True)
    for fw in frameworks:
        result[fw]["median"] = statistics.median(times[fw]) if times[fw] else None
        result[fw]["runs"] = times[fw]
    return result


def table(results: dict[str, dict], frameworks: list[str]) -> str:
    others = [fw for fw in frameworks if fw != "nnspec"]
    head = ["workload", *frameworks, *[f"{fw}/nnspec" for fw in others], "nnspec first"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, res in results.items():
        base = res["nnspec"]["median"]
        cells = [name] + [f"{res[fw]['median']:.2f} s" if fw in res else "-"
                          for fw in frameworks]
        cells += [f"{res[fw]['median'] / base:.2f}x" if fw in res else "-" for fw in others]
        first = f"{res['nnspec']['first']:.2f} s"
        if "cold" in res["nnspec"]:
            first += f" (cold {res['nnspec']['cold']:.1f} s)"
        lines.append("| " + " | ".join(cells + [first]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
