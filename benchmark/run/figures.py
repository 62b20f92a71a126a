"""PNGs of one run's test predictions, logged as MLflow artefacts by the runner: ROC curves,
confusion matrix, regression scatter, anomaly ROC.

Uses matplotlib's object API with the Agg canvas directly (no pyplot, no global backend switch),
so it is safe in worker processes and on machines without a display. Each figure function writes
one PNG, creating parent folders, and returns its path. ``save_png`` and ``roc_axes`` are shared
with the leaderboard's figures (``lensbench.board.figures``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

DPI = 110


def save_png(fig: Figure, path: str | Path) -> Path:
    """Lay out ``fig`` and write it as a PNG at ``DPI`` (parent folders created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def roc_axes(ax, title: str) -> None:
    """The chance diagonal, unit limits, axis labels, ``title`` and the legend of a ROC plot."""
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate", ylabel="true-positive rate", title=title)
    ax.legend(loc="lower right", fontsize=8)


def roc_curves(y_true, proba, class_names: Sequence[str], path: str | Path) -> Path:
    """One-vs-rest ROC curve per class, AUC in the legend."""
    y, p = np.asarray(y_true), np.asarray(proba, dtype=float)
    fig = Figure(figsize=(5, 4.5))
    ax = fig.add_subplot()
    for i, name in enumerate(class_names):
        pos = y == i
        if pos.any() and not pos.all():
            fpr, tpr, _ = roc_curve(pos, p[:, i])
            ax.plot(fpr, tpr, lw=1.5, label=f"{name} (AUC {roc_auc_score(pos, p[:, i]):.3f})")
    roc_axes(ax, "ROC (one vs rest)")
    return save_png(fig, path)


def confusion_matrix_png(cm, class_names: Sequence[str], path: str | Path) -> Path:
    """Confusion matrix (rows = true class), coloured by row fraction, annotated with counts."""
    cm = np.asarray(cm, dtype=float)
    frac = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = len(class_names)
    fig = Figure(figsize=(1.2 * k + 2.5, 1.1 * k + 2))
    ax = fig.add_subplot()
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                    color="white" if frac[i, j] > 0.5 else "black", fontsize=9)
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted", ylabel="true", title="Confusion matrix")
    ax.set_xticklabels(class_names, rotation=30, ha="right")
    ax.set_yticklabels(class_names)
    return save_png(fig, path)


def regression_scatter(y_true, y_pred, target_names: Sequence[str], path: str | Path) -> Path:
    """Predicted vs true per target, with the y = x line."""
    yt = np.asarray(y_true, dtype=float).reshape(len(y_true), -1)
    yp = np.asarray(y_pred, dtype=float).reshape(len(y_pred), -1)
    t = len(target_names)
    fig = Figure(figsize=(4 * t, 4))
    for j, name in enumerate(target_names):
        ax = fig.add_subplot(1, t, j + 1)
        ax.scatter(yt[:, j], yp[:, j], s=6, alpha=0.5)
        lo, hi = float(min(yt[:, j].min(), yp[:, j].min())), float(max(yt[:, j].max(), yp[:, j].max()))
        ax.plot([lo, hi], [lo, hi], color="grey", ls="--", lw=0.8)
        ax.set(xlabel=f"true {name}", ylabel=f"predicted {name}", title=name)
    return save_png(fig, path)


def anomaly_roc(is_anomaly, score, path: str | Path, fpr_mark: float = 0.1) -> Path:
    """ROC of the anomaly score (anomalies positive), with the FPR = ``fpr_mark`` line."""
    a, s = np.asarray(is_anomaly).astype(bool), np.asarray(score, dtype=float)
    fpr, tpr, _ = roc_curve(a, s)
    fig = Figure(figsize=(5, 4.5))
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, lw=1.5, label=f"AUC {roc_auc_score(a, s):.3f}")
    ax.axvline(fpr_mark, color="red", lw=0.8, ls=":", label=f"FPR = {fpr_mark}")
    roc_axes(ax, "Anomaly detection ROC")
    return save_png(fig, path)
