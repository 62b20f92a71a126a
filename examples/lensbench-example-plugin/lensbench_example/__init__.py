"""Example LensBench plugin: one of each thing a package can add, through entry points only.

Install it next to LensBench (``pip install -e examples/lensbench-example-plugin``); then
``lensbench list models`` shows ``example-tiny-cnn``, ``lensbench list tasks`` shows
``example/rings`` and ``lensbench run --task example/rings --model example-tiny-cnn`` simulates the
toy data with the plugin's recipe and trains the plugin's model on it. The whole registration is
the ``[project.entry-points.*]`` tables of this package's ``pyproject.toml``; ``ARCHITECTURE.md``
walks through each door. It imports nothing but LensBench's public API (``lensbench.*`` names).

- a recipe (``lensbench.recipes``): ``RingsRecipe``, blobs (``no_sub``) vs rings (``cdm``);
- a dataset (``lensbench.datasets``) made by that recipe;
- a task (``lensbench.tasks``) on that dataset;
- a model (``lensbench.models``): ``TinyCNN``;
- a file format (``lensbench.formats``): ``example-txt``, ``<split>/<class>/*.txt`` pixel tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from lensbench import Budget, DataError, DatasetSpec, FolderFormat, ModelSpec, Preset, TaskSpec

SIZE = 16


class TinyCNN(nn.Module):
    """Three conv blocks and a linear head; works for any input size and channel count."""

    def __init__(self, in_channels: int, n_outputs: int, width: int = 16):
        super().__init__()
        blocks, c = [], in_channels
        for out in (width, 2 * width, 4 * width):
            blocks += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            c = out
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def tiny_cnn(task) -> nn.Module:
    """A tiny 3-block CNN (example plugin)."""
    return TinyCNN(task.input_shape[0], task.n_outputs)


def specs() -> list[ModelSpec]:
    """The ``lensbench.models`` entry point."""
    return [ModelSpec(name="example-tiny-cnn", factory=tiny_cnn, family="user",
                      kinds=("classification", "regression"), description="tiny 3-block CNN (example plugin)",
                      source="lensbench_example:tiny_cnn", config={"width": 16})]


class RingsRecipe:
    """A toy simulator: a Gaussian blob (``no_sub``) or a ring of radius ``radius`` px (``cdm``),
    plus unit Gaussian noise. Deterministic in ``seed`` (the dataset cache relies on it)."""

    name, version, description = "example-rings", 1, "toy blobs vs rings (example plugin)"
    classes, image_shape, pixel_scale, columns = ("no_sub", "cdm"), (1, SIZE, SIZE), 0.1, ("radius",)

    def generate(self, class_name: str, n: int, seed: int, *, data_root=None, device=None):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
        rr = np.hypot(xx, yy)[None]
        radius = rng.uniform(SIZE / 8, SIZE / 3, n).astype(np.float32)
        r = radius[:, None, None]
        clean = np.exp(-((rr / r) ** 2)) if class_name == "no_sub" else np.exp(-(((rr - r) / 1.5) ** 2))
        images = 3 * clean + rng.normal(size=clean.shape)
        return images[:, None].astype(np.float32), {"radius": radius}


def recipes() -> list[RingsRecipe]:
    """The ``lensbench.recipes`` entry point."""
    return [RingsRecipe()]


def datasets() -> list[DatasetSpec]:
    """The ``lensbench.datasets`` entry point: the recipe's dataset (shape and pixel scale from it)."""
    r = RingsRecipe()
    return [DatasetSpec(r.name, 1, r.description, r.classes, r.image_shape, r.pixel_scale, recipe=r.name,
                        columns=r.columns)]


def tasks() -> list[TaskSpec]:
    """The ``lensbench.tasks`` entry point: blob-vs-ring classification, scored by macro AUC."""
    quick = Preset({"train": 128, "val": 64, "test": 64}, Budget(epochs=3, batch_size=32, lr=3e-3))
    return [TaskSpec(id="example/rings", version=1, kind="classification", dataset="example-rings",
                     description="blobs vs rings (example plugin)", classes=("no_sub", "cdm"),
                     target=("label",), primary_metric="auc_macro", presets={"quick": quick},
                     input_shape=(1, SIZE, SIZE), pixel_scale=0.1)]


class TextFormat(FolderFormat):
    """``<root>/<split>/<class>/*.txt``: each file one image as a whitespace table of pixel values
    (``numpy.loadtxt``, no code runs from the file); splits ``train`` and ``test`` (``val`` optional)."""

    name = "example-txt"

    def layout(self, root: Path, classes: tuple[str, ...] | None) -> dict:
        out = {}
        for split in ("train", "val", "test"):
            folder = root / split
            if folder.is_dir():
                found = {d.name: sorted(d.glob("*.txt")) for d in sorted(folder.iterdir()) if d.is_dir()}
                out[split] = {c: found.get(c, []) for c in (classes or tuple(found))}
        if "train" not in out or "test" not in out:
            raise DataError(f"{root}: expected train/ and test/ folders of class folders of .txt files")
        return out

    def read(self, item) -> tuple[np.ndarray, dict[str, float]]:
        try:
            return np.loadtxt(item.path, dtype=np.float32, ndmin=2)[None], {}
        except ValueError as exc:
            raise DataError(f"{item.path}: not a table of numbers ({exc})") from exc


def formats() -> list[TextFormat]:
    """The ``lensbench.formats`` entry point."""
    return [TextFormat()]
