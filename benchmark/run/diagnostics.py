"""Diagnostics stored in a run record beside the test metrics: ROC curves and slices.

- ``roc(task, split, pred)``: one-vs-rest ROC curve per class (classification) or the anomaly ROC
  (anomaly tasks), as TPR interpolated on the fixed FPR grid ``FPR_GRID`` (0, 0.02, ..., 1), so
  that curves of different seeds and models can be averaged point by point. ``{}`` for regression.
  Stored as ``record.curves = {"roc": {"fpr": [...], "tpr": {name: [...]}}}``.
- ``slices(task, split, pred)``: the task's primary metric per bin of each ``task.slice_by``
  column of the test images (e.g. SNR, Einstein radius, axion mass: where does a model fail?).
  Bins are ``SLICE_BINS`` equal-count bins of the test column, so they depend only on the test set
  and are identical for every model and seed of a leaderboard table. A bin where the metric is not
  defined (say, one class only) holds ``None``. Stored as ``record.slices = {column: {"edges":
  [...], "n": [...], metric: [...]}}``.

Both are computed once, in the single test evaluation (``lensbench.run.runner.evaluate_test``).
Which curves a task has and how its primary metric is scored on a bin come from its kind
(``Kind.roc_inputs``, ``Kind.score_subset`` in ``lensbench.kinds``).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from lensbench import kinds, metrics
from lensbench.specs import TaskSpec

FPR_GRID = np.linspace(0.0, 1.0, 51)
SLICE_BINS = 4


def _tpr_on_grid(positive: np.ndarray, score: np.ndarray) -> list[float]:
    fpr, tpr, _ = roc_curve(positive, score)
    # np.interp takes the last (highest) TPR where roc_curve repeats an FPR, linear in between
    return [float(v) for v in np.interp(FPR_GRID, fpr, tpr, left=0.0, right=1.0)]


def roc(task: TaskSpec, target: np.ndarray, pred: np.ndarray) -> dict:
    """``{"roc": {"fpr": grid, "tpr": {name: tpr on grid}}}`` or ``{}`` (regression)."""
    curves = kinds.get(task.kind).roc_inputs(task, target, pred)
    tpr = {name: _tpr_on_grid(positive, score) for name, (positive, score) in curves.items()}
    return {"roc": {"fpr": [float(v) for v in FPR_GRID], "tpr": tpr}} if tpr else {}


def _primary(task: TaskSpec, target, pred, class_names, scaler):
    """fn(idx, idx) -> the task's primary metric on the samples ``idx`` (for ``binned_metric``)."""
    kind = kinds.get(task.kind)

    def fn(idx, _):
        idx = np.asarray(idx, dtype=int)
        m = kind.score_subset(task, target, pred, idx, scaler=scaler, class_names=class_names)
        return m[task.primary_metric]
    return fn


def slices(task: TaskSpec, target: np.ndarray, pred: np.ndarray, columns: dict, class_names=None,
           scaler=None, bins: int = SLICE_BINS) -> dict:
    """Primary metric per equal-count bin of each ``task.slice_by`` column present in ``columns``."""
    out = {}
    target, pred = np.asarray(target), np.asarray(pred)
    idx = np.arange(len(target))
    fn = _primary(task, target, pred, None if class_names is None else np.asarray(class_names).astype(str), scaler)
    for col in task.slice_by:
        v = columns.get(col)
        if v is None:
            continue
        v = np.asarray(v, dtype=np.float64)
        if not np.isfinite(v).all() or np.unique(v).size <= bins:
            continue  # a column NaN for some classes (or nearly constant) has no meaningful bins
        rows = metrics.binned_metric(v, idx, idx, bins, fn)
        out[col] = {"edges": [rows[0]["lo"]] + [r["hi"] for r in rows], "n": [r["n"] for r in rows],
                    task.primary_metric: [r["value"] for r in rows]}
    return out
