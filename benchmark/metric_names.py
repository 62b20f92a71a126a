"""Metric names and their directions: which way is better for every number LensBench reports.

Import-light on purpose (no scikit-learn, no torch): task specs derive their ``higher_is_better``
from here when they are built. The numbers themselves are computed by ``lensbench.metrics``.
"""

from __future__ import annotations

import math

# Direction of each metric name (exact names). Per-class / per-target variants (``auc_<class>``,
# ``mse_<target>``, ``mae_raw_<target>``...) follow their prefix; see ``higher_is_better``.
PRIMARY_METRICS: dict[str, bool] = {
    "auc_macro": True,  # classification: macro one-vs-rest ROC AUC from probabilities
    "accuracy": True,  # classification: fraction of argmax predictions that are right
    "f1_macro": True,  # classification: unweighted mean of per-class F1
    "mse": False,  # regression: mean squared error, standardised targets, mean over targets
    "mae": False,  # regression: mean absolute error, standardised targets, mean over targets
    "r2": True,  # regression: coefficient of determination, mean over targets
    "auc": True,  # anomaly: ROC AUC, anomalies are the positive class
    "tpr_at_fpr_0.1": True,  # anomaly: true-positive rate at 10 % false-positive rate
    "tpr_at_fpr_0.01": True,  # anomaly: true-positive rate at 1 % false-positive rate
}
HIGHER_PREFIXES = ("auc", "accuracy", "f1", "r2", "tpr")
LOWER_PREFIXES = ("mse", "mae", "rmse", "loss", "ece")


UNIT_PREFIXES = ("auc", "accuracy", "f1", "tpr")  # metrics that lie in [0, 1]
NONNEGATIVE_PREFIXES = ("mse", "mae", "rmse", "loss", "ece")  # metrics that lie in [0, inf)


def base_name(name: str) -> str:
    """``name`` without a ``group/`` path and a ``test_`` / ``val_`` / ``source_`` prefix."""
    base = name.split("/")[-1]
    for prefix in ("test_", "val_", "source_"):
        base = base.removeprefix(prefix)
    return base


def metric_range(name: str) -> tuple[float, float]:
    """The values metric ``name`` can take: (0, 1) for AUCs, accuracy, F1 and TPRs, (0, inf) for
    errors, (-inf, 1) for R², else (-inf, inf). Intervals on the board are clipped to it."""
    base = base_name(name)
    if base.startswith(UNIT_PREFIXES):
        return 0.0, 1.0
    if base.startswith(NONNEGATIVE_PREFIXES):
        return 0.0, math.inf
    return (-math.inf, 1.0) if base.startswith("r2") else (-math.inf, math.inf)


def higher_is_better(name: str) -> bool:
    """True if larger values of metric ``name`` are better; ``ValueError`` for an unknown name."""
    if name in PRIMARY_METRICS:
        return PRIMARY_METRICS[name]
    base = base_name(name)
    if base in PRIMARY_METRICS:
        return PRIMARY_METRICS[base]
    if base.startswith(HIGHER_PREFIXES):
        return True
    if base.startswith(LOWER_PREFIXES):
        return False
    raise ValueError(
        f"unknown metric {name!r}: its direction is not known; expected one of "
        f"{sorted(PRIMARY_METRICS)} or a name starting with {HIGHER_PREFIXES + LOWER_PREFIXES}"
    )
