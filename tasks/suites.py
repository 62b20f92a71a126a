"""Entry point ``lensbench.suites``: the fixed task x model x seed grids that published leaderboards
come from (``lensbench.specs.SuiteSpec``; run one with ``lensbench sweep --suite v1``).

Order matters only for a partial run: tasks come headline first, and within a task the cheap
reference rows first, so an interrupted sweep has complete tables for the first tasks (a sweep
resumes where it stopped: finished records are skipped).

Suite ``v2`` is given in parts (``SuitePart``), each with its preset, seeds and the reason for
them. Its budget, about 30 CPU-hours of the project's 2-core machine (``leaderboards/README.md``
has the measured cost per cell once the run has them), is spent where the comparisons need it:

| part | tasks | preset | seeds | cost (estimated, CPU-hours) |
|---|---|---|---:|---:|
| core | main task (+ domain shift, evaluation only) | medium | 10 | ~20 |
| low-data and real | lowdata-250, lowdata-1000, lens-finding/hsc | quick | 10 | ~5 |
| DeepLense and indicator | Models I-III (v2 splits), CFHTLS | quick | 5 | ~4 |
| breadth | 3 regressions, anomaly | quick | 5 | ~2 |

Estimates: one medium run of ``resnet10t`` on 64x64 images is ~4.5 CPU-minutes (750 steps of 64
at ~200 images/s on one thread, plus validation and the 6,000 test images); other models scale by
their step cost (v1 records: ``vit-tiny-p8`` ~5.7x, ``efficientnet-b0`` ~1.8x, the PINNs ~0.8-1.1x);
a quick run is ~1/10 of a medium one; Model I's 150x150 images cost ~5.5x per image.

Open (``perf/README.md``, section lr-sweep): on ``substructure/lensbench-v2`` the ``medium`` budget
(48,000 images) does not reach a flat validation curve for ``resnet10t`` (3x the budget adds ~0.04
AUC); a converged core part needs several times these CPU-hours, or the ``standard`` preset on a GPU.
The allocation above is the plan until that is settled; no v2 record has been made yet.
"""

from __future__ import annotations

from lensbench.specs import SuitePart, SuiteSpec

V1 = SuiteSpec(
    name="v1",
    description=("LensBench leaderboard v1: every task, every in-tree baseline, reference row, PINN and "
                 "physics-off twin, the task's seeds (0, 1, 2), quick preset (the largest that the project's "
                 "2-core CPU machine finishes in hours rather than days)."),
    preset="quick",
    tasks=("substructure/lensbench-v1", "substructure/model2", "substructure/model3", "substructure/model1",
           "lowdata/lensbench-v1-250", "lowdata/lensbench-v1-1000", "domain-shift/euclid-to-hst",
           "regression/axion-mass", "regression/macro-lens", "regression/subhalo-fraction",
           "anomaly/lensbench-v1", "lens-finding/hsc", "lens-finding/cfhtls"),
    models=("class-prior", "mean-predictor", "random-score",
            "resnet10t", "resnet18", "efficientnet-b0", "convnext-atto", "vit-tiny-p8",
            "lens-inversion", "lens-inversion-nophys", "lens-synthesis", "lens-synthesis-nophys",
            "lensiformer", "lensiformer-nophys",
            "conv-ae", "vae", "aae", "deep-svdd", "iforest-pca"),
)

# The lensbench-v2 tasks (mass-compensated substructure: no global ring-size shortcut), with every v1
# model plus the image-statistics probe ``global-stats`` (which shows what a global shortcut explains;
# run it on the v1 tasks with ``lensbench sweep --tasks substructure/lensbench-v1 --models global-stats``).
SHORTCUT_FREE = SuiteSpec(
    name="shortcut-free",
    description=("The lensbench-v2 tasks (substructure mass taken from the host, so global image statistics do "
                 "not carry the class): every v1 model plus the global-stats probe, the task's seeds, quick preset."),
    preset="quick",
    tasks=("substructure/lensbench-v2", "lowdata/lensbench-v2-250", "lowdata/lensbench-v2-1000",
           "domain-shift/euclid-to-hst-v2", "regression/axion-mass-v2"),
    models=("class-prior", "global-stats", *V1.models[1:]),
)


# ----------------------------------------------------------------------------- v2
TEN_SEEDS = tuple(range(10))
FIVE_SEEDS = tuple(range(5))
V2_BASELINES = ("resnet10t", "resnet18", "efficientnet-b0", "convnext-atto", "vit-tiny-p8")
V2_PINNS = tuple(f"{p}{v}" for p in ("grav-imaging", "lens-inversion", "lens-synthesis", "lensiformer")
                 for v in ("", "-noaux", "-nophys-aux", "-nophys")) + ("d4-cnn", "d4-cnn-nosym")
V2_CLASSIFIERS = ("class-prior", "global-stats", *V2_BASELINES, *V2_PINNS)
V2_REGRESSORS = ("mean-predictor", *V2_BASELINES, *V2_PINNS)
V2_ANOMALY = ("random-score", "conv-ae", "vae", "aae", "deep-svdd", "iforest-pca", "lens-synthesis",
              "lens-synthesis-noaux", "lens-synthesis-nophys-aux", "lens-synthesis-nophys")

V2 = SuiteSpec(
    name="v2",
    description=("LensBench leaderboard v2 (protocol v2): the main task at the medium preset with 10 paired seeds "
                 "for every baseline, PINN and ablation variant; the low-data and real-data tasks with 10 seeds at "
                 "the quick preset; Models I-III, regressions and anomaly with 5 seeds at quick."),
    parts=(
        SuitePart(("substructure/lensbench-v2", "domain-shift/euclid-to-hst-v2"), V2_CLASSIFIERS, "medium", TEN_SEEDS,
                  why=("the comparisons the verdict rests on: 10 paired seeds give CI half-widths near 0.01 AUC "
                       "(the power tool's estimate); medium (48,000 images seen, cosine, D4 augmentation) is "
                       "where the validation curves flatten; the domain shift evaluates the main task's checkpoints "
                       "on the HST-like test set (no training of its own)")),
        SuitePart(("lowdata/lensbench-v2-250", "lowdata/lensbench-v2-1000", "lens-finding/hsc"), V2_CLASSIFIERS,
                  "quick", TEN_SEEDS,
                  why=("where physics should pay off (few images, real images): 10 paired seeds for the paired "
                       "tests; quick, because the medium budget on these would cost as much as the main task each")),
        SuitePart(("substructure/model1-v2", "substructure/model2-v2", "substructure/model3-v2", "lens-finding/cfhtls"),
                  V2_CLASSIFIERS, "quick", FIVE_SEEDS,
                  why=("continuity with published DeepLense numbers (their confounds kept and shown by the "
                       "global-stats row) and the unranked CFHTLS indicator: 5 seeds")),
        SuitePart(("regression/axion-mass-v2", "regression/subhalo-fraction-v2"), V2_REGRESSORS, "quick", FIVE_SEEDS,
                  why="breadth: regressions of rotation-invariant targets with 5 seeds"),
        SuitePart(("regression/macro-lens-v2",), tuple(m for m in V2_REGRESSORS if not m.startswith("d4-cnn")),
                  "quick", FIVE_SEEDS,
                  why=("breadth: 5 seeds; without the D4-invariant pair, which cannot predict e1, e2 and the shear "
                       "(they change under rotations)")),
        SuitePart(("anomaly/lensbench-v2",), V2_ANOMALY, "quick", FIVE_SEEDS, why="breadth: anomaly with 5 seeds"),
    ),
)


def specs() -> list[SuiteSpec]:
    return [V1, SHORTCUT_FREE, V2]
