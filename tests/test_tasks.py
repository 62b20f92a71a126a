"""The v1 task suite: every task is well formed, its splits are disjoint and fixed, and the
anomaly task trains on no_sub only."""

from __future__ import annotations

import numpy as np
import pytest

from lensbench.data import store as data
from lensbench import registry
from lensbench.data import taskdata


def test_every_task_is_complete():
    tasks = registry.tasks.all()
    assert len(tasks) >= 13
    for t in tasks:
        ds = registry.datasets.get(t.dataset)
        assert tuple(ds.image_shape) == tuple(t.input_shape), t.id
        assert set(t.classes) <= set(ds.classes), t.id
        assert {"quick", "standard"} <= set(t.presets), t.id
        assert t.description and t.citation and t.default_models, t.id
        assert t.seeds == (0, 1, 2), t.id
        if t.kind == "regression":
            assert set(t.target) <= set(ds.columns), t.id
        if t.test_dataset:
            assert t.test_dataset in registry.datasets, t.id
        assert t.__class__.__module__ == "lensbench.specs"
    anomaly = registry.tasks.get("anomaly/lensbench-v1")
    assert anomaly.normal_classes == ("no_sub",) and anomaly.train_classes == ("no_sub",)


def test_lowdata_tasks_share_one_build_and_train_on_a_prefix():
    main, low = registry.tasks.get("substructure/lensbench-v1"), registry.tasks.get("lowdata/lensbench-v1-250")
    assert main.presets["quick"].sizes == low.presets["quick"].sizes
    assert low.presets["quick"].train_per_class == 250 < main.presets["quick"].train_per_class


@pytest.fixture(scope="module")
def model2_tiny(tmp_path_factory):
    spec = registry.datasets.get("deeplense-model2")
    sizes = {"train": 4, "val": 3, "test": 3}
    cache = tmp_path_factory.mktemp("cache")
    return spec, sizes, cache, data.materialise(spec, sizes, cache=cache, progress=False)


def test_splits_are_disjoint_and_fixed(model2_tiny, tmp_path):
    spec, sizes, _, ds = model2_tiny
    arrays = {s: data.load_split(ds, s).images for s in ("train", "val", "test")}
    flat = {s: {a.tobytes() for a in arr} for s, arr in arrays.items()}
    assert sum(len(v) for v in flat.values()) == sum(len(a) for a in arrays.values())  # no image twice
    again = data.materialise(spec, sizes, cache=tmp_path, progress=False)  # fresh cache: rebuilt
    for s, arr in arrays.items():
        assert np.array_equal(arr, data.load_split(again, s).images)


def test_anomaly_training_split_holds_only_no_sub(model2_tiny):
    task = registry.tasks.get("anomaly/lensbench-v1")
    _, _, _, ds = model2_tiny
    train = taskdata.build_split(task, ds, "train", per_class=2)
    val = taskdata.build_split(task, ds, "val")
    test = taskdata.build_split(task, ds, "test")
    assert set(train.class_names) == set(val.class_names) == {"no_sub"} and len(train) == 2
    assert set(test.class_names) == {"no_sub", "cdm", "axion"}
    assert test.target.tolist() == [0 if c == "no_sub" else 1 for c in test.class_names]
