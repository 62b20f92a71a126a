"""Learning curves of a leaderboard table: the validation selection metric against training images seen,
per model the mean over seeds, from the records' ``curve`` field (``trainer.FitResult.curve``).

``collect(records)`` gives, per table key, ``Learning`` (model -> per seed (images seen, val metric));
``Learning.mean(model)`` the mean curve on the images-seen points its seeds share; ``last_quarter_gain``
how much the mean curve still rose over the last quarter of training (end minus the interpolated
value at 75 % of the images seen, oriented so that positive = improving): the protocol's test of
whether a budget has converged (it has when the gain is below the table's CI half-width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lensbench.board.curves import latest_ok, select_models, table_key
from lensbench.records import RunRecord

QUARTER = 0.75


@dataclass
class Learning:
    """One table's validation curves: model -> per seed (images seen, val metric)."""

    key: str = ""  # the curve's val column, e.g. ``val_auc_macro``
    higher_is_better: bool = True
    seeds: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def mean(self, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images seen, mean, std over seeds) on the points every seed of ``model`` has; std NaN
        with one seed."""
        runs = self.seeds[model]
        common = sorted(set.intersection(*(set(x.tolist()) for x, _ in runs)))
        x = np.asarray(common, dtype=float)
        v = np.vstack([np.interp(x, xs, ys) for xs, ys in runs])
        std = v.std(axis=0, ddof=1) if len(runs) > 1 else np.full(len(x), np.nan)
        return x, v.mean(axis=0), std

    def drawable(self) -> set[str]:
        """The models whose curves have more than one point (a line, not a dot)."""
        return {m for m, runs in self.seeds.items() if len(runs[0][0]) > 1}

    def last_quarter_gain(self, model: str) -> float:
        """Mean-curve gain over the last quarter of images seen (positive = still improving); NaN for
        a curve of fewer than two points."""
        x, m, _ = self.mean(model)
        if len(x) < 2:
            return math.nan
        gain = float(m[-1] - np.interp(QUARTER * x[-1], x, m))
        return gain if self.higher_is_better else -gain


def _points(r: RunRecord) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(val key, images seen, values) of a record's curve; None when it has no usable curve."""
    rows = [c for c in (r.curve or []) if isinstance(c, dict)]
    keys = sorted({k for c in rows for k in c if str(k).startswith("val_")})
    if not rows or len(keys) != 1:
        return None
    try:
        x = np.asarray([float(c["images_seen"]) for c in rows])
        y = np.asarray([float(c[keys[0]]) for c in rows])
    except (KeyError, TypeError, ValueError):
        return None
    if not (np.isfinite(x).all() and np.isfinite(y).all()) or (np.diff(x) <= 0).any():
        return None
    return keys[0], x, y


def collect(records) -> dict[tuple, Learning]:
    """Per table key (``aggregate.TABLE_KEYS`` order): the validation curves of its records."""
    out: dict[tuple, Learning] = {}
    for r in latest_ok(records):
        pts = _points(r)
        if pts is None:
            continue
        key, x, y = pts
        hib = r.higher_is_better if key != "val_loss" else False
        lc = out.setdefault(table_key(r), Learning(key, hib))
        if lc.key == key:
            lc.seeds.setdefault(r.model, []).append((x, y))
    return out


CAPTION = ("Validation curves (mean over seeds of the val selection metric; the models drawn in the figure): the "
           "gain over the last quarter of training against the test 95% CI half-width; *flat* when the gain is "
           "smaller, i.e. more training at this budget would not move the number by more than its interval.")
HEADER = ["model", "seeds", "val at the end", "gain over the last quarter", "test CI half-width", "flat?"]


def cells(t, lc: Learning) -> tuple[list[str], list[list[tuple[str, object]]]]:
    """Header and (text, sort key) rows of the convergence table of one table ``t`` (aggregate rows in
    rank order) for the models ``select_models`` picks among those with curves."""
    rows = []
    by_model = {r["model"]: r for r in t.to_dict("records")}
    for m in select_models(t, lc.drawable()):
        _, mean, _ = lc.mean(m)
        gain = lc.last_quarter_gain(m)
        r = by_model[m]
        half = (r["ci_hi"] - r["ci_lo"]) / 2 if not (math.isnan(r["ci_hi"]) or math.isnan(r["ci_lo"])) else math.nan
        flat = "–" if math.isnan(half) or math.isnan(gain) else ("yes" if gain < half else "no")
        rows.append([(m, m), (str(len(lc.seeds[m])), len(lc.seeds[m])), (f"{mean[-1]:.4f}", float(mean[-1])),
                     (f"{gain:+.4f}", gain), ("–" if math.isnan(half) else f"{half:.4f}", half), (flat, flat)])
    return HEADER, rows
