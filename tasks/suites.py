"""Suites: the fixed task x model x seed grids that published leaderboards come from.

``lensbench sweep --suite v1`` runs every task of the suite with every model of the suite that
supports the task's kind (classification, regression or anomaly), for each of the task's seeds, at
the suite's preset. The grid is fixed here, so a plugin model installed on the user's machine does
not change what "suite v1" means; submissions join through ``lensbench validate`` instead.

Order matters only for a partial run: tasks come headline first, and within a task the cheap
reference rows first, so an interrupted sweep has complete tables for the first tasks (a sweep
resumes where it stopped: finished records are skipped).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from benchmark.specs import SpecError


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    preset: str
    tasks: tuple[str, ...]
    models: tuple[str, ...]  # each runs on every task of the suite whose kind it supports


V1 = Suite(
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

SUITES = {s.name: s for s in (V1,)}


def get(name: str) -> Suite:
    if name not in SUITES:
        close = difflib.get_close_matches(name, list(SUITES), n=2, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise SpecError(f"unknown suite {name!r}.{hint} Known suites: {', '.join(SUITES)}.")
    return SUITES[name]


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N: this process runs every N-th cell of the grid, from the I-th."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise SpecError(f"--shard: expected I/N such as 0/2, got {text!r}") from None
    if not 0 <= i < n:
        raise SpecError(f"--shard: expected 0 <= I < N, got {text!r}")
    return i, n
