"""Anomaly detection: train on ``no_sub`` lensbench-v1 images only; test on all three classes with
``cdm`` and ``axion`` as anomalies (positives). Primary: ROC AUC; per-anomaly-class AUC beside it.
The validation split holds ``no_sub`` only, so checkpoints are chosen on the model's own val loss.

Citation: Alexander et al. 2020, arXiv:2008.12731 (the AE / VAE / AAE families).
"""

from __future__ import annotations

from lensbench.specs import TaskSpec
from lensbench.tasks.common import ANOMALY_CITATION, ANOMALY_MODELS, CLASSES, SLICES, dataset, presets


def specs() -> list[TaskSpec]:
    ds = dataset("lensbench-v1")
    return [TaskSpec(
        id="anomaly/lensbench-v1", version=1, kind="anomaly", dataset=ds.name,
        description="unsupervised substructure detection: train on no_sub, cdm and axion are anomalies.",
        classes=CLASSES, normal_classes=("no_sub",), target=("label",), primary_metric="auc",
        secondary_metrics=("auc_cdm", "auc_axion"), presets=presets(),
        input_shape=ds.image_shape, pixel_scale=ds.pixel_scale, default_models=ANOMALY_MODELS,
        citation=ANOMALY_CITATION, slice_by=SLICES,
    )]
