"""Frozen, validated specifications: what a dataset, a task and a model are.

Every spec checks itself at construction and raises ``SpecError`` with a message naming the spec,
the field and what was expected, so a bad registration fails at import time, not mid-sweep.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

TASK_KINDS = ("classification", "regression", "anomaly")
SPLITS = ("train", "val", "test")
FAMILIES = ("baseline", "pinn", "ablation", "reference", "user")
PREPROCESSING = ("standardize", "minmax", "none")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]*(/[a-z0-9][a-z0-9_.\-]*)?$")


class SpecError(ValueError):
    """A spec was constructed with an invalid field."""


def _fail(kind: str, name: str, fieldname: str, msg: str) -> None:
    raise SpecError(f"{kind} {name!r}: field {fieldname!r} {msg}")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: made by a simulator recipe (``recipe``) or read by an adapter from files.

    ``classes`` are the class names in label order (label i is ``classes[i]``); ``columns`` are the
    per-image float parameters stored beside each image (lens, source, substructure, SNR...).
    ``pixel_scale`` is arcsec per pixel (0 when unknown, e.g. PNG cutouts).
    """

    name: str
    version: int
    description: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]  # (C, H, W)
    pixel_scale: float
    recipe: str | None = None  # lensing recipe name, for simulated datasets
    adapter: str | None = None  # "deeplense" | "lens-finding" | "cutouts", for file datasets
    seed: int = 0
    columns: tuple[str, ...] = ()
    citation: str = ""
    licence: str = "CC-BY-4.0"

    def __post_init__(self) -> None:
        k = "DatasetSpec"
        if not _ID.match(self.name):
            _fail(k, self.name, "name", "must be lower-case letters, digits, '-', '_', '.'")
        if not isinstance(self.version, int) or self.version < 1:
            _fail(k, self.name, "version", f"must be an integer >= 1, got {self.version!r}")
        if (self.recipe is None) == (self.adapter is None):
            _fail(k, self.name, "recipe/adapter", "exactly one of recipe and adapter must be set")
        if not self.classes or len(set(self.classes)) != len(self.classes):
            _fail(k, self.name, "classes", f"must be non-empty and unique, got {self.classes!r}")
        if len(self.image_shape) != 3 or any(int(s) < 1 for s in self.image_shape):
            _fail(k, self.name, "image_shape", f"must be (C, H, W), got {self.image_shape!r}")
        if self.pixel_scale < 0:
            _fail(k, self.name, "pixel_scale", "must be >= 0 (arcsec per pixel)")

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"


@dataclass(frozen=True)
class Budget:
    """The fixed training budget of a task preset. A model cannot change it."""

    epochs: int
    batch_size: int
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int | None = None  # early stopping on val, in epochs; None = no early stop

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise SpecError(f"Budget: invalid values {self!r}")
        if self.patience is not None and self.patience < 1:
            raise SpecError(f"Budget: patience must be >= 1 or None, got {self.patience}")


@dataclass(frozen=True)
class Preset:
    """Split sizes to materialise (images per class per split) and the training budget.

    ``train_subset`` trains on the first n images per class of the stored train split, so tasks
    that differ only in training-set size (low-data tasks) share one materialised dataset.
    """

    sizes: Mapping[str, int]
    budget: Budget
    train_subset: int | None = None

    def __post_init__(self) -> None:
        if set(self.sizes) != set(SPLITS) or any(int(v) < 1 for v in self.sizes.values()):
            raise SpecError(f"Preset: sizes must give train/val/test >= 1, got {dict(self.sizes)}")
        if self.train_subset is not None and not 1 <= self.train_subset <= self.sizes["train"]:
            raise SpecError(f"Preset: train_subset must be in [1, {self.sizes['train']}], got {self.train_subset}")

    @property
    def train_per_class(self) -> int:
        return self.train_subset or int(self.sizes["train"])


@dataclass(frozen=True)
class TaskSpec:
    """A versioned task. Changing anything that changes a number means bumping ``version``.

    - classification: ``classes`` are the labels (in order); ``target`` is ``"label"``.
    - regression: ``target`` names the dataset columns to predict (standardised on train);
      ``target_transform`` may be ``"log10"`` (applied before standardising).
    - anomaly: trained on ``normal_classes`` only; every other class in ``classes`` is an anomaly
      (positive). Models must implement ``anomaly_score(x)``.
    """

    id: str
    version: int
    kind: str
    dataset: str
    description: str
    classes: tuple[str, ...]
    target: tuple[str, ...]
    primary_metric: str
    higher_is_better: bool
    presets: Mapping[str, Preset]
    input_shape: tuple[int, int, int]
    pixel_scale: float = 0.0
    secondary_metrics: tuple[str, ...] = ()
    normal_classes: tuple[str, ...] = ()
    target_transform: str | None = None
    preprocessing: str = "standardize"
    seeds: tuple[int, ...] = (0, 1, 2)
    default_models: tuple[str, ...] = ()
    test_dataset: str | None = None  # domain shift: evaluate on another dataset
    slice_by: tuple[str, ...] = ()  # dataset columns to report the test metric per bin of (diagnostics)
    citation: str = ""

    def __post_init__(self) -> None:
        k = "TaskSpec"
        if not _ID.match(self.id) or "/" not in self.id:
            _fail(k, self.id, "id", "must look like 'family/name' (lower case)")
        if not isinstance(self.version, int) or self.version < 1:
            _fail(k, self.id, "version", f"must be an integer >= 1, got {self.version!r}")
        if self.kind not in TASK_KINDS:
            _fail(k, self.id, "kind", f"must be one of {TASK_KINDS}, got {self.kind!r}")
        if not self.classes:
            _fail(k, self.id, "classes", "must name at least one dataset class")
        if self.kind == "classification" and (len(self.classes) < 2 or self.target != ("label",)):
            _fail(k, self.id, "classes/target", "classification needs >= 2 classes, target ('label',)")
        if self.kind == "regression" and (not self.target or "label" in self.target):
            _fail(k, self.id, "target", "regression needs one or more dataset columns")
        if self.kind == "anomaly" and (not self.normal_classes or not set(self.normal_classes) < set(self.classes)):
            _fail(k, self.id, "normal_classes", "must be a proper subset of classes")
        if self.target_transform not in (None, "log10"):
            _fail(k, self.id, "target_transform", "must be None or 'log10'")
        if self.preprocessing not in PREPROCESSING:
            _fail(k, self.id, "preprocessing", f"must be one of {PREPROCESSING}")
        if not self.presets or "quick" not in self.presets:
            _fail(k, self.id, "presets", "must define at least the 'quick' preset")
        if len(self.input_shape) != 3:
            _fail(k, self.id, "input_shape", f"must be (C, H, W), got {self.input_shape!r}")
        if not self.seeds:
            _fail(k, self.id, "seeds", "must list at least one seed")

    @property
    def n_outputs(self) -> int:
        """Width of the model output: classes for classification, targets for regression."""
        if self.kind == "classification":
            return len(self.classes)
        if self.kind == "regression":
            return len(self.target)
        return 0

    @property
    def train_classes(self) -> tuple[str, ...]:
        return self.normal_classes if self.kind == "anomaly" else self.classes

    def preset(self, name: str) -> Preset:
        if name not in self.presets:
            raise SpecError(f"task {self.id!r} has no preset {name!r}; it has {sorted(self.presets)}")
        return self.presets[name]

    def to_dict(self) -> dict:
        return asdict(self)

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: ``factory(task) -> nn.Module`` plus metadata.

    The module's ``forward(x)`` takes images (N, C, H, W) and returns logits (N, K) for
    classification or standardised predictions (N, T) for regression. Optional hooks:
    ``loss(batch, output) -> dict[str, Tensor]`` with the total under ``"loss"`` and named parts
    beside it (all logged); ``anomaly_score(x) -> Tensor (N,)`` (higher = more anomalous);
    ``fit_classical(x, y)`` for non-gradient models (the trainer calls it once on train).
    """

    name: str
    factory: Callable
    family: str
    kinds: tuple[str, ...]
    description: str
    source: str = ""  # where the code lives: module:function or a URL
    twin: str | None = None  # for a PINN: its physics-off ablation, and vice versa
    config: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        k = "ModelSpec"
        if not _ID.match(self.name):
            _fail(k, self.name, "name", "must be lower-case letters, digits, '-', '_', '.'")
        if not callable(self.factory):
            _fail(k, self.name, "factory", "must be callable: factory(task) -> nn.Module")
        if self.family not in FAMILIES:
            _fail(k, self.name, "family", f"must be one of {FAMILIES}, got {self.family!r}")
        if not self.kinds or not set(self.kinds) <= set(TASK_KINDS):
            _fail(k, self.name, "kinds", f"must be a non-empty subset of {TASK_KINDS}")

    def supports(self, task: TaskSpec) -> bool:
        return task.kind in self.kinds

    def config_hash(self) -> str:
        blob = json.dumps({"name": self.name, "config": dict(self.config)}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SuiteSpec:
    """A published grid: ``lensbench sweep --suite NAME`` runs every task of ``tasks`` with every
    model of ``models`` that supports the task's kind, each of the task's seeds, at ``preset``.
    Registered through the ``lensbench.suites`` entry point; the grid is fixed by name, so a plugin
    model installed on a user's machine does not change what a suite means."""

    name: str
    description: str
    preset: str
    tasks: tuple[str, ...]
    models: tuple[str, ...]

    def __post_init__(self) -> None:
        k = "SuiteSpec"
        if not _ID.match(self.name):
            _fail(k, self.name, "name", "must be lower-case letters, digits, '-', '_', '.'")
        for f in ("tasks", "models"):
            v = getattr(self, f)
            if not v or len(set(v)) != len(v):
                _fail(k, self.name, f, "must be a non-empty tuple of distinct names")

