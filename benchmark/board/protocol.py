"""Protocol v2 in one leaderboard table: intervals over seeds and shared item resamples, and which
models the best one is separated from (``board.significance`` has the statistics).

A table is a v2 table when every record in it carries replicates of its primary metric on the same
shared item resamples (``RunRecord.bootstrap``: same resample seed and B). Then:

* each model's interval is ``hierarchical_ci`` over its seeds and the replicate columns, clipped
  to the metric's range (``metric_names.metric_range``); a model with one seed has none;
* the best model by mean is compared with every other model by ``paired_difference`` on their
  common seeds (p-value: the larger of a paired t-test over seeds and the two-level bootstrap's over
  seeds and test items, so a difference must hold for both); the p-values of the table are Holm-adjusted
  (``holm``) and a model is separated from the best when the adjusted p < ``ALPHA``;
* rank: 1 for the best and every model not separated from it; a separated model gets
  ``max(2, the CI rule of `aggregate` on the v2 intervals)``; a model without a test (fewer than
  2 seeds in common with the best) keeps the CI rule.

Tables of records without replicates (e.g. suite v1) keep the seed-only t-interval and the CI rule.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lensbench.board.significance import hierarchical_ci, holm, paired_difference, separated
from lensbench.metric_names import metric_range

ALPHA = 0.05
CI_SEEDS_ITEMS = "seeds x items"  # ``ci_method`` of a v2 interval
CI_SEEDS = "seeds"  # ``ci_method`` of the seed-only t-interval
COLUMNS = ["ci_method", "vs_best_diff", "vs_best_p", "separated"]  # added to the aggregate of a board with v2 tables
PROTOCOL_NOTE = (
    "95% CI: two-level bootstrap over seeds and the test-item resamples shared by every run (protocol v2). "
    "vs best: mean paired difference to the best model on common seeds; p-value: the larger of a paired t-test "
    "over seeds and the two-level bootstrap's over seeds and test items (a difference must hold for both), "
    "Holm-adjusted over the table; models not separated from the best (p >= 0.05) share rank 1."
)
SEED_ONLY_NOTE = "95% CI: t-interval over seeds (these records carry no test-item replicates)."


def replicate_key(bootstrap: dict, metric: str) -> tuple[str, list[float] | None]:
    """(resample key ``"<seed>:<B>"`` or "", the B replicate values of ``metric`` or None) of a record's
    ``bootstrap``; None when absent or of the wrong length."""
    if not bootstrap or "seed" not in bootstrap or "n" not in bootstrap:
        return "", None
    values = (bootstrap.get("metrics") or {}).get(metric)
    if not isinstance(values, list) or len(values) != bootstrap["n"] or not values:
        return "", None
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return "", None
    return f"{bootstrap['seed']}:{bootstrap['n']}", [float(v) for v in values]


def is_v2(table_frame: pd.DataFrame) -> bool:
    """True when every row of one table's per-seed frame has replicates on the same resamples."""
    return (bool(len(table_frame)) and table_frame["replicates"].notna().all()
            and table_frame["resample_key"].nunique() == 1)


def interval(g: pd.DataFrame, metric: str) -> tuple[float, float]:
    """The v2 interval (clipped to the metric's range) of one model's seeds ``g``; NaNs for one seed."""
    if len(g) < 2:
        return math.nan, math.nan
    ci = hierarchical_ci(g["primary"].to_numpy(dtype=float), np.stack(g["replicates"].to_list()),
                         bounds=metric_range(metric))
    return ci.lo, ci.hi


def separation(t: pd.DataFrame, frame: pd.DataFrame, ci_rank: np.ndarray) -> pd.DataFrame:
    """``t`` (one v2 table of the aggregate) with ``vs_best_diff``, ``vs_best_p`` (Holm), ``separated``
    and ``rank`` set; ``frame``: the table's per-seed rows; ``ci_rank``: the CI rule's ranks of ``t``."""
    t = t.copy()
    hib = bool(t["higher_is_better"].iloc[0])
    best = t.sort_values(["mean", "model"], ascending=[not hib, True])["model"].iloc[0]
    lo, hi = metric_range(t["primary_metric"].iloc[0])
    width = hi - lo
    by_model = {m: g.set_index("seed") for m, g in frame.groupby("model")}
    tests = {}
    for m in t["model"]:
        if m == best:
            continue
        a, b = by_model[m], by_model[best]
        try:
            tests[m] = paired_difference(a["primary"].to_dict(), b["primary"].to_dict(), a["replicates"].to_dict(),
                                         b["replicates"].to_dict(), bounds=(-width, width))
        except ValueError:  # fewer than 2 common seeds: no test
            continue
    adjusted = dict(zip(tests, holm([d.p_value for d in tests.values()]))) if tests else {}
    diff, p, sep, rank = [], [], [], []
    for m, r in zip(t["model"], ci_rank):
        if m == best:
            diff.append(0.0), p.append(math.nan), sep.append(False), rank.append(1)
        elif m in tests:
            is_sep = separated(float(adjusted[m]), ALPHA)
            diff.append(tests[m].diff), p.append(float(adjusted[m])), sep.append(is_sep)
            rank.append(max(2, int(r)) if is_sep else 1)
        else:
            diff.append(math.nan), p.append(math.nan), sep.append(None), rank.append(int(r))
    t["vs_best_diff"], t["vs_best_p"], t["separated"], t["rank"] = diff, p, sep, rank
    return t

