"""Run records -> per-seed frame -> aggregate over seeds -> ranks with tie groups.

One table per (task, task version, preset, dataset fingerprint, test dataset fingerprint):
records that differ in any of these NEVER share a table. Within a table each model gets the mean,
standard deviation (ddof=1) and 95 % t-interval of the mean of its primary test metric over seeds.

Rank rule (tie groups): ``rank = 1 + number of models whose 95 % CI lies entirely on the better
side of this model's CI`` (for higher-is-better: their CI low end > this model's CI high end).
So the leader is always rank 1, every model whose CI overlaps the leader's shares rank 1 unless
some other model's CI is strictly better than its own, and ranks that the data cannot separate
are shared. A model with a single seed has no CI; its interval is its mean (a point).

Tables whose records carry item replicates (protocol v2, ``RunRecord.bootstrap``) get the
two-level bootstrap interval and the paired comparison with the best model instead
(``board.protocol``); a board with such tables has the columns ``protocol.COLUMNS`` as well.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from lensbench.board import protocol
from lensbench.records import RunRecord

TABLE_KEYS = ["task", "task_version", "preset", "dataset_fingerprint", "test_dataset_fingerprint"]
GROUP_KEYS = TABLE_KEYS + ["model"]
CI_LEVEL = 0.95
RANK_RULE = (
    "Rank = 1 + the number of models whose 95% CI of the mean lies entirely on the better side of this "
    "model's CI, so models the intervals cannot separate share a rank. A model with one seed has no CI "
    "and is compared by its mean."
)
FRAME_COLUMNS = TABLE_KEYS + ["model", "family", "seed", "primary_metric", "higher_is_better", "primary",
                              "val_primary", "n_params", "train_time_s", "secondary_metrics",
                              "model_config_hash", "task_config_hash", "created", "replicates", "resample_key"]


def records_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per ``ok`` record; scalar test metrics flattened into ``test.<name>`` columns; the
    primary metric's item replicates (a list, or None) and their resample key in ``replicates`` and
    ``resample_key`` (``protocol.replicate_key``).

    If the same (table, model, seed) occurs twice, the most recently ``created`` one is kept
    (with a warning).
    """
    rows = []
    for r in records:
        if r.status != "ok":
            continue
        row = {
            "task": r.task, "task_version": r.task_version, "preset": r.preset,
            "dataset_fingerprint": r.dataset_fingerprint,
            "test_dataset_fingerprint": r.test_dataset_fingerprint or "",
            "model": r.model, "family": r.model_family, "seed": r.seed,
            "primary_metric": r.primary_metric, "higher_is_better": r.higher_is_better,
            "primary": float(r.metrics_test[r.primary_metric]),
            "val_primary": _num(r.metrics_val.get(r.primary_metric)),
            "n_params": r.n_params, "train_time_s": _num(r.train_time_s),
            "secondary_metrics": "|".join(r.secondary_metrics),
            "model_config_hash": r.model_config_hash, "task_config_hash": r.task_config_hash,
            "created": r.created,
        }
        row["resample_key"], row["replicates"] = protocol.replicate_key(r.bootstrap, r.primary_metric)
        for k, v in r.metrics_test.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                row[f"test.{k}"] = float(v)
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    df = df.sort_values("created", kind="stable")
    dup = df.duplicated(GROUP_KEYS + ["seed"], keep="last")
    if dup.any():
        which = df.loc[dup, ["task", "model", "seed"]].to_dict("records")
        warnings.warn(f"duplicate records for {which}; keeping the most recent of each", stacklevel=2)
        df = df[~dup]
    return df.reset_index(drop=True)


def _num(v) -> float:
    return float(v) if v is not None else float("nan")


def mean_ci(values) -> tuple[float, float, float, float]:
    """mean, std (ddof=1), CI low, CI high of the mean (t distribution at ``CI_LEVEL``); NaNs when n == 1."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, float("nan"), float("nan"), float("nan")
    # n equal values (a deterministic model) spread by exactly 0, not np.std's rounding (1e-16)
    std = float(np.std(values, ddof=1)) if np.ptp(values) > 0 else 0.0
    half = float(stats.t.ppf(0.5 + CI_LEVEL / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def rank_with_ties(mean, lo, hi, higher_is_better: bool) -> np.ndarray:
    """``1 + #models whose interval lies entirely better``; a NaN interval is the point ``mean``."""
    mean, lo, hi = (np.asarray(a, dtype=float) for a in (mean, lo, hi))
    lo = np.where(np.isnan(lo), mean, lo)
    hi = np.where(np.isnan(hi), mean, hi)
    if higher_is_better:
        better = lo[None, :] > hi[:, None]  # [i, j]: j clearly better than i
    else:
        better = hi[None, :] < lo[:, None]
    return 1 + better.sum(axis=1)


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Aggregate the per-seed frame over seeds and rank models within each table.

    Columns: the table keys, ``model``, ``family``, ``primary_metric``, ``higher_is_better``,
    ``mean``, ``std``, ``n``, ``seeds``, ``ci_lo``, ``ci_hi``, ``val_mean``, ``n_params``,
    ``train_time_s`` (mean), ``secondary_metrics``, ``test.<metric>`` (means), ``rank``; when some
    table has item replicates also ``protocol.COLUMNS`` (``ci_method``, ``vs_best_*``, ``separated``).
    Rows are sorted by table, then rank, then mean in the metric's direction.
    """
    metric_cols = [c for c in df.columns if c.startswith("test.")]
    out_cols = GROUP_KEYS + ["family", "primary_metric", "higher_is_better", "mean", "std", "n", "seeds",
                             "ci_lo", "ci_hi", "val_mean", "n_params", "train_time_s", "secondary_metrics",
                             *metric_cols, "rank"]
    if df.empty:
        return pd.DataFrame(columns=out_cols)
    frames = {keys: t for keys, t in df.groupby(TABLE_KEYS, sort=False)}
    v2 = {keys: protocol.is_v2(t) for keys, t in frames.items()}
    if any(v2.values()):
        out_cols[-1:-1] = protocol.COLUMNS
    for keys, t in df.groupby(TABLE_KEYS, sort=False):
        for col in ("primary_metric", "higher_is_better"):
            if t[col].nunique() > 1:
                raise ValueError(f"table {keys}: records disagree on {col}: {sorted(map(str, t[col].unique()))}")
    rows = []
    for keys, g in df.groupby(GROUP_KEYS, sort=True):
        for col in ("model_config_hash", "task_config_hash"):
            if g[col].nunique() > 1:
                warnings.warn(f"{dict(zip(GROUP_KEYS, keys))}: seeds were run with different {col}s", stacklevel=2)
        mean, std, lo, hi = mean_ci(g["primary"])
        table = tuple(keys[:len(TABLE_KEYS)])
        if v2[table]:
            lo, hi = protocol.interval(g, g["primary_metric"].iloc[0])
        secondary = list(dict.fromkeys(s for v in g["secondary_metrics"] if v for s in v.split("|")))
        row = dict(zip(GROUP_KEYS, keys))
        row.update(
            family=g["family"].iloc[0], primary_metric=g["primary_metric"].iloc[0],
            higher_is_better=bool(g["higher_is_better"].iloc[0]), mean=mean, std=std, n=len(g),
            seeds=",".join(str(s) for s in sorted(g["seed"])), ci_lo=lo, ci_hi=hi,
            val_mean=float(g["val_primary"].mean()), n_params=g["n_params"].dropna().max(),
            train_time_s=float(g["train_time_s"].mean()), secondary_metrics="|".join(secondary),
        )
        for c in metric_cols:
            row[c] = float(g[c].mean())  # NaN-skipping mean
        if "ci_method" in out_cols:
            row.update(ci_method=protocol.CI_SEEDS_ITEMS if v2[table] else protocol.CI_SEEDS,
                       vs_best_diff=math.nan, vs_best_p=math.nan, separated=None)
        rows.append(row)
    agg = pd.DataFrame(rows, columns=out_cols[:-1])
    parts = []
    for keys, t in agg.groupby(TABLE_KEYS, sort=True):
        t = t.copy()
        hib = bool(t["higher_is_better"].iloc[0])
        t["rank"] = rank_with_ties(t["mean"], t["ci_lo"], t["ci_hi"], hib)
        if v2[keys]:
            t = protocol.separation(t, frames[keys], t["rank"].to_numpy())
        t["_order"] = -t["mean"] if hib else t["mean"]
        parts.append(t.sort_values(["rank", "_order", "model"]).drop(columns="_order"))
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- the tables of an aggregate


def iter_tables(agg: pd.DataFrame) -> Iterator[tuple[dict, pd.DataFrame]]:
    """Each leaderboard table of ``agg`` as (its ``TABLE_KEYS`` values as a dict, its rows), in a stable order."""
    if agg.empty:
        return
    for keys, t in agg.groupby(TABLE_KEYS, sort=True):
        yield dict(zip(TABLE_KEYS, keys)), t


def table_key(k: Mapping) -> tuple:
    """A table's keys (a mapping with the ``TABLE_KEYS``: a table's dict or ``vars`` of a record) as a
    hashable tuple in ``TABLE_KEYS`` order; the key of ``curves.collect``, the figures and galleries."""
    return (k["task"], int(k["task_version"]), k["preset"], k["dataset_fingerprint"],
            k["test_dataset_fingerprint"] or "")


def figure_stems(agg: pd.DataFrame) -> dict[tuple, str]:
    """File stem of each table's figures: ``<task>_v<version>_<preset>_<fp[:8]>`` (plus ``_<test fp[:8]>``
    when two tables would otherwise share it)."""
    base = {table_key(k): f"{k['task'].replace('/', '__')}_v{k['task_version']}_{k['preset']}_{k['dataset_fingerprint'][:8]}"
            for k, _ in iter_tables(agg)}
    seen = list(base.values())
    return {key: (f"{s}_{key[4][:8]}" if seen.count(s) > 1 and key[4] else s) for key, s in base.items()}


def paired_spread(frame: pd.DataFrame, task: str, model_a: str, model_b: str
                  ) -> tuple[dict, tuple, float, float]:
    """(table keys, common seeds, mean and sd (ddof=1) of the per-seed difference a - b) of two models
    on ``task`` in a per-seed frame (``records_frame``), for ``seeds_needed``. Of the task's
    tables that hold both models, the one with the most common seeds (then the newest task version).
    ``ValueError`` naming what exists for an unknown task or model or fewer than 2 common seeds."""
    rows = frame[frame["task"] == task]
    if rows.empty:
        raise ValueError(f"no ok records of task {task!r}; tasks with records: {sorted(frame['task'].unique())}")
    for m in (model_a, model_b):
        if m not in set(rows["model"]):
            raise ValueError(f"no ok records of model {m!r} on task {task!r}; models with records there: "
                             f"{sorted(rows['model'].unique())}")
    best = None
    for keys, t in rows.groupby(TABLE_KEYS, sort=True):
        a = t[t["model"] == model_a].set_index("seed")["primary"]
        b = t[t["model"] == model_b].set_index("seed")["primary"]
        seeds = tuple(sorted(set(a.index) & set(b.index)))
        if best is None or (len(seeds), keys[1]) > (len(best[1]), best[0][1]):
            best = (keys, seeds, a, b)
    keys, seeds, a, b = best
    if len(seeds) < 2:
        raise ValueError(f"{model_a!r} and {model_b!r} share {len(seeds)} seed(s) {list(seeds)} on task {task!r}; "
                         "the spread of a paired difference needs at least 2 common seeds")
    d = np.array([a[s] - b[s] for s in seeds], dtype=float)
    return dict(zip(TABLE_KEYS, keys)), seeds, float(d.mean()), float(d.std(ddof=1))
