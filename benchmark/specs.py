"""Frozen, validated specifications: what a dataset, a task and a model are (suites: ``suite_specs``).

Every spec checks itself at construction and raises ``SpecError`` naming the spec, the field and what
was expected, so a bad registration fails at import time. What differs by task kind is asked of
``lensbench.kinds``; metric directions come from ``lensbench.metric_names``; ``check_task`` checks a
task against its datasets when the task registry registers it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from lensbench import kinds, metric_names

SPLITS = ("train", "val", "test")
FAMILIES = ("baseline", "pinn", "ablation", "reference", "user")
PREPROCESSING = ("standardize", "minmax", "none")
SCHEDULES = ("constant", "cosine")
PRECISIONS = ("fp32", "bf16")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]*(/[a-z0-9][a-z0-9_.\-]*)?$")


class SpecError(ValueError):
    """A spec was constructed with an invalid field."""


def spec_fail(kind: str, name: str, fieldname: str, msg: str) -> None:
    """Raise ``SpecError`` naming the spec kind, its name, the field and what is wrong with it."""
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
        if not ID_PATTERN.match(self.name):
            spec_fail(k, self.name, "name", "must be lower-case letters, digits, '-', '_', '.'")
        if not isinstance(self.version, int) or self.version < 1:
            spec_fail(k, self.name, "version", f"must be an integer >= 1, got {self.version!r}")
        if (self.recipe is None) == (self.adapter is None):
            spec_fail(k, self.name, "recipe/adapter", "exactly one of recipe and adapter must be set")
        if not self.classes or len(set(self.classes)) != len(self.classes):
            spec_fail(k, self.name, "classes", f"must be non-empty and unique, got {self.classes!r}")
        if len(self.image_shape) != 3 or any(int(s) < 1 for s in self.image_shape):
            spec_fail(k, self.name, "image_shape", f"must be (C, H, W), got {self.image_shape!r}")
        if self.pixel_scale < 0:
            spec_fail(k, self.name, "pixel_scale", "must be >= 0 (arcsec per pixel)")

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"


@dataclass(frozen=True)
class Budget:
    """The fixed training budget of a task preset; a model cannot change it (only its registered
    ``ModelSpec.lr_scales`` entry for the preset, tuned on validation, multiplies ``lr``).

    Length: ``epochs`` or ``images_seen`` (exactly one), the latter rounded up to whole epochs
    (``epochs_for``). An epoch is one pass over the training set, or ``passes_for(n)`` passes holding
    about ``eval_every`` images (``images_seen`` budgets only): one validation pass, one point of the
    learning curve, one unit of ``patience``. ``schedule``: ``"constant"`` or ``"cosine"`` (linear
    warm-up over the first ``warmup`` fraction of the optimiser steps, then cosine decay to 0;
    ``lensbench.run.trainer.lr_factor``). ``augment``: one random symmetry of the square per training
    image, targets transformed to match (``lensbench.run.augment``). ``precision``: ``"fp32"`` or
    ``"bf16"`` (bfloat16 autocast and channels-last training steps; physics, val and test in float32).
    """

    epochs: int | None
    batch_size: int
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int | None = None  # early stopping on val, in epochs; None = no early stop
    images_seen: int | None = None
    schedule: str = "constant"
    warmup: float = 0.0  # fraction of the optimiser steps (cosine schedule only)
    augment: bool = False
    precision: str = "fp32"
    eval_every: int | None = None

    def __post_init__(self) -> None:
        if self.eval_every is not None and (self.images_seen is None or self.eval_every < 1):
            raise SpecError(f"Budget: eval_every needs images_seen and must be >= 1, got {self!r}")
        if (self.epochs is None) == (self.images_seen is None):
            raise SpecError(f"Budget: give exactly one of epochs and images_seen, got {self!r}")
        if (self.epochs or self.images_seen) < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise SpecError(f"Budget: invalid values {self!r}")
        if self.patience is not None and self.patience < 1:
            raise SpecError(f"Budget: patience must be >= 1 or None, got {self.patience}")
        if self.schedule not in SCHEDULES:
            raise SpecError(f"Budget: schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.precision not in PRECISIONS:
            raise SpecError(f"Budget: precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 0 <= self.warmup < 1 or (self.warmup and self.schedule == "constant"):
            raise SpecError(f"Budget: warmup must be in [0, 1) and needs schedule='cosine', got {self.warmup}")

    def passes_for(self, n_train: int) -> int:
        """Passes over ``n_train`` training images per epoch: ``round(eval_every / n_train)``, at least 1."""
        return 1 if self.eval_every is None else max(1, round(self.eval_every / max(int(n_train), 1)))

    def epochs_for(self, n_train: int) -> int:
        """``epochs``, or ``ceil(images_seen / images per epoch)`` on ``n_train`` training images."""
        per_epoch = max(int(n_train), 1) * self.passes_for(n_train)
        return self.epochs if self.epochs is not None else max(1, math.ceil(self.images_seen / per_epoch))


@dataclass(frozen=True)
class Preset:
    """Split sizes to materialise (images per class per split) and the training budget. ``train_subset``
    trains on the first n images per class of the train split (low-data tasks share one dataset)."""

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

    ``input_shape`` and ``pixel_scale`` restate the dataset's (``check_task``; ``pixel_scale`` 0 =
    not stated). ``higher_is_better`` is derived from ``primary_metric``
    (``metric_names.higher_is_better``); a value given by hand must agree with it.
    """

    id: str
    version: int
    kind: str
    dataset: str
    description: str
    classes: tuple[str, ...]
    target: tuple[str, ...]
    primary_metric: str
    presets: Mapping[str, Preset]
    input_shape: tuple[int, int, int]
    higher_is_better: bool | None = None  # None: derived from primary_metric (always set after construction)
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
    ranked: bool = True  # False: an out-of-distribution indicator, shown without ranks (board.cells.ranked)
    source_task: str | None = None  # evaluation only: scores that task's trained models (lensbench.run.derived)

    def __post_init__(self) -> None:
        k = "TaskSpec"
        if not ID_PATTERN.match(self.id) or "/" not in self.id:
            spec_fail(k, self.id, "id", "must look like 'family/name' (lower case)")
        if not isinstance(self.version, int) or self.version < 1:
            spec_fail(k, self.id, "version", f"must be an integer >= 1, got {self.version!r}")
        if self.kind not in kinds.KINDS:
            spec_fail(k, self.id, "kind", f"must be one of {kinds.NAMES}, got {self.kind!r}")
        if not self.classes:
            spec_fail(k, self.id, "classes", "must name at least one dataset class")
        wrong = kinds.get(self.kind).field_error(self)
        if wrong is not None:
            spec_fail(k, self.id, *wrong)
        self._derive_direction()
        if self.target_transform not in (None, "log10"):
            spec_fail(k, self.id, "target_transform", "must be None or 'log10'")
        if self.preprocessing not in PREPROCESSING:
            spec_fail(k, self.id, "preprocessing", f"must be one of {PREPROCESSING}")
        if not self.presets or "quick" not in self.presets:
            spec_fail(k, self.id, "presets", "must define at least the 'quick' preset")
        if len(self.input_shape) != 3:
            spec_fail(k, self.id, "input_shape", f"must be (C, H, W), got {self.input_shape!r}")
        if not self.seeds:
            spec_fail(k, self.id, "seeds", "must list at least one seed")

    def _derive_direction(self) -> None:
        try:
            higher = metric_names.higher_is_better(self.primary_metric)
        except ValueError as exc:
            spec_fail("TaskSpec", self.id, "primary_metric", str(exc))
        if self.higher_is_better is None:
            object.__setattr__(self, "higher_is_better", higher)
        elif not isinstance(self.higher_is_better, bool) or self.higher_is_better != higher:
            spec_fail("TaskSpec", self.id, "higher_is_better",
                  f"is {self.higher_is_better}, but {self.primary_metric!r} is "
                  f"{'higher' if higher else 'lower'}-is-better; leave the field out "
                  "(it is derived from the metric)")

    @property
    def n_outputs(self) -> int:
        """Width of the model output: classes for classification, targets for regression, 0 for anomaly."""
        return kinds.get(self.kind).n_outputs(self)

    @property
    def train_classes(self) -> tuple[str, ...]:
        """The classes of the train and val splits (the normal classes for anomaly tasks)."""
        return kinds.get(self.kind).train_classes(self)

    def preset(self, name: str) -> Preset:
        if name not in self.presets:
            raise SpecError(f"task {self.id!r} has no preset {name!r}; it has {sorted(self.presets)}")
        return self.presets[name]

    def to_dict(self) -> dict:
        out = asdict(self)
        for preset in out["presets"].values():  # defaults are left out, as below
            for name, default in (("precision", "fp32"), ("eval_every", None)):
                if preset["budget"][name] == default:
                    del preset["budget"][name]
        if self.ranked:  # only when set, so the hashes of the tasks before these fields stay what they were
            del out["ranked"]
        if self.source_task is None:
            del out["source_task"]
        return out

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def check_task(task: TaskSpec, datasets) -> None:
    """Check ``task`` against the datasets it names; ``SpecError`` naming the task and the field.

    The task registry calls this when a task is registered; ``datasets`` is the dataset registry (or
    any mapping of name -> DatasetSpec). The checks: ``dataset`` and ``test_dataset`` are registered;
    ``input_shape`` is their image shape and ``classes`` are their classes; ``pixel_scale`` is the
    training dataset's (or 0, not stated); the columns the task reads (regression ``target``,
    ``slice_by``) are columns of the dataset they are read from.
    """
    k = "TaskSpec"
    for fieldname in ("dataset", "test_dataset"):
        name = getattr(task, fieldname)
        if name is None:
            continue
        if name not in datasets:
            spec_fail(k, task.id, fieldname, f"names {name!r}, which is not a registered dataset")
        ds = datasets.get(name)
        if tuple(ds.image_shape) != tuple(task.input_shape):
            spec_fail(k, task.id, "input_shape", f"is {tuple(task.input_shape)}, but dataset {name!r} has images "
                                             f"{tuple(ds.image_shape)}")
        missing = [c for c in task.classes if c not in ds.classes]
        if missing:
            spec_fail(k, task.id, "classes", f"{missing} are not classes of dataset {name!r} (it has {ds.classes})")
    train = datasets.get(task.dataset)
    if task.pixel_scale and not math.isclose(task.pixel_scale, train.pixel_scale):
        spec_fail(k, task.id, "pixel_scale", f"is {task.pixel_scale}, but dataset {train.name!r} has "
                                         f"{train.pixel_scale} arcsec/px (give the dataset's, or 0)")
    scored = datasets.get(task.test_dataset or task.dataset)  # the test split that slices are cut from
    reads = kinds.get(task.kind).columns(task)
    for fieldname, needed, ds in (("target", reads, train), ("target", reads, scored),
                                  ("slice_by", task.slice_by, scored)):
        missing = [c for c in needed if c not in ds.columns]
        if missing:
            spec_fail(k, task.id, fieldname, f"reads column(s) {missing} that dataset {ds.name!r} lacks "
                                         f"(it has {ds.columns})")


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: ``factory(task) -> nn.Module`` plus metadata.

    The module's ``forward(x)`` takes images (N, C, H, W) and returns logits (N, K) for
    classification or standardised predictions (N, T) for regression. Optional hooks:
    ``loss(batch, output) -> dict[str, Tensor]`` with the total under ``"loss"`` and named parts
    beside it (all logged); ``anomaly_score(x) -> Tensor (N,)`` (higher = more anomalous);
    ``fit_classical(x, y)`` for non-gradient models (the trainer calls it once on train);
    ``lr_multipliers``: submodule name -> factor of the model's lr for its parameters (``trainer.param_groups``).
    ``lr_scales``: preset name -> factor of that preset's learning rate for this model (the one setting
    a model may tune, on validation only, ``perf/lr_sweep.py``; absent presets keep 1; hashed per preset when set).
    """

    name: str
    factory: Callable
    family: str
    kinds: tuple[str, ...]
    description: str
    source: str = ""  # where the code lives: module:function or a URL
    twin: str | None = None  # for a PINN: its physics-off ablation, and vice versa
    config: Mapping[str, object] = field(default_factory=dict)
    lr_scales: Mapping[str, float] = field(default_factory=dict)  # preset -> lr factor, tuned on val

    def __post_init__(self) -> None:
        k = "ModelSpec"
        if not ID_PATTERN.match(self.name):
            spec_fail(k, self.name, "name", "must be lower-case letters, digits, '-', '_', '.'")
        if not callable(self.factory):
            spec_fail(k, self.name, "factory", "must be callable: factory(task) -> nn.Module")
        if self.family not in FAMILIES:
            spec_fail(k, self.name, "family", f"must be one of {FAMILIES}, got {self.family!r}")
        if not self.kinds or not set(self.kinds) <= set(kinds.NAMES):
            spec_fail(k, self.name, "kinds", f"must be a non-empty subset of {kinds.NAMES}")
        for preset, scale in dict(self.lr_scales).items():
            if not (isinstance(scale, (int, float)) and 0 < scale < math.inf) or not isinstance(preset, str):
                spec_fail(k, self.name, "lr_scales", f"must map preset names to positive numbers, got {self.lr_scales!r}")

    def lr_scale(self, preset: str) -> float:
        """The factor of ``preset``'s learning rate for this model (1 unless tuned)."""
        return float(dict(self.lr_scales).get(preset, 1.0))

    def supports(self, task: TaskSpec) -> bool:
        return task.kind in self.kinds

    def config_hash(self, preset: str) -> str:
        """Hash of name, config and ``preset``'s lr factor (if set: tuning one preset leaves the others' hashes)."""
        spec = {"name": self.name, "config": dict(self.config)}
        if preset in self.lr_scales:
            spec["lr_scales"] = {preset: self.lr_scales[preset]}
        blob = json.dumps(spec, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
