"""Real lens finding (task family 8): train on simulations, test on real survey images.

Training and validation: ``lensfinding-des-v1`` (``lensing/recipes/lensfinding.py``): simulated
SIE + shear lenses of real COSMOS galaxies injected into real DES galaxies, HSC-like 3x64x64 g, r, i;
negatives are the same hosts without injection. Model selection on that simulated val split only.

Test (external, real; every image of the set, all its folders, evaluated once after training):

- ``lens-finding/hsc``: the 40-image DeepLense HSC sample (20 lenses, 20 non-lenses),
  ``deeplense-hsc-lensfinding-sample``. With n = 40 the 95 % CI of the AUC is about +-0.1-0.15.
- ``lens-finding/cfhtls``: 97 CFHTLS Space Warps gallery lenses vs 47 Space Warps non-lens
  look-alikes and artefacts (``spacewarps-gallery-lensfinding``; display PNGs, heterogeneous
  framing between classes: an out-of-distribution indicator, see ``tasks/real_datasets.py``; the
  task is ``ranked=False``, so boards show it outside the ranked tables, without ranks).

Primary metric: ROC AUC (``auc_macro``, which equals the lens-vs-nonlens AUC for 2 classes), with
its bootstrap 95 % CI (``auc_ci_lo`` / ``auc_ci_hi``, 1000 resamples, seed 0), and the true-positive
rate at 10 % and 1 % false-positive rate only where the negatives resolve that point (at least 50 /
500 negatives, ``lensbench.metrics.MIN_FALSE_POSITIVES``: so on neither real set, with 20 and 47
negatives); the simulated test split is reported as ``source_*``.
Both tasks need the real data (``--data-root`` or ``$LENSBENCH_REAL_DATA``); without it they raise
``DataError`` naming the missing folder, and ``lensbench sweep`` skips them.

Citation: training-set construction after Canameras et al. 2020 (HOLISMOKES II, A&A 644, A163)
and Rojas et al. 2022 (MNRAS 512, 2428); the DeepLense HSC lens-finding task; Space Warps.
"""

from __future__ import annotations

from lensbench.specs import Preset, TaskSpec
from lensbench.tasks.common import MEDIUM_BUDGET, QUICK_BUDGET, STANDARD_BUDGET
from lensbench.tasks.real_datasets import GALLERY_NAME, HSC_NAME

TRAIN_DATASET = "lensfinding-des-v1"
CLASSES = ("nonlens", "lens")
MODELS = ("class-prior", "resnet10t")
METRICS = ("auc_ci_lo", "auc_ci_hi", "tpr_at_fpr_0.1", "tpr_at_fpr_0.01", "accuracy", "source_auc_macro")
QUICK_SIZES = {"train": 600, "val": 150, "test": 150}
MEDIUM_SIZES = {"train": 2000, "val": 300, "test": 300}
STANDARD_SIZES = {"train": 10000, "val": 1000, "test": 1000}
CITATION = ("LensBench real lens finding; training data after Canameras et al. 2020 (A&A 644, A163) and "
            "Rojas et al. 2022 (MNRAS 512, 2428); test data: DeepLense HSC lens-finding sample, Space Warps "
            "(Marshall et al. 2016)")


def presets() -> dict[str, Preset]:
    return {"quick": Preset(dict(QUICK_SIZES), QUICK_BUDGET), "medium": Preset(dict(MEDIUM_SIZES), MEDIUM_BUDGET),
            "standard": Preset(dict(STANDARD_SIZES), STANDARD_BUDGET)}


def _task(task_id: str, test_dataset: str, description: str, ranked: bool = True) -> TaskSpec:
    from lensbench.tasks.common import dataset

    ds = dataset(TRAIN_DATASET)
    return TaskSpec(
        id=task_id, version=1, kind="classification", dataset=ds.name, test_dataset=test_dataset,
        description=description, classes=CLASSES, target=("label",), primary_metric="auc_macro",
        secondary_metrics=METRICS, presets=presets(), input_shape=ds.image_shape,
        pixel_scale=ds.pixel_scale, default_models=MODELS, citation=CITATION, ranked=ranked,
    )


def specs() -> list[TaskSpec]:
    return [
        _task("lens-finding/hsc", HSC_NAME,
              "lens vs non-lens: train on simulated lenses in real DES hosts, test on 40 real HSC cutouts "
              "(20 + 20; AUC with bootstrap CI). Needs --data-root."),
        _task("lens-finding/cfhtls", GALLERY_NAME,
              "lens vs non-lens: train on simulated lenses in real DES hosts, test on 97 real CFHTLS Space Warps "
              "gallery lenses vs 47 non-lens look-alikes and artefacts (display PNGs; OOD indicator, not ranked). "
              "Needs --data-root.", ranked=False),
    ]
