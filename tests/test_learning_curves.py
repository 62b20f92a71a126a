"""Validation curves on the board (``lensbench.board.learning``): mean curves over seeds, the gain over
the last quarter of training (the protocol's convergence test) and their table and figure."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from test_leaderboard_protocol import planted

from lensbench.board import learning
from lensbench.board.aggregate import aggregate, records_frame
from lensbench.board.markdown import render_markdown
from lensbench.board.render import write_leaderboard
from lensbench.records import write_record


def linear(start: float, end: float, epochs: int = 8, per_epoch: int = 12_000, key="val_auc_macro") -> list[dict]:
    return [{"epoch": e, "images_seen": e * per_epoch, key: start + (end - start) * (e - 1) / (epochs - 1),
             "train_loss": 1.0, "lr": 1e-3} for e in range(1, epochs + 1)]


def with_curves(recs, curves: dict) -> list:
    return [dataclasses.replace(r, curve=curves[r.model](r.seed)) for r in recs]


def test_last_quarter_gain_of_the_mean_curve():
    rng = np.random.default_rng(0)
    recs = with_curves(planted(rng, {"flat": 0.85, "rising": 0.80}, n_seeds=4),
                       {"flat": lambda s: linear(0.85, 0.85),
                        "rising": lambda s: linear(0.60 + 0.01 * s, 0.80 + 0.01 * s)})
    (lc,) = learning.collect(recs).values()
    assert lc.key == "val_auc_macro" and lc.higher_is_better and len(lc.seeds["rising"]) == 4
    x, mean, std = lc.mean("rising")
    assert list(x) == [12_000 * e for e in range(1, 9)] and math.isclose(mean[-1], 0.815)
    # linear from 0.615 to 0.815 over 12k..96k: the value at 72k is 0.615 + 0.2 * 5/7; gain = the rest
    assert math.isclose(lc.last_quarter_gain("rising"), 0.2 * (1 - 5 / 7), rel_tol=1e-9)
    assert lc.last_quarter_gain("flat") == 0.0
    assert std[0] > 0  # seeds differ


def test_lower_is_better_and_unusable_curves():
    rng = np.random.default_rng(1)
    recs = planted(rng, {"m": 0.5}, n_seeds=2)
    recs = [dataclasses.replace(r, higher_is_better=False, primary_metric="mse", curve=linear(1.0, 0.5, key="val_mse"))
            for r in recs]
    (lc,) = learning.collect(recs).values()
    assert lc.last_quarter_gain("m") > 0  # mse falling = improving
    bad = [dataclasses.replace(recs[0], curve=[{"epoch": 1, "images_seen": "x", "val_mse": 1.0}]),
           dataclasses.replace(recs[1], curve=[])]
    assert learning.collect(bad) == {}


def test_board_shows_the_convergence_table_and_the_figure(tmp_path):
    rng = np.random.default_rng(2)
    recs = with_curves(planted(rng, {"flat": 0.85, "rising": 0.80}, n_seeds=4),
                       {"flat": lambda s: linear(0.849, 0.85), "rising": lambda s: linear(0.60, 0.80)})
    agg = aggregate(records_frame(recs))
    md = render_markdown(agg, "v2", learning_curves=learning.collect(recs))
    assert learning.CAPTION in md
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if line.startswith(("| flat", "| rising"))}
    assert rows["flat"].rstrip(" |").endswith("yes") and rows["rising"].rstrip(" |").endswith("no")
    results = tmp_path / "results"
    for r in recs:
        write_record(r, results)
    written = write_leaderboard(results, tmp_path / "board", formats=("md", "png", "html"))
    pngs = [k for k in written if k.endswith("_learning.png")]
    assert len(pngs) == 1 and written[pngs[0]].stat().st_size > 5000
    assert "_learning.png" in written["md"].read_text() and "_learning.png" in written["html"].read_text()
