"""The v1 task suite: every task is well formed, its splits are disjoint and fixed, and the
anomaly task trains on no_sub only. Tasks are checked against their datasets when registered
(``specs.check_task``) and derive their metric direction from the primary metric."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_task

from lensbench import registry
from lensbench.data import taskdata
from lensbench.data.cache import materialise
from lensbench.data.reading import load_split
from lensbench.specs import DatasetSpec, SpecError, check_task


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
    return spec, sizes, cache, materialise(spec, sizes, cache=cache, progress=False)


def test_splits_are_disjoint_and_fixed(model2_tiny, tmp_path):
    spec, sizes, _, ds = model2_tiny
    arrays = {s: load_split(ds, s).images for s in ("train", "val", "test")}
    flat = {s: {a.tobytes() for a in arr} for s, arr in arrays.items()}
    assert sum(len(v) for v in flat.values()) == sum(len(a) for a in arrays.values())  # no image twice
    again = materialise(spec, sizes, cache=tmp_path, progress=False)  # fresh cache: rebuilt
    for s, arr in arrays.items():
        assert np.array_equal(arr, load_split(again, s).images)


def test_anomaly_training_split_holds_only_no_sub(model2_tiny):
    task = registry.tasks.get("anomaly/lensbench-v1")
    _, _, _, ds = model2_tiny
    train = taskdata.build_split(task, ds, "train", per_class=2)
    val = taskdata.build_split(task, ds, "val")
    test = taskdata.build_split(task, ds, "test")
    assert set(train.class_names) == set(val.class_names) == {"no_sub"} and len(train) == 2
    assert set(test.class_names) == {"no_sub", "cdm", "axion"}
    assert test.target.tolist() == [0 if c == "no_sub" else 1 for c in test.class_names]


DATASETS = {
    "sim": DatasetSpec("sim", 1, "d", ("no_sub", "cdm", "axion"), (1, 16, 16), 0.1, recipe="r",
                       columns=("radius", "snr")),
    "wide": DatasetSpec("wide", 1, "d", ("no_sub", "cdm"), (1, 32, 32), 0.05, recipe="r", columns=("radius",)),
    "sim-hst": DatasetSpec("sim-hst", 1, "d", ("no_sub", "cdm"), (1, 16, 16), 0.05, recipe="r", columns=()),
}


@pytest.mark.parametrize(("kind", "changes", "field"), [
    ("classification", {"dataset": "nope"}, "dataset"),
    ("classification", {"test_dataset": "nope"}, "test_dataset"),
    ("classification", {"input_shape": (3, 16, 16)}, "input_shape"),
    ("classification", {"test_dataset": "wide"}, "input_shape"),  # the test set's images differ
    ("classification", {"classes": ("no_sub", "lens")}, "classes"),
    ("classification", {"classes": ("no_sub", "axion"), "test_dataset": "sim-hst"}, "classes"),
    ("classification", {"pixel_scale": 0.2}, "pixel_scale"),
    ("regression", {"target": ("mass",)}, "target"),
    ("classification", {"slice_by": ("theta_E",)}, "slice_by"),
    ("classification", {"slice_by": ("snr",), "test_dataset": "sim-hst"}, "slice_by"),  # sliced on the test set
])
def test_registration_check_names_the_task_and_the_field(kind, changes, field):
    task = make_task(kind, **{"dataset": "sim", **changes})
    with pytest.raises(SpecError, match=f"TaskSpec 'test/{kind}': field '{field}'"):
        check_task(task, DATASETS)


def test_registration_check_accepts_a_consistent_task():
    for task in (make_task(dataset="sim"), make_task(dataset="sim", pixel_scale=0.1, slice_by=("snr",)),
                 make_task("regression", dataset="sim", target=("radius",)), make_task("anomaly", dataset="sim"),
                 make_task(dataset="sim", test_dataset="sim-hst")):  # the test set may have its own pixel scale
        check_task(task, DATASETS)


def test_the_task_registry_runs_the_check():
    task = make_task(id="test/no-dataset", dataset="no-such-dataset")
    with pytest.raises(SpecError, match="'test/no-dataset': field 'dataset'"):
        registry.tasks.register(task, "test")
    assert "test/no-dataset" not in registry.tasks


def test_metric_direction_is_derived_from_the_primary_metric():
    assert make_task("regression", higher_is_better=None).higher_is_better is False
    assert make_task(higher_is_better=None).higher_is_better is True
    with pytest.raises(SpecError, match="field 'higher_is_better'.*leave the field out"):
        make_task(higher_is_better=False)
    with pytest.raises(SpecError, match="field 'primary_metric'.*unknown metric 'banana'"):
        make_task(primary_metric="banana")
    for t in registry.tasks.all():  # the v1 tasks leave it to the metric
        assert t.higher_is_better is (t.primary_metric != "mse"), t.id
