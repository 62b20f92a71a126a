"""Entry point ``lensbench.suites``: the fixed task x model x seed grids that published leaderboards
come from (``lensbench.specs.SuiteSpec``; run one with ``lensbench sweep --suite v1``).

Order matters only for a partial run: tasks come headline first, and within a task the cheap
reference rows first, so an interrupted sweep has complete tables for the first tasks (a sweep
resumes where it stopped: finished records are skipped).

Suite ``v2`` is given in parts (``SuitePart``), each with its preset, seeds and the reason for
them, in the order they run (``lensbench sweep --suite v2``: one process per core, ``--threads 1``;
the processes share the cells through claims and a rerun resumes where they stopped). Estimated cost,
from the per-model step rates of ``perf/train_speed.py`` (bfloat16 + channels-last, one thread) and
the v1 records' time per quick run:

| part | tasks | models | preset | seeds | CPU-hours (est.) |
|---|---|---|---|---:|---:|
| 1 pilot | main task (+ domain shift, evaluation only) | 2 reference rows, resnet10t, grav-imaging 2x2, resnet18 | medium | 10 | ~8.5 |
| 2 low-data and real | lowdata-250, lowdata-1000, lens-finding/hsc | all v2 classifiers but ViT | quick | 10 | ~5.5 |
| 3 core | main task (+ domain shift) | every other classifier but ViT | medium | 10 | ~18 |
| 4 DeepLense and indicator | Models I-III (v2 splits), CFHTLS | all v2 classifiers but ViT | quick | 5 | ~5.5 |
| 5 breadth | 3 regressions, anomaly | all v2 regressors / anomaly models but ViT | quick | 5 | ~1.6 |
| 6 ViT | main task (+ domain shift) | vit-tiny-p8 | medium | 10 | ~6 |

About 45 CPU-hours in all, 1.5x the 30 the leaderboard-v2 issue planned: the main task needs twice
the planned images seen before its validation curves flatten (96,000, not 48,000; ``perf/README.md``,
section lr-sweep and convergence), and bfloat16 steps pay back most but not all of it (1.4-1.9x for
the ResNets and PINNs, none for convnext-atto and efficientnet-b0, whose depthwise convolutions are
slower in bfloat16). A medium run costs about 4 CPU-minutes for resnet10t, 6 for convnext-atto and
resnet18, 10 for each grav-imaging variant, 19 for efficientnet-b0 and 36 for vit-tiny-p8.

``vit-tiny-p8`` trains last and only on the main task: on every v1 task at quick it stayed at chance
(macro AUC 0.34-0.53, MSE of the mean predictor), and it costs 8x resnet10t per image, so its quick
rows would spend ~5 CPU-hours on numbers that say nothing; at medium it gets the budget where it might
train. Its ``standard`` preset (one GPU) is where it belongs.
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
V2_BASELINES = ("resnet10t", "resnet18", "convnext-atto", "efficientnet-b0")  # and vit-tiny-p8: part 6 only
V2_PINNS = tuple(f"{p}{v}" for p in ("grav-imaging", "lens-inversion", "lens-synthesis", "lensiformer")
                 for v in ("", "-noaux", "-nophys-aux", "-nophys")) + ("d4-cnn", "d4-cnn-nosym")
V2_CLASSIFIERS = ("class-prior", "global-stats", *V2_BASELINES, *V2_PINNS)
V2_REGRESSORS = ("mean-predictor", *V2_BASELINES, *V2_PINNS)
V2_ANOMALY = ("random-score", "conv-ae", "vae", "aae", "deep-svdd", "iforest-pca", "lens-synthesis",
              "lens-synthesis-noaux", "lens-synthesis-nophys-aux", "lens-synthesis-nophys")
# The protocol pilot (issue: two baselines and one PINN with its three ablation variants at 10 seeds):
# run first, so the main task's intervals and learning curves are known before the rest is spent.
V2_PILOT = ("class-prior", "global-stats", "resnet10t", "grav-imaging", "grav-imaging-noaux", "grav-imaging-nophys-aux",
            "grav-imaging-nophys", "resnet18")
V2_CORE = ("substructure/lensbench-v2", "domain-shift/euclid-to-hst-v2")

V2 = SuiteSpec(
    name="v2",
    description=("LensBench leaderboard v2 (protocol v2): the main task at the medium preset with 10 paired seeds "
                 "for every baseline, PINN and ablation variant (the protocol pilot first); the low-data and "
                 "real-data tasks with 10 seeds at the quick preset; Models I-III, regressions and anomaly with 5 "
                 "seeds at quick."),
    parts=(
        SuitePart(V2_CORE, V2_PILOT, "medium", TEN_SEEDS,
                  why=("the protocol pilot: two baselines and the gravitational-imaging PINN's 2x2 on the main task, "
                       "first, so its intervals and validation curves are known before the rest is spent; medium "
                       "(96,000 images seen, cosine, D4 augmentation, bfloat16 steps) is where resnet10t's validation "
                       "curve flattens; the domain shift evaluates the main task's checkpoints on the HST-like test "
                       "set (no training of its own)")),
        SuitePart(("lowdata/lensbench-v2-250", "lowdata/lensbench-v2-1000", "lens-finding/hsc"), V2_CLASSIFIERS,
                  "quick", TEN_SEEDS,
                  why=("where physics should pay off (few images, real images): 10 paired seeds for the paired "
                       "tests; quick, because the medium budget on these would cost as much as the main task each")),
        SuitePart(V2_CORE, tuple(m for m in V2_CLASSIFIERS if m not in V2_PILOT), "medium", TEN_SEEDS,
                  why=("every other baseline, PINN and ablation variant on the main task with the same 10 paired "
                       "seeds: the comparisons the verdict rests on")),
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
        SuitePart(V2_CORE, ("vit-tiny-p8",), "medium", TEN_SEEDS,
                  why=("the costliest row (8x resnet10t per image), last; main task only: at quick it stayed at "
                       "chance on every v1 task, so its quick rows would cost hours and say nothing")),
    ),
)


def specs() -> list[SuiteSpec]:
    return [V1, SHORTCUT_FREE, V2]
