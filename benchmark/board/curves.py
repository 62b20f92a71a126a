"""ROC curves and metric-per-slice summaries for leaderboard tables, from the optional record fields
``curves`` and ``slices``.

- ``curves["roc"]``: ``{"fpr": [grid], "tpr": {class name: [TPR on the grid]}}``, one-vs-rest per class
  (anomaly tasks: the single key ``"anomaly"``). A record's curve is the macro average over its classes,
  put on ``FPR_GRID``; a model's curve is the mean (and std) of its seeds' curves.
- ``slices[column]``: ``{"edges": [b+1], "n": [b], <primary metric>: [b values or null]}``: the primary
  test metric per bin of a dataset column. A model's value per bin is the mean (and std) over seeds.

Records written before these fields existed simply have none (their tables get no ROC/slice figure).
Only the models chosen by ``select_models`` (the leaders plus every PINN and its physics-off twin, about
eight) are drawn (``board.figures``) and tabulated (``board.cells.slice_cells``), to stay readable.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lensbench.board import aggregate
from lensbench.records import RunRecord
from lensbench.run.diagnostics import FPR_GRID  # the grid the records' curves are stored on

log = logging.getLogger(__name__)

MAX_MODELS = 8  # lines per figure / columns per slice table (PINN pairs may add one or two)
MIN_TOP = 3  # the leaders always shown, however many PINN pairs there are


@dataclass
class SliceColumn:
    """The primary metric per bin of one dataset column, per model and seed."""

    column: str
    metric: str
    edges: list[float]
    n: list[int]
    values: dict[str, list[list[float]]] = field(default_factory=dict)  # model -> per seed, per bin (NaN = null)

    def mean_std(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std (ddof=1) over seeds per bin, ignoring undefined values; std is NaN where fewer
        than two seeds have a value."""
        v = np.asarray(self.values[model], dtype=float)
        ok = (~np.isnan(v)).sum(axis=0)
        with warnings.catch_warnings():  # all-NaN bins: 'mean of empty slice'
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(v, axis=0)
            std = np.nanstd(v, axis=0, ddof=1)
        return mean, np.where(ok >= 2, std, np.nan)

    def bin_labels(self) -> list[str]:
        return [f"{_edge(lo)}–{_edge(hi)}" for lo, hi in zip(self.edges[:-1], self.edges[1:])]


@dataclass
class TableCurves:
    """Everything drawn beside one leaderboard table besides its CI plot."""

    roc: dict[str, list[np.ndarray]] = field(default_factory=dict)  # model -> per seed macro TPR on FPR_GRID
    slices: dict[str, SliceColumn] = field(default_factory=dict)  # column -> summary
    dataset: str = ""  # the record's dataset name (for the gallery)

    def roc_mean_std(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        v = np.vstack(self.roc[model])
        return v.mean(axis=0), (v.std(axis=0, ddof=1) if len(v) > 1 else np.full(v.shape[1], np.nan))


def _edge(x: float) -> str:
    return f"{x:.3g}"


def table_key(r: RunRecord) -> tuple:
    """The key of the leaderboard table a record belongs to (``aggregate.table_key`` of its fields)."""
    return aggregate.table_key(vars(r))


def latest_ok(records) -> list[RunRecord]:
    """The ``ok`` records, one per (table, model, seed): the most recently created (as ``records_frame``)."""
    keep: dict[tuple, RunRecord] = {}
    for r in sorted((r for r in records if r.status == "ok"), key=lambda r: r.created):
        keep[table_key(r) + (r.model, r.seed)] = r
    return list(keep.values())


def macro_tpr(roc: dict) -> np.ndarray | None:
    """A record's ``curves["roc"]`` as the macro-average TPR on ``FPR_GRID`` (None if unusable)."""
    try:
        fpr = np.asarray(roc["fpr"], dtype=float)
        tprs = [np.asarray(v, dtype=float) for v in roc["tpr"].values()]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    tprs = [t for t in tprs if t.shape == fpr.shape and not np.isnan(t).all()]
    if not tprs or fpr.ndim != 1 or len(fpr) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        macro = np.nanmean(np.vstack(tprs), axis=0)
    ok = ~np.isnan(macro)
    return np.interp(FPR_GRID, fpr[ok], macro[ok])


def collect(records) -> dict[tuple, TableCurves]:
    """Per table key (``TABLE_KEYS`` order): the ROC curves and slices of its records."""
    out: dict[tuple, TableCurves] = {}
    for r in latest_ok(records):
        tc = out.setdefault(table_key(r), TableCurves(dataset=r.dataset))
        curves = getattr(r, "curves", None) or {}
        if isinstance(curves.get("roc"), dict):
            tpr = macro_tpr(curves["roc"])
            if tpr is not None:
                tc.roc.setdefault(r.model, []).append(tpr)
        for col, s in (getattr(r, "slices", None) or {}).items():
            if not isinstance(s, dict) or not isinstance(s.get(r.primary_metric), list) or "edges" not in s:
                continue
            edges = [float(e) for e in s["edges"]]
            vals = [math.nan if v is None else float(v) for v in s[r.primary_metric]]
            if len(vals) != len(edges) - 1:
                log.warning("%s %s seed %s: slices[%r] has %d values for %d bins; ignored",
                            r.task, r.model, r.seed, col, len(vals), len(edges) - 1)
                continue
            sc = tc.slices.get(col)
            if sc is None:
                n = [int(x) for x in s.get("n", [])] or [0] * len(vals)
                sc = tc.slices[col] = SliceColumn(col, r.primary_metric, edges, n)
            elif len(sc.edges) != len(edges) or not np.allclose(sc.edges, edges, rtol=1e-6, atol=0):
                log.warning("%s %s seed %s: slices[%r] has other bin edges than the table's first record; "
                            "ignored", r.task, r.model, r.seed, col)
                continue
            sc.values.setdefault(r.model, []).append(vals)
    return out


def twin_of(name: str) -> str:
    """The physics-off twin of a PINN: the registry's ``twin`` when registered, else ``<name>-nophys``."""
    try:
        from lensbench import registry

        if name in registry.models:
            return registry.models.get(name).twin or f"{name}-nophys"
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the leaderboard
        log.debug("registry lookup of %r failed: %s", name, exc)
    return f"{name}-nophys"


def select_models(table: pd.DataFrame, available, limit: int = MAX_MODELS) -> list[str]:
    """Models to draw for one table (rows in rank order): the top ones by rank plus every PINN and
    its physics-off twin, about ``limit`` in all; returned in table order."""
    order = [m for m in table["model"] if m in available]
    family = dict(zip(table["model"], table["family"]))
    pinned: set[str] = set()
    for m in order:
        if family.get(m) == "pinn":
            pinned.add(m)
            if twin_of(m) in available:
                pinned.add(twin_of(m))
    chosen = set(order[:max(MIN_TOP, limit - len(pinned))]) | pinned
    return [m for m in order if m in chosen]
