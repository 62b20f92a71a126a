"""Protocol v2 on the board: two-level bootstrap intervals from records that carry item replicates,
paired comparisons with the best model (Holm), and boards of older records unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from lensbench.board.aggregate import aggregate, records_frame
from lensbench.board.markdown import render_markdown
from lensbench.board.page import render_page
from lensbench.board.protocol import CI_SEEDS, CI_SEEDS_ITEMS, PROTOCOL_NOTE, SEED_ONLY_NOTE
from lensbench.board.significance import hierarchical_ci
from lensbench.records import RunRecord

B = 200


def rec(model, seed, value, reps=None, *, task="substructure/model1", metric="auc_macro", hib=True) -> RunRecord:
    boot = {} if reps is None else {"seed": 0, "n": len(reps), "metrics": {metric: [float(v) for v in reps]}}
    return RunRecord(
        task=task, task_version=1, preset="quick", model=model, model_family="baseline", seed=seed, status="ok",
        primary_metric=metric, higher_is_better=hib, metrics_test={metric: float(value)}, lensbench_version="0",
        dataset="d", dataset_fingerprint="f" * 16, task_config_hash="t", model_config_hash="m", bootstrap=boot)


def planted(rng, means: dict, n_seeds=8, sd_seed=0.004, sd_item=0.01, task="substructure/model1") -> list[RunRecord]:
    """Each model's seeds around its mean; every run scored on the same resamples (a shared column effect)."""
    shared = rng.normal(0, sd_item, B)
    out = []
    for model, mu in means.items():
        for s in range(n_seeds):
            point = mu + rng.normal(0, sd_seed)
            out.append(rec(model, s, point, np.clip(point + shared + rng.normal(0, 0.002, B), 0, 1), task=task))
    return out


def test_planted_difference_is_separated_and_a_null_one_is_not():
    rng = np.random.default_rng(0)
    recs = planted(rng, {"best": 0.85, "same": 0.85, "worse": 0.82})
    agg = aggregate(records_frame(recs)).set_index("model")
    assert set(agg["ci_method"]) == {CI_SEEDS_ITEMS}
    assert agg.loc["worse", "separated"]
    assert agg.loc["worse", "vs_best_p"] < 0.05 and agg.loc["worse", "rank"] >= 2
    assert agg.loc["worse", "vs_best_diff"] == pytest.approx(-0.03, abs=0.006)
    top = agg["mean"].idxmax()
    other = "same" if top == "best" else "best"
    assert agg.loc[top, "rank"] == 1 and agg.loc[top, "vs_best_diff"] == 0
    assert not agg.loc[other, "separated"] and agg.loc[other, "rank"] == 1 and agg.loc[other, "vs_best_p"] >= 0.05
    # the interval is the two-level bootstrap of the model's seeds x replicate columns, clipped to [0, 1]
    rows = [r for r in recs if r.model == "worse"]
    ci = hierarchical_ci([r.metrics_test["auc_macro"] for r in rows],
                         [r.bootstrap["metrics"]["auc_macro"] for r in rows], bounds=(0, 1))
    assert (agg.loc["worse", "ci_lo"], agg.loc["worse", "ci_hi"]) == (pytest.approx(ci.lo), pytest.approx(ci.hi))


def test_holm_adjusts_over_the_comparisons_of_a_table():
    rng = np.random.default_rng(1)
    recs = planted(rng, {"a": 0.9, "b": 0.9, "c": 0.9, "d": 0.9})
    agg = aggregate(records_frame(recs))
    assert (agg["rank"] == 1).all() and not agg["separated"].fillna(False).any()
    p = agg["vs_best_p"].dropna()
    assert len(p) == 3 and (p <= 1).all()


def test_a_board_of_old_records_has_no_new_columns_and_a_mixed_board_says_which_interval():
    old = [rec(m, s, v + 0.01 * s) for m, v in (("m1", 0.8), ("m2", 0.7)) for s in range(3)]
    agg_old = aggregate(records_frame(old))
    assert "ci_method" not in agg_old and "vs best" not in render_markdown(agg_old)
    rng = np.random.default_rng(2)
    new = planted(rng, {"x": 0.9, "y": 0.8}, task="substructure/model2")
    agg = aggregate(records_frame(old + new))
    by_task = agg.groupby("task")["ci_method"].unique()
    assert list(by_task["substructure/model1"]) == [CI_SEEDS] and list(by_task["substructure/model2"]) == [CI_SEEDS_ITEMS]
    old_rows = agg[agg.task == "substructure/model1"].set_index("model")
    ref = aggregate(records_frame(old)).set_index("model")
    assert old_rows[["ci_lo", "ci_hi", "rank"]].equals(ref[["ci_lo", "ci_hi", "rank"]])  # seed-only, as before
    md = render_markdown(agg)
    assert md.count(SEED_ONLY_NOTE) == 1 and md.count(PROTOCOL_NOTE) == 1
    assert "vs best: Δ, p (Holm), separated" in md and "| best |" in md and ", yes |" in md
    assert "vs best: Δ, p (Holm), separated" in render_page(agg, "t")


def test_records_with_replicates_on_other_resamples_fall_back_to_seed_intervals():
    rng = np.random.default_rng(3)
    recs = planted(rng, {"x": 0.9, "y": 0.8})
    recs[0].bootstrap = {**recs[0].bootstrap, "seed": 1}
    agg = aggregate(records_frame(recs))
    assert "ci_method" not in agg  # no table is protocol v2: the board renders as for older records
    ref = aggregate(records_frame([rec(r.model, r.seed, r.metrics_test["auc_macro"]) for r in recs]))
    assert agg[["ci_lo", "ci_hi", "rank"]].equals(ref[["ci_lo", "ci_hi", "rank"]])
