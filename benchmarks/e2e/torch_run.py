"""The benchmark's work as a PyTorch user writes it (benchmarks/bench_e2e.py runs it).

`python torch_run.py CONFIG.json`: DataLoader(TensorDataset(...), shuffle=True), the training
loop, and each epoch the validation loss and accuracy when there is a validation set; one
printed line per epoch; the weights saved at the end.
"""

import json
import sys

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main(path):
    cfg = json.load(open(path))
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    train = np.load(cfg["train"])
    x = torch.from_numpy(train["x"].astype(np.float32))
    classes = cfg["loss"] == "cce"
    y = torch.from_numpy(train["y"].astype(np.int64 if classes else np.float32))
    if not classes:
        y = y.reshape(-1, 1)
    layers, n_in = [], cfg["inputs"]
    if cfg.get("net") == "lenet":  # LeNet-5 on 1x28x28 (bench_e2e.LENET)
        layers = [nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                  nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                  nn.Linear(84, 10)]
    for units, act in cfg["layers"]:
        layers.append(nn.Linear(n_in, units))
        if act == "relu":
            layers.append(nn.ReLU())
        n_in = units  # the last layer's sigmoid/softmax is in the loss (logits out)
    model = nn.Sequential(*layers)
    loss_fn = nn.CrossEntropyLoss() if classes else nn.BCEWithLogitsLoss()
    opt = cfg["opt"]
    if opt["kind"] == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=opt["lr"], momentum=opt["momentum"])
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=opt["lr"])
    batch = cfg["batch"] or len(x)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
    if cfg["val"]:
        val = np.load(cfg["val"])
        xv = torch.from_numpy(val["x"].astype(np.float32))
        yv = torch.from_numpy(val["y"].astype(np.int64 if classes else np.float32))
        if not classes:
            yv = yv.reshape(-1, 1)

    def accuracy(logits, target):
        pred = logits.argmax(1) if classes else (logits >= 0).float()
        return (pred == target).float().mean().item()

    for epoch in range(cfg["epochs"]):
        model.train()
        total, correct, seen = 0.0, 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            if cfg["accuracy"]:
                correct += accuracy(out.detach(), yb) * len(xb)
            seen += len(xb)
        line = f"epoch {epoch + 1} loss {total / seen:.4f}"
        if cfg["accuracy"]:
            line += f" accuracy {correct / seen:.4f}"
        if cfg["val"]:
            model.eval()
            with torch.no_grad():
                out = model(xv)
                line += f" val_loss {loss_fn(out, yv).item():.4f}"
                line += f" val_accuracy {accuracy(out, yv):.4f}"
        print(line, flush=True)
    torch.save(model.state_dict(), cfg["out"] + ".pt")


if __name__ == "__main__":
    main(sys.argv[1])
