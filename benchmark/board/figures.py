"""The leaderboard's PNGs, per table: the 95% CI dot plot, the mean ROC curve per model, the
primary metric per slice bin and the validation curves against images seen.

Same matplotlib setup as the per-run figures (``lensbench.run.figures``: Agg canvas, no pyplot),
whose ``save_png`` and ``roc_axes`` they reuse. ``write_table_figures`` writes every figure of one
table that its records have data for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lensbench.board.curves import TableCurves, select_models, twin_of
from lensbench.board.learning import Learning
from lensbench.run.diagnostics import FPR_GRID
from lensbench.run.figures import roc_axes, save_png


def ci_plot(table: pd.DataFrame, path: str | Path) -> Path:
    """One leaderboard table (the ``aggregate`` rows of one table) as a dot plot: mean of the primary
    metric per model with its 95 % CI bar, best at the top, coloured by family."""
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
    return save_png(fig, path)


def roc_plot(fpr, series: dict, title: str, path: str | Path) -> Path:
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
    roc_axes(ax, title)
    ax.title.set_fontsize(9)
    return save_png(fig, path)


def slice_plot(panels: Sequence[dict], metric: str, title: str, path: str | Path) -> Path:
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
    return save_png(fig, path)


def learning_plot(series: dict, metric: str, title: str, path: str | Path) -> Path:
    """Validation metric against training images seen, one line per model (mean over seeds, band ± std).

    ``series``: legend label -> (images seen, mean, std (NaN: no band), colour, line style)."""
    fig = Figure(figsize=(6, 4.4))
    ax = fig.add_subplot()
    for label, (x, mean, std, colour, ls) in series.items():
        ax.plot(x, mean, color=colour, ls=ls, lw=1.5, marker="o", ms=2.5, label=label)
        if not np.isnan(std).all():
            ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.12, lw=0)
    ax.grid(lw=0.4, alpha=0.6)
    ax.set(xlabel="training images seen", ylabel=f"validation {metric} (mean over seeds)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return save_png(fig, path)


def model_styles(models: list[str], table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """(colour, line style) per model; a physics-off twin takes its PINN's colour with a dashed line."""
    family = dict(zip(table["model"], table["family"]))
    styles: dict[str, tuple[str, str]] = {}
    i = 0
    for m in models:
        if m in styles:
            continue
        styles[m] = (f"C{i % 10}", "-")
        if family.get(m) == "pinn" and twin_of(m) in models:
            styles[twin_of(m)] = (f"C{i % 10}", "--")
        i += 1
    return styles


def write_table_figures(table: pd.DataFrame, tc: TableCurves | None, folder: Path, stem: str,
                        lc: Learning | None = None) -> dict[str, Path]:
    """Every figure of one table: the CI plot ``<stem>.png`` always; the ROC PNG (``<stem>_roc.png``),
    the slices PNG (``<stem>_slices.png``) and the validation curves (``<stem>_learning.png``, from
    ``lc``) when its records carry the data. Returns {"ci"|"roc"|"slices"|"learning": path} for those
    written."""
    folder = Path(folder)
    out = {"ci": ci_plot(table, folder / f"{stem}.png")}
    t0 = table.iloc[0]
    title = f"{t0['task']} v{t0['task_version']} ({t0['preset']}, data {str(t0['dataset_fingerprint'])[:8]})"
    if lc is not None and lc.seeds:
        models = select_models(table, lc.drawable())
        styles = model_styles(models, table)
        series = {f"{m} (n={len(lc.seeds[m])})": (*lc.mean(m), *styles[m]) for m in models}
        if series:
            out["learning"] = learning_plot(series, lc.key.removeprefix("val_"), f"{title}: validation curves",
                                            folder / f"{stem}_learning.png")
    if tc is None:
        return out
    means = dict(zip(table["model"], table["mean"]))
    metric = str(t0["primary_metric"])
    if tc.roc:
        models = select_models(table, set(tc.roc))
        styles = model_styles(models, table)
        series = {}
        for m in models:
            mean, std = tc.roc_mean_std(m)
            series[f"{m} ({metric} {means[m]:.3f}, n={len(tc.roc[m])})"] = (mean, std, *styles[m])
        out["roc"] = roc_plot(FPR_GRID, series, f"{title}: macro one-vs-rest ROC", folder / f"{stem}_roc.png")
    if tc.slices:
        panels = []
        for sc in tc.slices.values():
            models = select_models(table, set(sc.values))
            styles = model_styles(models, table)
            panels.append({"column": sc.column, "labels": sc.bin_labels(), "n": sc.n,
                           "series": {m: (*sc.mean_std(m), *styles[m]) for m in models}})
        out["slices"] = slice_plot(panels, metric, f"{title}: {metric} per bin", folder / f"{stem}_slices.png")
    return out
