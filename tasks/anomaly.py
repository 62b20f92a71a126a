"""Anomaly detection: train on ``no_sub`` lensbench-v1 images only; test on all three classes with
``cdm`` and ``axion`` as anomalies (positives). Primary: ROC AUC; per-anomaly-class AUC beside it.
The validation split holds ``no_sub`` only, so checkpoints are chosen on the model's own val loss.
``anomaly/lensbench-v2``: the same on lensbench-v2 (the shared ``substructure.V2_SIZES`` build: 2,000
test images per class, so TPR at FPR 0.1 and 0.01 are resolved by the 2,000 normal test images).

Citation: Alexander et al. 2020, arXiv:2008.12731 (the AE / VAE / AAE families).
"""

from __future__ import annotations

from lensbench.specs import TaskSpec
from lensbench.tasks.common import ANOMALY_CITATION, ANOMALY_MODELS, CLASSES, SLICES, dataset, presets
from lensbench.tasks.substructure import v2_presets


def _anomaly(task_id: str, dataset_name: str, description: str, preset_map) -> TaskSpec:
    ds = dataset(dataset_name)
    return TaskSpec(
        id=task_id, version=1, kind="anomaly", dataset=ds.name, description=description,
        classes=CLASSES, normal_classes=("no_sub",), target=("label",), primary_metric="auc",
        secondary_metrics=("auc_cdm", "auc_axion", "tpr_at_fpr_0.1", "tpr_at_fpr_0.01"), presets=preset_map,
        input_shape=ds.image_shape, pixel_scale=ds.pixel_scale, default_models=ANOMALY_MODELS,
        citation=ANOMALY_CITATION, slice_by=SLICES,
    )


def specs() -> list[TaskSpec]:
    return [
        _anomaly("anomaly/lensbench-v1", "lensbench-v1",
                 "unsupervised substructure detection: train on no_sub, cdm and axion are anomalies.", presets()),
        _anomaly("anomaly/lensbench-v2", "lensbench-v2",
                 "unsupervised substructure detection on lensbench-v2 (mass-compensated substructure: no "
                 "global ring-size cue): train on no_sub, cdm and axion are anomalies.", v2_presets()),
    ]
