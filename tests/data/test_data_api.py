"""The small public helpers: task_of, n_outputs_of, manifest/schema contents, summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_helpers import load, write

from nnspec import ir
from nnspec.data import TASKS, n_outputs_of, task_of
from nnspec.ops.layers import Dense, Dropout
from nnspec.ops.losses import BinaryCrossentropy, CategoricalCrossentropy, Huber, Mae, Mse
from nnspec.ops.sources import Csv


@pytest.mark.parametrize("loss, task", [(Mse(), "regression"), (Mae(), "regression"),
                                        (Huber(), "regression"),
                                        (BinaryCrossentropy(), "binary"),
                                        (CategoricalCrossentropy(), "multiclass")])
def test_task_of(loss, task):
    spec = ir.Spec(model=ir.Model(input=3, layers=(Dense(units=5), Dropout(rate=0.1))),
                   train=ir.Train(loss=loss))
    assert task_of(spec) == task and task in TASKS
    assert n_outputs_of(spec.model) == 5


def test_manifest_and_summary(tmp_path):
    write(tmp_path, "d.csv", "a,b,k\n" + "".join(f"{i},{i % 3},{'xyz'[i % 3]}\n"
                                                for i in range(30)))
    ds = load(Csv(path="d.csv", target="k"), folder=tmp_path, n_inputs=2, n_outputs=3,
              task="multiclass", split=ir.Split(validation=0.2, test=0.1, stratify=True),
              scale="normalize")
    m = json.loads(json.dumps(ds.manifest()))
    assert m["sizes"] == {"train": 21, "val": 6, "test": 3}
    assert m["classes"] == ["x", "y", "z"] and m["feature_names"] == ["a", "b"]
    assert m["scaler"]["kind"] == "normalize"
    assert m["scaler"]["min"] == [float(ds.train.rows.min()), 0.0]  # a = row, b = row % 3
    assert m["scaler"]["max"] == [float(ds.train.rows.max()), 2.0]
    assert m["files"][0]["path"] == "d.csv" and len(m["files"][0]["sha256"]) == 64
    assert m["layout"] == {"format": "csv", "header": True, "delimiter": ",", "ncols": 3,
                           "features": [0, 1], "target": 2}
    assert ds.summary() == [
        "data: train 21, val 6, test 3 samples, 2 features, task multiclass, scaling normalize",
        "train classes: x 7, y 7, z 7"]
    assert ds.train.y.dtype == np.int64
