"""The generated verdict (``lensbench.board.verdict``): per table, whether a PINN beats both its
physics-off variants and the best baseline (separated), the closest PINN otherwise, and the probe."""

import math

import pandas as pd
from test_ablation_table import frame

from lensbench.board import ablation, markdown, verdict
from lensbench.board.aggregate import TABLE_KEYS, aggregate
from lensbench.board.page import render_page

GI = ("grav-imaging", "grav-imaging-noaux", "grav-imaging-nophys-aux", "grav-imaging-nophys")
FAMILIES = {"grav-imaging": "pinn", "resnet10t": "baseline", "resnet18": "baseline", "global-stats": "reference"}


def board(tables: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(aggregate, per-seed frame) of protocol-v2 tables {task id: {model: effect}} at the medium preset."""
    parts = []
    for i, (task, effects) in enumerate(tables.items()):
        f = frame(effects, seeds=range(10))
        f["family"] = [FAMILIES.get(m, "ablation") for m in f["model"]]
        parts.append(f.assign(task=task, task_version=1, preset="medium", dataset_fingerprint=f"{i:016x}",
                              test_dataset_fingerprint=""))
    both = pd.concat(parts, ignore_index=True).assign(
        val_primary=0.7, n_params=10, train_time_s=1.0, secondary_metrics="", model_config_hash="h",
        task_config_hash="h", created="2026-12-01T00:00:00")
    both = both[[*TABLE_KEYS, *[c for c in both if c not in TABLE_KEYS]]]
    return aggregate(both), both


def test_a_pinn_wins_only_where_all_three_comparisons_are_separated():
    agg, per_seed = board({
        # the PINN beats its physics-off variants (+0.05) and the best baseline (+0.03): a win
        "substructure/lensbench-v2": dict(zip(GI, (0.05, 0.04, 0.0, 0.0)), **{"resnet10t": 0.02, "resnet18": 0.0,
                                                                            "global-stats": -0.19}),
        # physics helps, but the best baseline is as good: no win; the closest PINN is reported
        "lowdata/lensbench-v2-250": dict(zip(GI, (0.05, 0.05, 0.0, 0.0)), resnet10t=0.05),
    })
    abl = ablation.by_table(per_seed)
    rows = verdict.table(agg, abl).set_index("task")
    main, low = rows.loc["substructure/lensbench-v2"], rows.loc["lowdata/lensbench-v2-250"]
    assert main["winners"] == ["grav-imaging"] and main["best"] == "grav-imaging"
    assert main["best_baseline"] == "resnet10t" and main["family"] == "substructure"
    assert math.isclose(main["closest_diff"], 0.03, abs_tol=0.004) and main["closest_separated"]
    # probe: 0.51 against a best model at 0.75 -> about 4 % of the best model's lift over chance
    assert math.isclose(main["probe_mean"], 0.51, abs_tol=0.003)
    assert math.isclose(main["probe_share"], 0.01 / 0.25, abs_tol=0.02)
    assert low["winners"] == [] and low["closest"] == "grav-imaging" and low["closest_against"] == "resnet10t"
    assert abs(low["closest_diff"]) < 0.005 and not low["closest_separated"]
    assert math.isnan(low["probe_mean"])
    md = markdown.render_markdown(agg, "v2", ablations=abl)
    assert md.index(f"## {verdict.HEADING}") < md.index("## Overview")
    assert "A PINN wins on 1 of 2 task families (substructure)." in md
    assert "`grav-imaging` beats both its physics-off variants and the best baseline" in md
    assert "No PINN beats both" in md and "not separated" in md
    html = render_page(agg, suite="v2", ablations=abl)
    assert 'id="verdict"' in html and html.count('class="verdict"') == 1 and "1 of 2 task families" in html


def test_physics_off_variant_that_ties_means_no_win():
    """The full model must beat the variant without the lens equation too, not just the plain one."""
    agg, per_seed = board({"substructure/lensbench-v2": dict(zip(GI, (0.05, 0.0, 0.05, 0.0)), resnet10t=0.0)})
    (row,) = verdict.table(agg, ablation.by_table(per_seed)).to_dict("records")
    assert row["winners"] == [] and row["closest"] == "grav-imaging" and row["closest_separated"]


def test_no_protocol_v2_table_no_section():
    agg, _ = board({"substructure/lensbench-v2": {"resnet10t": 0.0}})
    v1 = agg.drop(columns=[c for c in ("ci_method",) if c in agg])
    assert verdict.markdown(v1, {}) == ""
    assert verdict.table(agg, {}).iloc[0]["closest"] is None  # no ablation group on the table


def test_a_table_without_pinns_beside_one_with_says_so_and_prints_no_nan():
    """pandas turns a missing name into NaN once another row has one: the text must not print 'nan'."""
    agg, per_seed = board({
        "substructure/lensbench-v2": dict(zip(GI, (0.05, 0.04, 0.0, 0.0)), resnet10t=0.02),
        "lowdata/lensbench-v2-250": {"resnet10t": 0.02, "global-stats": -0.19},
    })
    abl = ablation.by_table(per_seed)
    rows = verdict.table(agg, abl).set_index("task")
    assert rows.loc["substructure/lensbench-v2", "closest"] == "grav-imaging"
    md = verdict.markdown(agg, abl)
    assert "nan" not in md.lower()
    low = next(line for line in md.splitlines() if line.startswith("- **lowdata/"))
    assert "No PINN's 2x2 ablation is on this table yet." in low and "best baseline" not in low
    (low_row,) = [c for c in verdict.cells(rows.reset_index())[1] if c[1][1] == "lowdata/lensbench-v2-250"]
    assert low_row[3][0] == "no PINN ablation on this table" and low_row[4][0] == "–"
