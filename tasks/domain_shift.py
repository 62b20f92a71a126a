"""Domain shift: train and select on Euclid-like lensbench-v1 (or -v2), test on another instrument.

- ``domain-shift/euclid-to-hst``: test on HST-like images (finer pixels, sharper PSF) drawn
  from the same physical priors. Target AUC is primary; the source (Euclid) test AUC is reported
  beside it as ``source_auc_macro``. No target data is touched before the final evaluation.
- ``domain-shift/euclid-to-hst-v2``: the same on lensbench-v2 (mass-compensated substructure, no
  global ring-size shortcut), tested on ``lensbench-v2-hst``. Evaluation only
  (``source_task="substructure/lensbench-v2"``, ``lensbench.run.derived``): its records are the main
  task's runs (same model, seed, preset) scored on the HST-like test set, written by those runs; the
  v1 task retrained the same models, so its rows were not independent evidence. Splits: ``substructure.V2_SIZES``
  (2,000 test images per class on every preset); priors chosen on the developers' own simulations,
  not on any test split.

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
from lensbench.tasks.substructure import GLOBAL_STATS, v2_presets


def _shift(task_id: str, source: str, target: str, preset_map, source_task: str | None = None) -> TaskSpec:
    ds = dataset(source)
    return TaskSpec(
        id=task_id, version=1, kind="classification", dataset=ds.name, test_dataset=target,
        description=f"train on Euclid-like {source}, test on HST-like {target}.",
        classes=CLASSES, target=("label",), primary_metric="auc_macro",
        secondary_metrics=("source_auc_macro",) + CLASSIFICATION_METRICS, presets=preset_map,
        input_shape=ds.image_shape, pixel_scale=ds.pixel_scale, default_models=CLASSIFIERS + (GLOBAL_STATS,),
        citation=DOMAIN_CITATION, slice_by=SLICES, source_task=source_task,
    )


def specs() -> list[TaskSpec]:
    return [_shift("domain-shift/euclid-to-hst", "lensbench-v1", "lensbench-v1-hst", presets()),
            _shift("domain-shift/euclid-to-hst-v2", "lensbench-v2", "lensbench-v2-hst", v2_presets(),
                   source_task="substructure/lensbench-v2")]
