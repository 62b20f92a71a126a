"""Shared protocol constants for the v1 task suite: presets, budgets, citations.

Quick presets run on a 2-core CPU in minutes and are sized to be informative (not saturated);
standard presets are for one GPU. Changing any number here changes results: bump the task versions.
"""

from __future__ import annotations

from benchmark.specs import Budget, Preset

LENSBENCH_CITATION = "LensBench v1 (2026): benchmark suite for physics-guided ML on strong lensing images"
DEEPLENSE_CITATION = (
    "Alexander et al. 2020, ApJ 893, 15 (arXiv:1909.07346); "
    "DeepLenseSim, M. W. Toomey, https://github.com/mwt5345/DeepLenseSim"
)
ANOMALY_CITATION = "Alexander et al. 2020, arXiv:2008.12731 (unsupervised anomaly detection)"
DOMAIN_CITATION = "Alexander et al. 2023, arXiv:2112.12121 (domain adaptation for lensing)"

QUICK_BUDGET = Budget(epochs=6, batch_size=64, lr=2e-3, weight_decay=1e-4, patience=3)
STANDARD_BUDGET = Budget(epochs=30, batch_size=128, lr=1e-3, weight_decay=1e-4, patience=6)


def presets(quick_train: int = 600, standard_train: int = 20000, quick_eval=(150, 300), standard_eval=(2500, 5000),
            quick_budget: Budget = QUICK_BUDGET, standard_budget: Budget = STANDARD_BUDGET) -> dict[str, Preset]:
    """Images per class: quick (CPU minutes) and standard (one GPU)."""
    return {
        "quick": Preset({"train": quick_train, "val": quick_eval[0], "test": quick_eval[1]}, quick_budget),
        "standard": Preset({"train": standard_train, "val": standard_eval[0], "test": standard_eval[1]},
                           standard_budget),
    }


CLASSES = ("no_sub", "cdm", "axion")
CLASSIFIERS = ("class-prior", "resnet10t")
REGRESSORS = ("mean-predictor", "resnet10t")
ANOMALY_MODELS = ("random-score", "conv-ae")
CLASSIFICATION_METRICS = ("accuracy", "f1_macro", "auc_no_sub", "auc_cdm", "auc_axion")


def dataset(name: str):
    """The registered LensBench DatasetSpec called ``name`` (input shape, pixel scale)."""
    from tasks.datasets import specs

    for spec in specs():
        if spec.name == name:
            return spec
    raise KeyError(f"LensBench registers no dataset {name!r}")
