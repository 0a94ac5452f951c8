"""The benchmark's work as a Keras 3 user writes it (bench_e2e.py runs it), torch backend.

`python keras_run.py CONFIG.json`: `model.fit(x, y, validation_split=..., verbose=2)` (one
printed line per epoch); the training and validation sets are concatenated, validation last,
so `validation_split` holds out exactly the benchmark's validation file; weights saved.
"""

import json
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")


def main(path):
    cfg = json.load(open(path))
    import torch

    torch.set_num_threads(cfg["threads"])
    import keras

    classes = cfg["loss"] == "cce"
    train = np.load(cfg["train"])
    x, y = train["x"].astype(np.float32), train["y"]
    split = 0.0
    if cfg["val"]:
        val = np.load(cfg["val"])
        split = len(val["x"]) / (len(x) + len(val["x"]))
        x = np.concatenate([x, val["x"].astype(np.float32)])
        y = np.concatenate([y, val["y"]])
    y = y.astype(np.int64 if classes else np.float32)
    layers = [keras.Input((cfg["inputs"],))]
    layers += [keras.layers.Dense(units, activation=act) for units, act in cfg["layers"]]
    model = keras.Sequential(layers)
    opt = cfg["opt"]
    optimizer = (keras.optimizers.SGD(opt["lr"], momentum=opt["momentum"]) if opt["kind"] == "sgd"
                 else keras.optimizers.Adam(opt["lr"]))
    loss = "sparse_categorical_crossentropy" if classes else "binary_crossentropy"
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=["accuracy"] if cfg["accuracy"] else [])
    n_train = len(x) - int(round(split * len(x)))
    model.fit(x, y, batch_size=cfg["batch"] or n_train, epochs=cfg["epochs"],
              validation_split=split, shuffle=True, verbose=2)
    model.save_weights(cfg["out"] + ".weights.h5")


if __name__ == "__main__":
    main(sys.argv[1])
