"""Turn a task's dataset split into tensors: class filtering, preprocessing, targets.

Train and val are prepared before training. The test split is prepared by a separate call that
the trainer makes once, after training, so no test label exists in memory while a model trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

import lensbench.data.cache
from lensbench import kinds, registry
from lensbench.data.errors import DataError
from lensbench.data.fingerprint import fingerprint
from lensbench.data.reading import SplitArrays, load_split
from lensbench.lensing.sources import RealDataError
from lensbench.specs import SPLITS, TaskSpec


@dataclass
class TargetScaler:
    """Regression targets: optional log10, then standardised with train statistics."""

    transform: str | None
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray, transform: str | None) -> TargetScaler:
        t = _transform(raw, transform)
        std = t.std(axis=0)
        return cls(transform, t.mean(axis=0), np.where(std > 0, std, 1.0))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return ((_transform(raw, self.transform) - self.mean) / self.std).astype(np.float32)


def _transform(raw: np.ndarray, transform: str | None) -> np.ndarray:
    raw = raw.astype(np.float64)
    if transform == "log10":
        if np.any(raw <= 0):
            raise DataError("log10 target transform got non-positive values")
        return np.log10(raw)
    return raw


@dataclass
class TaskSplit:
    images: torch.Tensor  # (N, C, H, W) float32, preprocessed
    target: torch.Tensor  # (N,) int64 or (N, T) float32
    class_names: np.ndarray  # (N,) the dataset class of each image
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # per-image simulation parameters
    scaler: TargetScaler | None = None  # regression: fitted on train, reused for val and test

    def __len__(self) -> int:
        return len(self.images)


def preprocess(images: np.ndarray, how: str) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if how == "none":
        return x
    flat = x.flatten(1)
    if how == "standardize":
        mean, std = flat.mean(1), flat.std(1)
        return (x - mean[:, None, None, None]) / std.clamp_min(1e-8)[:, None, None, None]
    lo, hi = flat.min(1).values, flat.max(1).values
    return (x - lo[:, None, None, None]) / (hi - lo).clamp_min(1e-8)[:, None, None, None]


def train_split(task: TaskSpec, preset: str, dsdict) -> TaskSplit:
    """The training split as the preset defines it (its ``train_subset``, its fitted target scaler)."""
    return build_split(task, dsdict, "train", per_class=task.preset(preset).train_subset)


def is_external(dataset: str | None) -> bool:
    """True for a registered adapter (file) dataset used as a task's ``test_dataset``: an external
    test set, materialised with every file and evaluated on all its rows (all splits)."""
    return dataset is not None and registry.datasets.get(dataset).adapter is not None


def adapter_root(spec, data_root, cache):
    """The folder a file dataset is read from: prepared first by its preparer when one is registered
    for it (``lensbench.registry.preparers``, e.g. the Space Warps gallery view), else ``data_root``."""
    if spec.name not in registry.preparers:
        return data_root
    return registry.preparers.get(spec.name).prepare(data_root, cache)


def test_set_fingerprint(task: TaskSpec, preset: str | None, cache=None, data_root=None) -> str | None:
    """Fingerprint of the task's ``test_dataset`` as ``materialise`` would build it now (None when the
    task has none): an external set with every file, read from ``adapter_root`` (``preset`` unused);
    a simulated one at the preset's sizes. ``DataError`` naming the folder when external files are
    absent."""
    if task.test_dataset is None:
        return None
    spec = registry.datasets.get(task.test_dataset)
    if is_external(task.test_dataset):
        return fingerprint(spec, None, data_root=adapter_root(spec, data_root, cache), cache=cache)
    return fingerprint(spec, dict(task.preset(preset).sizes), data_root=data_root, cache=cache)


def check_test_data(task: TaskSpec, cache=None, data_root=None) -> None:
    """Fail early (``DataError`` naming the folder) when an external test set's files are absent."""
    if is_external(task.test_dataset):
        test_set_fingerprint(task, None, cache=cache, data_root=data_root)


def materialise(task: TaskSpec, preset: str, *, dataset: str | None = None, cache=None, data_root=None,
                progress: bool = True):
    """``(DatasetSpec, DatasetDict)`` of the task's dataset (or of ``dataset``) at the preset's sizes;
    an external test set (``is_external``) with every file."""
    spec = registry.datasets.get(dataset or task.dataset)
    if tuple(spec.image_shape) != tuple(task.input_shape):
        raise DataError(
            f"task {task.id!r} expects images {task.input_shape}, dataset {spec.name!r} has {spec.image_shape}"
        )
    if is_external(dataset):
        root = adapter_root(spec, data_root, cache)
        return spec, lensbench.data.cache.materialise(spec, None, cache=cache, data_root=root, progress=progress)
    sizes = task.preset(preset).sizes
    try:
        dsdict = lensbench.data.cache.materialise(spec, sizes, cache=cache, data_root=data_root, progress=progress)
        return spec, dsdict
    except RealDataError as e:  # a recipe that reads real files (hosts, sources) without them
        raise DataError(str(e)) from e


def build_split(task: TaskSpec, dsdict, split: str, scaler: TargetScaler | None = None,
                per_class: int | None = None) -> TaskSplit:
    """Images and targets of one split. Anomaly train/val hold the normal classes only.
    ``per_class`` keeps the first n images of each class (the preset's ``train_subset``).
    ``split="all"`` concatenates train, val and test (an external test set, evaluated whole)."""
    kind = kinds.get(task.kind)
    classes = task.classes if split in ("test", "all") else task.train_classes
    if split == "all":
        parts = [load_split(dsdict, s, classes=list(classes)) for s in SPLITS]
        arr = SplitArrays(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]),
                               parts[0].class_names,
                               {k: np.concatenate([p.columns[k] for p in parts]) for k in parts[0].columns})
    else:
        arr = load_split(dsdict, split, classes=list(classes))
    if per_class is not None:
        keep = np.concatenate([np.flatnonzero(arr.labels == lab)[:per_class] for lab in np.unique(arr.labels)])
        keep.sort()
        arr = SplitArrays(arr.images[keep], arr.labels[keep], arr.class_names,
                               {k: v[keep] for k, v in arr.columns.items()})
    names = np.asarray(arr.class_names)[arr.labels] if len(arr.class_names) else np.asarray([])
    images = preprocess(arr.images, task.preprocessing)
    missing = [c for c in kind.columns(task) if c not in arr.columns]
    if missing:
        raise DataError(f"task {task.id!r}: dataset has no column(s) {missing}; it has {sorted(arr.columns)}")
    target = kind.targets(task, names, arr.columns)  # labels, or raw target columns (lensbench.kinds)
    if kind.standardised_targets:
        if scaler is None:
            if split != "train":
                raise ValueError("the target scaler is fitted on train only")
            scaler = TargetScaler.fit(target, task.target_transform)
        target = scaler.apply(target)
    return TaskSplit(images, torch.from_numpy(target), names, arr.columns, scaler)

