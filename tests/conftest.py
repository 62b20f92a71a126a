"""Shared fixtures: tiny deterministic tasks and splits built in the test itself (no simulator)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lensbench.data.taskdata import TargetScaler, TaskSplit
from lensbench.specs import Budget, Preset, TaskSpec

torch.set_num_threads(min(2, os.cpu_count() or 1))
pytest_plugins = ("cluster_parts",)  # Ray cluster, PostgreSQL + MLflow server fixtures (session-wide)
REPO = Path(__file__).resolve().parent.parent


# Where the real data is looked for: ``LENSBENCH_REAL_DATA`` or ``../shared/data/real`` beside the repo.
REAL_DATA = Path(os.environ.get("LENSBENCH_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


def real_data_root() -> Path | None:
    """``REAL_DATA`` when it exists, else None (tests skip with a reason)."""
    return REAL_DATA if REAL_DATA.is_dir() else None


def make_task(kind: str = "classification", epochs: int = 3, size: int = 16, **kw) -> TaskSpec:
    classes = kw.pop("classes", ("no_sub", "cdm"))
    target = kw.pop("target", ("label",) if kind != "regression" else ("radius",))
    budget = Budget(epochs=epochs, batch_size=16, lr=3e-3, weight_decay=0.0, patience=kw.pop("patience", None))
    sizes = {"train": 64, "val": 32, "test": 32}
    defaults = {
        "id": f"test/{kind}", "version": 1, "kind": kind, "dataset": "toy", "description": "toy task",
        "classes": classes, "target": target,
        "primary_metric": {"classification": "auc_macro", "regression": "mse", "anomaly": "auc"}[kind],
        "higher_is_better": kind != "regression", "presets": {"quick": Preset(sizes, budget)},
        "input_shape": (1, size, size), "normal_classes": ("no_sub",) if kind == "anomaly" else (),
    }
    defaults.update(kw)
    return TaskSpec(**defaults)


def toy_images(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class 0: a Gaussian blob; class 1: a ring of radius r. Returns images, labels, radii."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    rr = np.hypot(xx, yy)
    labels = np.arange(n) % 2
    radii = rng.uniform(size / 8, size / 3, n)
    imgs = np.where(labels[:, None, None] == 0, np.exp(-(rr[None] / radii[:, None, None]) ** 2),
                    np.exp(-((rr[None] - radii[:, None, None]) / 1.5) ** 2))
    imgs = imgs + 0.3 * rng.normal(size=imgs.shape)
    return imgs[:, None].astype(np.float32), labels, radii.astype(np.float32)


def toy_split(task: TaskSpec, n: int, seed: int, scaler: TargetScaler | None = None) -> TaskSplit:
    from lensbench.data.taskdata import preprocess

    imgs, labels, radii = toy_images(n, task.input_shape[-1], seed)
    names = np.asarray(["no_sub", "cdm"])[labels]
    if task.kind == "regression":
        scaler = scaler or TargetScaler.fit(radii[:, None], None)
        target = torch.from_numpy(scaler.apply(radii[:, None]))
    else:
        target = torch.from_numpy(labels.astype(np.int64))
    return TaskSplit(preprocess(imgs, "standardize"), target, names, {"radius": radii}, scaler)


@pytest.fixture
def toy_task():
    return make_task()


class ToyRecipe:
    """A tiny deterministic stand-in for a simulator recipe: blob (no_sub) vs ring (cdm)."""

    name, version, classes, image_shape, pixel_scale = "toy", 1, ("no_sub", "cdm"), (1, 16, 16), 0.1
    columns = ("radius",)
    description = "toy blobs and rings"

    def generate(self, class_name, n, seed, *, data_root=None, device=None):
        imgs, _, radii = toy_images(2 * n, 16, seed)
        pick = slice(0, None, 2) if class_name == "no_sub" else slice(1, None, 2)
        return imgs[pick], {"radius": radii[pick]}


@pytest.fixture
def toy_bench(tmp_path, monkeypatch):
    """Register a toy dataset, toy tasks (classification, regression, anomaly) and a tiny model;
    data cache, results and MLflow all under tmp_path."""
    import sys

    from lensbench import registry
    from lensbench.data import simulated
    from lensbench.run.runner import RunOptions
    from lensbench.specs import DatasetSpec, ModelSpec

    sys.path.insert(0, str(REPO / "examples" / "lensbench-example-plugin"))
    from lensbench_example import tiny_cnn

    monkeypatch.setattr(simulated, "get_recipe", lambda name: ToyRecipe())
    monkeypatch.setenv("LENSBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    added = []

    def add(reg, spec, name):
        reg.register(spec, "test")
        added.append((reg, name))

    add(registry.datasets, DatasetSpec("toy", 1, "toy", ("no_sub", "cdm"), (1, 16, 16), 0.1, recipe="toy",
                                       columns=("radius",)), "toy")
    for kind in ("classification", "regression", "anomaly"):
        task = make_task(kind, epochs=2)
        add(registry.tasks, task, task.id)
    add(registry.models, ModelSpec("toy-cnn", tiny_cnn, "user", ("classification", "regression"), "tiny"),
        "toy-cnn")
    opts = RunOptions(results_dir=tmp_path / "results", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
                      cache=tmp_path / "cache", progress=False)
    yield opts
    for reg, name in added:
        reg.unregister(name)
