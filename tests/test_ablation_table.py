"""The 2x2 ablation table (``lensbench.board.ablation``): groups, one-switch comparisons, Holm, signs."""

import math

import numpy as np
import pandas as pd

from lensbench.board import ablation

CONFIGS = {
    "p": {"ablation_of": "p", "physics": True, "aux_params": True},
    "p-noaux": {"ablation_of": "p", "physics": True, "aux_params": False},
    "p-nophys-aux": {"ablation_of": "p", "physics": False, "aux_params": True},
    "p-nophys": {"ablation_of": "p", "physics": False, "aux_params": False},
    "eq": {"ablation_of": "eq", "symmetry": True},
    "eq-nosym": {"ablation_of": "eq", "symmetry": False},
}
FAMILY = {"p": "pinn", "eq": "pinn", "cnn": "baseline", "big-cnn": "baseline"}


def frame(effects: dict, seeds=range(8), metric="auc_macro", hib=True, b=50) -> pd.DataFrame:
    """Per-seed rows: value = 0.7 + effect + seed noise shared by every model (so paired differences
    are exactly the effects, plus a small model-specific jitter); replicates = value + shared item noise."""
    rng = np.random.default_rng(0)
    seed_noise = {s: rng.normal(0, 0.02) for s in seeds}
    items = rng.normal(0, 0.01, b)
    rows = []
    for m, eff in effects.items():
        for s in seeds:
            v = 0.7 + eff + seed_noise[s] + rng.normal(0, 0.002)
            rows.append({"model": m, "family": FAMILY.get(m, "ablation"), "seed": s, "primary": v,
                         "primary_metric": metric, "higher_is_better": hib, "replicates": list(v + items),
                         "resample_key": f"0:{b}"})
    return pd.DataFrame(rows)


def test_physics_separated_supervision_not():
    f = frame({"p": 0.05, "p-noaux": 0.05, "p-nophys-aux": 0.0, "p-nophys": 0.0, "cnn": 0.01, "big-cnn": 0.0})
    t = ablation.table(f, CONFIGS.get).set_index("comparison")
    assert t.loc["physics (aux on)", "a"] == "p" and t.loc["physics (aux on)", "b"] == "p-nophys-aux"
    assert math.isclose(t.loc["physics (aux on)", "diff"], 0.05, abs_tol=0.003)
    assert t.loc["physics (aux on)", "separated"] and t.loc["physics (aux off)", "separated"]
    assert not t.loc["supervision (physics on)", "separated"]
    assert not t.loc["supervision (physics off)", "separated"]
    row = t.loc["vs best baseline (cnn)"]
    assert row["b"] == "cnn" and row["separated"] and math.isclose(row["diff"], 0.04, abs_tol=0.003)
    assert row["ci_lo"] < row["diff"] < row["ci_hi"]
    assert ablation.verdict(row) == "p better"
    # Holm over the group's 5 comparisons: every adjusted p >= the raw paired p
    assert (t["p_holm"] <= 1).all() and (t["p_holm"] >= 0).all()


def test_lower_is_better_orients_signs():
    f = frame({"p": -0.05, "p-nophys-aux": 0.0}, metric="mse", hib=False)
    t = ablation.table(f, CONFIGS.get)
    (row,) = t.to_dict("records")
    assert row["comparison"] == "physics (aux on)"
    assert math.isclose(row["diff"], 0.05, abs_tol=0.003)  # lower mse: positive = a better
    assert row["ci_lo"] < row["diff"] < row["ci_hi"] and ablation.verdict(row) == "p better"


def test_one_switch_group_and_missing_seeds():
    f = frame({"eq": 0.0, "eq-nosym": 0.0})
    t = ablation.table(f, CONFIGS.get)
    assert list(t["comparison"]) == ["physics"] and not t["separated"].iloc[0]
    f2 = pd.concat([frame({"p": 0.0}, seeds=[0]), frame({"p-nophys-aux": 0.0}, seeds=[1])])
    (row,) = ablation.table(f2, CONFIGS.get).to_dict("records")
    assert row["separated"] is None and ablation.verdict(row).startswith("not tested")


def test_no_group_no_rows_and_markdown():
    assert ablation.table(frame({"cnn": 0.0, "big-cnn": 0.0}), CONFIGS.get).empty
    assert ablation.markdown(ablation.table(frame({"cnn": 0.0}), CONFIGS.get)) == ""
    md = ablation.markdown(ablation.table(frame({"p": 0.05, "p-nophys-aux": 0.0}), CONFIGS.get))
    assert "| p | physics (aux on) | p | p-nophys-aux |" in md and "p better" in md


def test_board_markdown_shows_the_ablation_under_its_table_and_indicators_unranked():
    """Through the real registry: lens-inversion's four variants and resnet10t on one table; the
    CFHTLS indicator task (``ranked=False``) is listed last, without ranks."""
    from lensbench.board import markdown
    from lensbench.board.aggregate import TABLE_KEYS, aggregate

    f = frame({"lens-inversion": 0.05, "lens-inversion-noaux": 0.05, "lens-inversion-nophys-aux": 0.0,
               "lens-inversion-nophys": 0.0, "resnet10t": 0.0})
    f["family"] = [{"lens-inversion": "pinn", "resnet10t": "baseline"}.get(m, "ablation") for m in f["model"]]
    keys = {"task": "substructure/lensbench-v2", "task_version": 1, "preset": "medium",
            "dataset_fingerprint": "ab" * 8, "test_dataset_fingerprint": ""}
    ind = frame({"resnet10t": 0.0, "lens-inversion": 0.0}).assign(family="baseline")
    ind_keys = dict(keys, task="lens-finding/cfhtls", preset="quick")
    both = pd.concat([f.assign(**keys), ind.assign(**ind_keys)], ignore_index=True)
    both = both.assign(val_primary=0.7, n_params=10, train_time_s=1.0, secondary_metrics="", model_config_hash="h",
                       task_config_hash="h", created="2026-12-01T00:00:00")
    agg = aggregate(both[[*TABLE_KEYS, *[c for c in both if c not in TABLE_KEYS]]])
    md = markdown.render_markdown(agg, "v2", ablations=ablation.by_table(both))
    from lensbench.board.page import render_page

    html = render_page(agg, suite="v2", ablations=ablation.by_table(both))
    assert html.count('class="ablation"') == 1 and "lens-inversion-nophys-aux" in html and "resnet10t better" not in html
    main_at, indicator_at = md.index("## substructure/lensbench-v2"), md.index("## lens-finding/cfhtls")
    assert main_at < md.index("Ablations (each PINN's 2x2") < md.index("## Out-of-distribution indicators") < indicator_at
    assert "| lens-inversion | physics (aux on) | lens-inversion | lens-inversion-nophys-aux |" in md
    assert "vs best baseline (resnet10t)" in md
    indicator_table = md[indicator_at:]
    assert "| – | resnet10t |" in indicator_table and "(not ranked)" in md.split("## substructure")[0]
