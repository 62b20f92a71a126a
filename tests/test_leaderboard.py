"""Leaderboard aggregation (numbers by hand), tie-group ranks, table separation, renderers, plots,
the board's module structure and the frozen v1 snapshot."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lensbench.board.aggregate import aggregate, mean_ci, rank_with_ties, records_frame
from lensbench.board.markdown import physics_table, render_markdown
from lensbench.board.page import render_page
from lensbench.board.render import render_csv, write_leaderboard
from lensbench.records import RunRecord, write_record
from lensbench.run import figures

FP_A, FP_B = "a" * 8 + "1" * 8, "b" * 8 + "2" * 8


def rec(model, seed, value, *, task="substructure/model1", version=1, fp=FP_A, family="baseline",
        metric="auc_macro", hib=True, status="ok", created="2026-01-01T00:00:00+00:00", **extra) -> RunRecord:
    mt = {metric: value, "accuracy": value - 0.1, "confusion_matrix": [[1, 0], [0, 1]]} if status == "ok" else {}
    return RunRecord(
        task=task, task_version=version, preset="quick", model=model, model_family=family, seed=seed,
        status=status, error=None if status == "ok" else "boom", primary_metric=metric, higher_is_better=hib,
        secondary_metrics=["accuracy"], metrics_val={metric: value}, metrics_test=mt, n_params=1_500_000,
        train_time_s=10.0 + seed, lensbench_version="0.1.0", dataset="model1-sim@v1", dataset_fingerprint=fp,
        task_config_hash="t", model_config_hash="m", created=created, **extra,
    )


VALUES = {  # model -> (family, per-seed primary values)
    "m1": ("baseline", [0.90, 0.92, 0.94]),
    "m2": ("pinn", [0.91, 0.93, 0.95]),
    "m3": ("ablation", [0.50, 0.51, 0.52]),
    "m4": ("baseline", [0.70, 0.71, 0.72]),
}


@pytest.fixture
def records():
    out = [rec(m, s, v, family=fam) for m, (fam, vals) in VALUES.items() for s, v in enumerate(vals)]
    out.append(rec("m1", 3, 0.1, status="failed"))  # failed runs never count
    out += [rec("m1", s, 0.6, version=2) for s in range(2)]  # another task version
    out += [rec("m1", s, 0.7, fp=FP_B) for s in range(2)]  # another dataset fingerprint
    return out


def table(agg, version=1, fp=FP_A, task="substructure/model1"):
    t = agg[(agg.task == task) & (agg.task_version == version) & (agg.dataset_fingerprint == fp)]
    return t.set_index("model")


def test_records_frame(records):
    df = records_frame(records)
    assert len(df) == 12 + 2 + 2  # the failed record is dropped
    assert {"test.auc_macro", "test.accuracy"} <= set(df.columns) and "test.confusion_matrix" not in df
    row = df[(df.model == "m2") & (df.seed == 1) & (df.task_version == 1)].iloc[0]
    assert row.primary == 0.93 and row.family == "pinn" and row.n_params == 1_500_000


def test_records_frame_keeps_latest_duplicate():
    old = rec("m1", 0, 0.5, created="2026-01-01T00:00:00+00:00")
    new = rec("m1", 0, 0.8, created="2026-02-01T00:00:00+00:00")
    with pytest.warns(UserWarning, match="duplicate"):
        df = records_frame([new, old])
    assert df.primary.tolist() == [0.8]


def test_aggregate_numbers_by_hand(records):
    agg = aggregate(records_frame(records))
    t = table(agg)
    vals = np.array(VALUES["m1"][1])
    mean, std = vals.mean(), vals.std(ddof=1)
    half = stats.t.ppf(0.975, 2) * std / math.sqrt(3)
    m1 = t.loc["m1"]
    assert m1["mean"] == pytest.approx(0.92) and m1["std"] == pytest.approx(0.02)
    assert m1["n"] == 3 and m1["seeds"] == "0,1,2"
    assert (m1["ci_lo"], m1["ci_hi"]) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert half == pytest.approx(4.302653 * 0.02 / math.sqrt(3), rel=1e-6)
    assert m1["test.accuracy"] == pytest.approx(0.82) and m1["train_time_s"] == pytest.approx(11.0)
    assert m1["family"] == "baseline" and t.loc["m2", "family"] == "pinn"


def test_equal_values_have_exactly_zero_spread():
    # ten runs of a deterministic model: std exactly 0 (np.std gives 1e-16) and a CI of zero width
    mean, std, lo, hi = mean_ci([0.5029] * 10)
    assert mean == pytest.approx(0.5029, abs=1e-15) and std == 0.0 and lo == hi == mean
    assert mean_ci([0.7])[0] == 0.7 and math.isnan(mean_ci([0.7])[1])
    assert mean_ci([0.1, 0.3])[:2] == (pytest.approx(0.2), pytest.approx(math.sqrt(0.02)))


def test_tie_groups(records):
    t = table(aggregate(records_frame(records)))
    # m1, m2 CIs overlap -> share rank 1; m4 is clearly below both -> 3; m3 below all three -> 4
    assert t["rank"].to_dict() == {"m2": 1, "m1": 1, "m4": 3, "m3": 4}
    assert list(t.index) == ["m2", "m1", "m4", "m3"]  # rank, then mean in the metric's direction


def test_rank_rule_lower_is_better_and_single_seed():
    # lower is better: a [0.1, 0.2] beats c [0.5, 0.6]; b's wide CI overlaps both
    assert rank_with_ties([0.15, 0.35, 0.55], [0.1, 0.1, 0.5], [0.2, 0.6, 0.6], False).tolist() == [1, 1, 2]
    # n = 1 (NaN CI) is a point interval at its mean
    assert rank_with_ties([0.9, 0.8], [np.nan, np.nan], [np.nan, np.nan], True).tolist() == [1, 2]
    assert rank_with_ties([0.9, 0.8], [np.nan, 0.7], [np.nan, 0.95], True).tolist() == [1, 1]


def test_versions_and_fingerprints_never_mix(records):
    agg = aggregate(records_frame(records))
    assert len(agg) == 4 + 1 + 1
    v2, fpb = table(agg, version=2), table(agg, fp=FP_B)
    assert v2.loc["m1", "mean"] == pytest.approx(0.6) and v2.loc["m1", "n"] == 2
    assert fpb.loc["m1", "mean"] == pytest.approx(0.7) and fpb.loc["m1", "rank"] == 1
    assert table(agg).loc["m1", "n"] == 3


def test_regression_direction():
    rs = [rec("a", s, v, metric="mse", hib=False, task="regression/theta") for s, v in enumerate([0.1, 0.11, 0.12])]
    rs += [rec("b", s, v, metric="mse", hib=False, task="regression/theta") for s, v in enumerate([0.5, 0.51, 0.52])]
    t = table(aggregate(records_frame(rs)), task="regression/theta")
    assert t["rank"].to_dict() == {"a": 1, "b": 2}


def test_conflicting_primary_metric_in_one_table_is_an_error():
    rs = [rec("a", 0, 0.5), rec("b", 0, 0.5, metric="accuracy")]
    with pytest.raises(ValueError, match="disagree on primary_metric"):
        aggregate(records_frame(rs))


def test_render_markdown(records):
    md = render_markdown(aggregate(records_frame(records)), suite="v1")
    assert md.startswith("# LensBench leaderboard — suite v1")
    assert "## substructure/model1 — v1 · preset quick · data aaaaaaaa · suite v1" in md  # suite, task v, fp
    assert "## substructure/model1 — v2 · preset quick · data aaaaaaaa" in md
    assert "## substructure/model1 — v1 · preset quick · data bbbbbbbb" in md
    assert "| rank | model | family | params | auc_macro mean ± std (n) | 95% CI | accuracy | train time |" in md
    assert "| 1 | m1 | baseline | 1.5M | 0.9200 ± 0.0200 (3) | [0.8703, 0.9697] | 0.8200 | 11.0 s |" in md
    assert "| 4 | m3 | ablation |" in md
    assert "## Overview" in md and "0.9300 (#1)" in md
    # overview columns for tables differing only by fingerprint are told apart
    assert "@aaaaaaaa" in md and "@bbbbbbbb" in md
    assert "No results yet." in render_markdown(aggregate(records_frame([])))


def test_render_csv_and_html(records, tmp_path):
    agg = aggregate(records_frame(records))
    back = pd.read_csv(render_csv(agg, tmp_path / "lb.csv"))
    assert len(back) == len(agg) and {"rank", "mean", "std", "ci_lo", "ci_hi", "n"} <= set(back.columns)
    assert back.loc[back.model == "m3", "rank"].tolist() == [4]
    page = render_page(agg, title="Board <test>")
    assert page.startswith("<!DOCTYPE html>") and "<title>Board &lt;test&gt;</title>" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page  # self-contained
    assert "function sortTable" in page and 'onchange="filterFamily(this)"' in page
    assert '<option value="pinn">pinn</option>' in page and 'data-family="ablation"' in page
    assert page.count('<table class="overview">') == 1 and page.count('<table class="board"') == 3  # never mixed
    assert '<td data-v="0.92">0.9200 ± 0.0200 (3)</td>' in page


def test_write_leaderboard(records, tmp_path):
    for r in records:
        if r.dataset_fingerprint == FP_A:  # the record path has no fingerprint: FP_B would replace FP_A
            write_record(r, tmp_path / "results")
    out = write_leaderboard(tmp_path / "results", tmp_path / "board")
    assert set(out) == {"md", "csv", "html"} and all(p.exists() for p in out.values())
    more = write_leaderboard(tmp_path / "results", tmp_path / "board", formats=("json", "png"))
    rows = json.loads(more["json"].read_text())
    assert {(r["task_version"], r["model"], r["rank"]) for r in rows} >= {(1, "m3", 4), (2, "m1", 1)}
    pngs = sorted(k for k in more if k.startswith("png:"))
    assert pngs == ["png:substructure__model1_v1_quick_aaaaaaaa.png", "png:substructure__model1_v2_quick_aaaaaaaa.png"]
    assert more[pngs[0]].read_bytes()[:4] == b"\x89PNG"
    assert "0.9200 ± 0.0200 (3)" in out["md"].read_text()
    assert not [p for p in (tmp_path / "board").iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="unknown"):
        write_leaderboard(tmp_path / "results", tmp_path / "board", formats=("pdf",))


def test_plots_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    p = rng.dirichlet(np.ones(3), size=30)
    cm = [[8, 1, 1], [2, 7, 1], [0, 3, 7]]
    paths = [
        figures.roc_curves(y, p, ["a", "b", "c"], tmp_path / "roc.png"),
        figures.confusion_matrix_png(cm, ["a", "b", "c"], tmp_path / "sub" / "cm.png"),
        figures.regression_scatter(rng.normal(size=(20, 2)), rng.normal(size=(20, 2)), ["x", "y"], tmp_path / "s.png"),
        figures.anomaly_roc(y > 0, p[:, 0], tmp_path / "a.png"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000


def test_physics_table_pairs_each_pinn_with_its_twin():
    vals = {"lens-inversion": ("pinn", [0.80, 0.82, 0.84]), "lens-inversion-nophys": ("ablation", [0.60, 0.61, 0.62]),
            "resnet10t": ("baseline", [0.70, 0.71, 0.72]), "lensiformer": ("pinn", [0.5, 0.5, 0.5])}
    agg = aggregate(records_frame([rec(m, s, v, family=f) for m, (f, vs) in vals.items() for s, v in enumerate(vs)]))
    table = physics_table(agg)
    rows = [line for line in table.splitlines() if line.startswith("| substructure")]
    assert len(rows) == 1  # lensiformer has no twin in this table: no row
    assert "| lens-inversion | 0.8200 ± 0.0200 | 0.6100 ± 0.0100 | +0.2100 | yes | resnet10t 0.7100 ± 0.0100 |" in rows[0]


# ----------------------------------------------------------------------------- no records


def test_write_leaderboard_without_records(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope")):
        write_leaderboard(tmp_path / "nope", tmp_path / "board")
    (tmp_path / "empty").mkdir()
    assert write_leaderboard(tmp_path / "empty", tmp_path / "board", formats=("md", "csv", "html", "png")) == {}
    assert not (tmp_path / "board").exists()  # nothing written


def test_cli_leaderboard_without_records(tmp_path, monkeypatch, capsys):
    from lensbench.cli import main

    monkeypatch.chdir(tmp_path)  # the default leaderboards/results does not exist here
    assert main(["leaderboard"]) == 0
    assert "leaderboards/results: no run records yet, nothing written" in capsys.readouterr().out
    assert not (tmp_path / "leaderboards").exists()
    assert main(["leaderboard", "--results", "missing/results", "--out", "board"]) == 2
    assert "no results folder missing/results" in capsys.readouterr().err.replace("\n", " ")
    (tmp_path / "empty").mkdir()
    assert main(["leaderboard", "--results", "empty", "--out", "board"]) == 0
    assert "empty: no run records yet" in capsys.readouterr().out and not (tmp_path / "board").exists()


# ----------------------------------------------------------------------------- the frozen v1 snapshot

V1 = Path(__file__).resolve().parent.parent / "leaderboards" / "v1"


def test_v1_snapshot_is_as_published(capsys):
    from lensbench.board import snapshot
    from lensbench.cli import main

    assert snapshot.check(V1) == []
    assert len(list((V1 / "results").rglob("seed*.json"))) == 456
    assert main(["snapshot", "check", str(V1)]) == 0
    assert capsys.readouterr().out.strip().endswith(": as published")


def test_v1_tables_render_again_from_the_v1_records(tmp_path):
    """The board renders the frozen records to the published CSV, JSON and Markdown (the Markdown
    without its figure and gallery links, which need the PNGs drawn and the dataset cache)."""
    out = write_leaderboard(V1 / "results", tmp_path, formats=("md", "csv", "json"))
    assert out["csv"].read_bytes() == (V1 / "leaderboard.csv").read_bytes()
    assert out["json"].read_bytes() == (V1 / "leaderboard.json").read_bytes()
    published = re.sub(r"\nFigures: [^\n]*\n", "", (V1 / "leaderboard.md").read_text())
    rendered, cost = out["md"].read_text().split("\n## Cost of these runs\n")  # added after v1 was frozen
    assert published.count("\n## ") == 14 and rendered == published  # overview + 13 tables
    assert "| total |  | 456 |" in cost


# ----------------------------------------------------------------------------- module structure
