"""Entry point ``lensbench.suites``: the fixed task x model x seed grids that published leaderboards
come from (``lensbench.specs.SuiteSpec``; run one with ``lensbench sweep --suite v1``).

Order matters only for a partial run: tasks come headline first, and within a task the cheap
reference rows first, so an interrupted sweep has complete tables for the first tasks (a sweep
resumes where it stopped: finished records are skipped).
"""

from __future__ import annotations

from lensbench.specs import SuiteSpec

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


def specs() -> list[SuiteSpec]:
    return [V1, SHORTCUT_FREE]
