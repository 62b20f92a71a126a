"""The physics verdict of one table: each PINN's 2x2 ablation and its comparison with the best baseline.

A PINN ``P`` is registered as four variants that share ``config["ablation_of"] == P`` and differ
in two switches, ``physics`` and ``aux_params`` (``lensbench.pinn_models.catalog``). Models that
carry no ``aux_params`` switch (e.g. an equivariant network and its ordinary-CNN twin, config
``symmetry``) form a group of two, compared on the one switch they have. On one leaderboard table
(``aggregate.TABLE_KEYS``) every group present gets the comparisons that isolate one switch each,
all paired by seed (same seed = same initialisation and data order):

* physics effect at aux on: ``P`` - ``P-nophys-aux``; at aux off: ``P-noaux`` - ``P-nophys``;
* supervision effect at physics on: ``P`` - ``P-noaux``; at physics off: ``P-nophys-aux`` - ``P-nophys``;
* both switches at once: ``P`` - ``P-nophys`` (the full model against the plain network; with the
  physics effect at aux on, what ``board.verdict`` asks of a PINN);
* the full model against the best baseline of the table (by mean; ``family == "baseline"``).

Each difference is ``board.significance.paired_difference`` (mean over common seeds, two-level
bootstrap CI on the shared item resamples when every record has them, else over seeds; p-value: the
paired t-test over seeds, and with item resamples the larger of it and the bootstrap's); the
p-values of one group's comparisons are Holm-adjusted together, and a difference is "separated" when
the adjusted p < ``ALPHA``. Signs are oriented so that a positive difference means "the first model
is better" whatever the metric's direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pandas as pd

from lensbench import registry
from lensbench.board.aggregate import TABLE_KEYS, table_key
from lensbench.board.protocol import is_v2
from lensbench.board.significance import holm, paired_difference, separated
from lensbench.metric_names import metric_range

ALPHA = 0.05
COLUMNS = ["group", "comparison", "a", "b", "n_seeds", "diff", "ci_lo", "ci_hi", "p_holm", "separated"]


def groups(models, config_of: Callable[[str], Mapping | None]) -> dict[str, dict[tuple, str]]:
    """Ablation groups among ``models``: group name -> {(physics, aux_params): model}; ``aux_params``
    is None for groups with one switch (``symmetry``). ``config_of(name)``: a registered model's
    config, or None (unregistered models belong to no group)."""
    out: dict[str, dict[tuple, str]] = {}
    for m in models:
        cfg = config_of(m) or {}
        group = cfg.get("ablation_of")
        if not group:
            continue
        switch = cfg.get("physics", cfg.get("symmetry"))
        if switch is None:
            continue
        out.setdefault(group, {})[(bool(switch), cfg.get("aux_params"))] = m
    return {g: v for g, v in out.items() if len(v) >= 2}


def comparisons(variants: Mapping[tuple, str]) -> list[tuple[str, str, str]]:
    """(what it isolates, model a, model b) for the pairs of one group that differ in one switch, and
    the full model against the variant with every switch off."""
    pairs = [("physics (aux on)", (True, True), (False, True)),
             ("physics (aux off)", (True, False), (False, False)),
             ("supervision (physics on)", (True, True), (True, False)),
             ("supervision (physics off)", (False, True), (False, False)),
             ("physics and supervision", (True, True), (False, False)),
             ("physics", (True, None), (False, None))]
    return [(what, variants[a], variants[b]) for what, a, b in pairs if a in variants and b in variants]


def full_model(variants: Mapping[tuple, str]) -> str:
    """The group's model with every switch on."""
    return variants.get((True, True)) or variants.get((True, None)) or next(iter(variants.values()))


def table(frame: pd.DataFrame, config_of: Callable[[str], Mapping | None]) -> pd.DataFrame:
    """``COLUMNS`` for the per-seed rows of ONE leaderboard table (``aggregate.records_frame``
    restricted to one ``TABLE_KEYS`` value); empty when it holds no ablation group."""
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    hib = bool(frame["higher_is_better"].iloc[0])
    lo, hi = metric_range(frame["primary_metric"].iloc[0])
    width = hi - lo
    by_model = {m: g.set_index("seed") for m, g in frame.groupby("model")}
    with_reps = frame["replicates"].notna().all() and frame["resample_key"].nunique() == 1
    means = frame.groupby("model")["primary"].mean()
    baselines = means[frame.groupby("model")["family"].first() == "baseline"]
    best_baseline = (baselines.idxmax() if hib else baselines.idxmin()) if len(baselines) else None
    rows = []
    for group, variants in sorted(groups(by_model, config_of).items()):
        pairs = comparisons(variants)
        if not pairs:  # e.g. only the v1 pair P / P-nophys, which differ in both switches
            continue
        if best_baseline is not None:
            pairs.append((f"vs best baseline ({best_baseline})", full_model(variants), best_baseline))
        tests = []
        for what, a, b in pairs:
            ga, gb = by_model[a], by_model[b]
            try:
                d = paired_difference(ga["primary"].to_dict(), gb["primary"].to_dict(),
                                      ga["replicates"].to_dict() if with_reps else None,
                                      gb["replicates"].to_dict() if with_reps else None, bounds=(-width, width))
            except ValueError:  # fewer than 2 common seeds: reported without a test
                d = None
            tests.append((what, a, b, d))
        tested = [t for t in tests if t[3] is not None]
        adjusted = dict(zip((t[0] for t in tested), holm([t[3].p_value for t in tested]))) if tested else {}
        for what, a, b, d in tests:
            sign = 1.0 if hib else -1.0
            if d is None:
                rows.append({"group": group, "comparison": what, "a": a, "b": b, "n_seeds": 0, "diff": math.nan,
                             "ci_lo": math.nan, "ci_hi": math.nan, "p_holm": math.nan, "separated": None})
                continue
            lo_, hi_ = sorted((sign * d.lo, sign * d.hi))
            p = float(adjusted[what])
            rows.append({"group": group, "comparison": what, "a": a, "b": b, "n_seeds": d.n_seeds,
                         "diff": sign * d.diff, "ci_lo": lo_, "ci_hi": hi_, "p_holm": p, "separated": separated(p, ALPHA)})
    return pd.DataFrame(rows, columns=COLUMNS)


def registered_config(name: str) -> Mapping | None:
    """A registered model's config; None for a model the registry does not know."""
    try:
        return registry.models.get(name).config
    except KeyError:
        return None


def by_table(frame: pd.DataFrame, config_of: Callable[[str], Mapping | None] = registered_config
             ) -> dict[tuple, pd.DataFrame]:
    """The ablation rows (``table``) of each protocol-v2 leaderboard table (``protocol.is_v2``: records
    with shared item replicates) of a per-seed frame (``aggregate.records_frame``), keyed by
    ``aggregate.table_key``; tables without a group, and protocol-v1 tables, are absent."""
    out = {}
    if frame.empty:
        return out
    for keys, t in frame.groupby(TABLE_KEYS, sort=True):
        if not is_v2(t):
            continue
        rows = table(t, config_of)
        if not rows.empty:
            out[table_key(dict(zip(TABLE_KEYS, keys)))] = rows
    return out


def verdict(row: Mapping) -> str:
    """Plain words for one comparison row."""
    if row["separated"] is None:
        return "not tested (fewer than 2 common seeds)"
    if not row["separated"]:
        return "not separated"
    return f"{row['a']} better" if row["diff"] > 0 else f"{row['b']} better"


HEADER = ["group", "isolates", "a", "b", "seeds", "a - b (better > 0)", "95% CI", "p (Holm)", "verdict"]
CAPTION = ("Ablations (each PINN's 2x2: one switch at a time, paired by seed; Holm over the group's comparisons; "
           "better > 0 whatever the metric's direction):")


def cells(t: pd.DataFrame) -> tuple[list[str], list[list[tuple[str, object]]]]:
    """Header and rows of the ablation rows ``t`` as (text, sort key) cells, for Markdown and HTML."""
    rows = []
    for r in t.to_dict("records"):
        tested = not math.isnan(r["diff"])
        rows.append([(r["group"], r["group"]), (r["comparison"], r["comparison"]), (r["a"], r["a"]), (r["b"], r["b"]),
                     (str(r["n_seeds"]), r["n_seeds"]), (f"{r['diff']:+.4f}" if tested else "", r["diff"]),
                     (f"[{r['ci_lo']:+.4f}, {r['ci_hi']:+.4f}]" if tested else "", r["ci_lo"]),
                     (f"{r['p_holm']:.3g}" if tested else "", r["p_holm"]), (verdict(r), verdict(r))])
    return HEADER, rows


def markdown(t: pd.DataFrame) -> str:
    """The ablation rows of one table as Markdown (empty string when there are none)."""
    if t.empty:
        return ""
    header, rows = cells(t)
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|---|---:|---:|---|---:|---|"]
    return "\n".join(lines + ["| " + " | ".join(text for text, _ in row) + " |" for row in rows])
