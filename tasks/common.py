"""Shared protocol constants for the v1 task suite: presets, budgets, citations.

Quick presets run on a 2-core CPU in minutes and are sized to be informative (not saturated);
medium presets (protocol v2: budget in images seen, warm-up + cosine lr, dihedral augmentation)
take minutes per run on one CPU core; standard presets are for one GPU. Changing any number here changes results: bump the task versions.
"""

from __future__ import annotations

import dataclasses

from lensbench.specs import Budget, Preset

LENSBENCH_CITATION = "LensBench v1 (2026): benchmark suite for physics-guided ML on strong lensing images"
DEEPLENSE_CITATION = (
    "Alexander et al. 2020, ApJ 893, 15 (arXiv:1909.07346); "
    "DeepLenseSim, M. W. Toomey, https://github.com/mwt5345/DeepLenseSim"
)
ANOMALY_CITATION = "Alexander et al. 2020, arXiv:2008.12731 (unsupervised anomaly detection)"
DOMAIN_CITATION = "Alexander et al. 2023, arXiv:2112.12121 (domain adaptation for lensing)"

QUICK_BUDGET = Budget(epochs=5, batch_size=64, lr=2e-3, weight_decay=1e-4, patience=3)
# medium and standard: linear warm-up over 5 % of the optimiser steps, then cosine decay to 0; the
# 8 dihedral symmetries as augmentation. medium's length is 96,000 training images seen (1,500 steps of
# 64), whatever the training-set size, and every epoch counts (no early stop: the cosine runs to 0); its
# training steps run in bfloat16 autocast with channels-last layout (``Budget.precision``), which
# ``perf/train_speed.py`` measured 1.7-1.9x faster on this CPU. Why 96,000: at 48,000 the validation
# curve of the v2 main task is still steep (``perf/README.md``, section lr-sweep and convergence).
MEDIUM_BUDGET = Budget(epochs=None, images_seen=96_000, batch_size=64, lr=2e-3, weight_decay=1e-4,
                       schedule="cosine", warmup=0.05, augment=True, precision="bf16")
STANDARD_BUDGET = Budget(epochs=30, batch_size=128, lr=1e-3, weight_decay=1e-4, patience=6, schedule="cosine",
                         warmup=0.05, augment=True)
# Images per class materialised per split. Every task on one dataset shares one build per preset;
# tasks differ by ``train_subset`` (the first n training images per class).
QUICK_SIZES = {"train": 1000, "val": 150, "test": 300}
MEDIUM_SIZES = {"train": 2000, "val": 300, "test": 600}
STANDARD_SIZES = {"train": 20000, "val": 2500, "test": 5000}


def presets(quick_subset: int | None = 600, standard_subset: int | None = None, quick_sizes=QUICK_SIZES,
            standard_sizes=STANDARD_SIZES, medium_subset: int | None = None,
            medium_sizes=MEDIUM_SIZES, quick_precision: str = "fp32") -> dict[str, Preset]:
    """quick: a 2-core CPU in about a minute per run (constant lr, no augmentation; ``quick_precision``
    "bf16" on the protocol-v2 tasks, fp32 on the v1 tasks, whose frozen records were made so); medium:
    about 5-10 minutes of one CPU core for resnet10t on 64x64 images (96,000 images seen, bf16 steps);
    standard: one GPU."""
    return {
        "quick": Preset(dict(quick_sizes), dataclasses.replace(QUICK_BUDGET, precision=quick_precision),
                        train_subset=quick_subset),
        "medium": Preset(dict(medium_sizes), MEDIUM_BUDGET, train_subset=medium_subset),
        "standard": Preset(dict(standard_sizes), STANDARD_BUDGET, train_subset=standard_subset),
    }


CLASSES = ("no_sub", "cdm", "axion")
SLICES = ("snr", "theta_E")  # lensbench-v1 tasks report the test metric per bin of these columns
CLASSIFIERS = ("class-prior", "resnet10t")
REGRESSORS = ("mean-predictor", "resnet10t")
ANOMALY_MODELS = ("random-score", "conv-ae")
CLASSIFICATION_METRICS = ("accuracy", "f1_macro", "auc_no_sub", "auc_cdm", "auc_axion")


def dataset(name: str):
    """The registered LensBench DatasetSpec called ``name`` (input shape, pixel scale)."""
    from lensbench.tasks.datasets import specs

    for spec in specs():
        if spec.name == name:
            return spec
    raise KeyError(f"LensBench registers no dataset {name!r}")
