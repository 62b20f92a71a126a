"""Domain shift: train and select on Euclid-like lensbench-v1, test on another instrument.

- ``domain-shift/euclid-to-hst``: test on HST-like images (finer pixels, sharper PSF) drawn
  from the same physical priors. Target AUC is primary; the source (Euclid) test AUC is reported
  beside it as ``source_auc_macro``. No target data is touched before the final evaluation.

Citation: Alexander et al. 2023, arXiv:2112.12121.
"""

from __future__ import annotations

from lensbench.specs import TaskSpec
from lensbench.tasks.common import (
    CLASSES,
    CLASSIFICATION_METRICS,
    CLASSIFIERS,
    DOMAIN_CITATION,
    SLICES,
    dataset,
    presets,
)


def specs() -> list[TaskSpec]:
    ds = dataset("lensbench-v1")
    return [TaskSpec(
        id="domain-shift/euclid-to-hst", version=1, kind="classification", dataset=ds.name,
        test_dataset="lensbench-v1-hst",
        description="train on Euclid-like lensbench-v1, test on HST-like lensbench-v1-hst.",
        classes=CLASSES, target=("label",), primary_metric="auc_macro",
        secondary_metrics=("source_auc_macro",) + CLASSIFICATION_METRICS, presets=presets(),
        input_shape=ds.image_shape, pixel_scale=ds.pixel_scale, default_models=CLASSIFIERS,
        citation=DOMAIN_CITATION, slice_by=SLICES,
    )]
