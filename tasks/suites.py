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


def specs() -> list[SuiteSpec]:
    return [V1]
