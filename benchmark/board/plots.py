"""PNGs: per-run diagnostics (ROC, confusion matrix, regression scatter, anomaly ROC) and leaderboard
figures (CI dot plot, mean ROC per model, metric per slice bin).

Uses matplotlib's object API with the Agg canvas directly (no pyplot, no global backend switch),
so it is safe in worker processes and on machines without a display. Each function writes one
PNG, creating parent folders, and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from sklearn.metrics import roc_auc_score, roc_curve

DPI = 110


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def _roc_axes(ax, title: str) -> None:
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
    _roc_axes(ax, "ROC (one vs rest)")
    return _save(fig, path)


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
    return _save(fig, path)


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
    return _save(fig, path)


def anomaly_roc(is_anomaly, score, path: str | Path, fpr_mark: float = 0.1) -> Path:
    """ROC of the anomaly score (anomalies positive), with the FPR = ``fpr_mark`` line."""
    a, s = np.asarray(is_anomaly).astype(bool), np.asarray(score, dtype=float)
    fpr, tpr, _ = roc_curve(a, s)
    fig = Figure(figsize=(5, 4.5))
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, lw=1.5, label=f"AUC {roc_auc_score(a, s):.3f}")
    ax.axvline(fpr_mark, color="red", lw=0.8, ls=":", label=f"FPR = {fpr_mark}")
    _roc_axes(ax, "Anomaly detection ROC")
    return _save(fig, path)


def leaderboard_ci_plot(table, path: str | Path) -> Path:
    """One leaderboard table (the ``leaderboard.aggregate`` rows of one task table) as a dot plot:
    mean of the primary metric per model with its 95 % CI bar, best at the top, coloured by family."""
    t = table.iloc[::-1]  # best at the top
    metric = str(t["primary_metric"].iloc[0])
    families = sorted(t["family"].unique())
    colours = {f: f"C{i}" for i, f in enumerate(families)}
    mean = t["mean"].to_numpy(dtype=float)
    lo = np.where(np.isnan(t["ci_lo"].to_numpy(dtype=float)), mean, t["ci_lo"].to_numpy(dtype=float))
    hi = np.where(np.isnan(t["ci_hi"].to_numpy(dtype=float)), mean, t["ci_hi"].to_numpy(dtype=float))
    fig = Figure(figsize=(6, 0.45 * len(t) + 1.5))
    ax = fig.add_subplot()
    for i, (m, l, h, fam) in enumerate(zip(mean, lo, hi, t["family"])):
        ax.errorbar(m, i, xerr=[[m - l], [h - m]], fmt="o", color=colours[fam], capsize=3, lw=1.2)
    ax.set_yticks(range(len(t)))
    ax.set_yticklabels([f"{m} (#{int(r)})" for m, r in zip(t["model"], t["rank"])])
    ax.set_ylim(-0.6, len(t) - 0.4)
    ax.grid(axis="x", lw=0.4, alpha=0.6)
    direction = "higher is better" if bool(t["higher_is_better"].iloc[0]) else "lower is better"
    ax.set(xlabel=f"{metric} ({direction}): mean and 95% CI over seeds",
           title=f"{t['task'].iloc[0]} v{t['task_version'].iloc[0]} ({t['preset'].iloc[0]})")
    ax.legend(handles=[Patch(color=colours[f], label=f) for f in families], fontsize=8, loc="best")
    return _save(fig, path)


def leaderboard_roc_plot(fpr, series: dict, title: str, path: str | Path) -> Path:
    """Mean ROC curve per model on a common FPR grid, with a band of ± std over seeds.

    ``series``: legend label -> (mean TPR, std TPR (NaN: no band), colour, line style)."""
    fpr = np.asarray(fpr, dtype=float)
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    for label, (mean, std, colour, ls) in series.items():
        mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
        ax.plot(fpr, mean, color=colour, ls=ls, lw=1.5, label=label)
        if not np.isnan(std).all():
            ax.fill_between(fpr, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), color=colour, alpha=0.12,
                            lw=0)
    _roc_axes(ax, title)
    ax.title.set_fontsize(9)
    return _save(fig, path)


def leaderboard_slice_plot(panels: Sequence[dict], metric: str, title: str, path: str | Path) -> Path:
    """The primary metric per bin of one or more dataset columns, one panel per column, one line per
    model with error bars = std over seeds.

    ``panels``: dicts with ``column``, ``labels`` (bin labels), ``n`` (test rows per bin) and ``series``
    (model -> (mean per bin, std per bin, colour, line style))."""
    k = len(panels)
    fig = Figure(figsize=(5.2 * k, 4.4))
    for j, p in enumerate(panels):
        ax = fig.add_subplot(1, k, j + 1)
        nb = len(p["labels"])
        x = np.arange(nb, dtype=float)
        width = 0.25 / max(len(p["series"]), 1)  # small offsets so error bars do not overlap
        for i, (model, (mean, std, colour, ls)) in enumerate(p["series"].items()):
            off = (i - (len(p["series"]) - 1) / 2) * width
            err = np.nan_to_num(np.asarray(std, dtype=float), nan=0.0)
            ax.errorbar(x + off, np.asarray(mean, dtype=float), yerr=err, color=colour, ls=ls, marker="o", ms=3,
                        lw=1.2, capsize=2, label=model)
        ticks = [f"{lab}\nn={n}" for lab, n in zip(p["labels"], list(p["n"]) + [""] * nb)]
        ax.set_xticks(x)
        ax.set_xticklabels(ticks, fontsize=7)
        ax.grid(axis="y", lw=0.4, alpha=0.6)
        ax.set(xlabel=f"{p['column']} (test-set quantile bins)", ylabel=metric if j == 0 else None)
        if j == 0:
            ax.legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)
