"""Leaderboard extras without a browser: ROC and slice figures and tables from the optional record
fields ``curves`` / ``slices``, model selection, the HTML page's markup, dataset galleries."""

from __future__ import annotations

import json
import logging
from dataclasses import fields

import numpy as np
import pytest

from lensbench.board import render
from lensbench.board.aggregate import aggregate, figure_stems, records_frame
from lensbench.board.curves import collect, select_models, table_key
from lensbench.board.markdown import render_markdown
from lensbench.board.render import write_leaderboard
from lensbench.cli import main
from lensbench.records import RunRecord, write_record
from lensbench.run.diagnostics import FPR_GRID
from lensbench.run.figures import anomaly_roc

FP = "d1230154" + "0" * 56
GRID = [round(i * 0.02, 2) for i in range(51)]
CLASSES = ("no_sub", "cdm", "axion")


def lbrec(model, seed, value, *, family="baseline", task="substructure/lensbench-v1", metric="auc_macro",
          hib=True, dataset="lensbench-v1", fp=FP, curves=None, slices=None) -> RunRecord:
    """A synthetic ok record; ``curves`` / ``slices`` are set whether or not RunRecord declares them yet."""
    r = RunRecord(task=task, task_version=1, preset="quick", model=model, model_family=family, seed=seed,
                  status="ok", primary_metric=metric, higher_is_better=hib, secondary_metrics=["accuracy"],
                  metrics_val={metric: value}, metrics_test={metric: value, "accuracy": value - 0.1},
                  n_params=1000, train_time_s=1.0 + seed, lensbench_version="0.1.0", dataset=dataset,
                  dataset_fingerprint=fp, task_config_hash="t", model_config_hash="m")
    r.curves = curves or {}
    r.slices = slices or {}
    return r


def roc(value, classes=CLASSES) -> dict:
    """One-vs-rest TPR per class on the fixed grid: a concave curve, better for higher ``value``."""
    g = np.array(GRID)
    return {"roc": {"fpr": GRID, "tpr": {c: list(g ** (1.05 - value + 0.05 * i)) for i, c in enumerate(classes)}}}


MODELS = [("resnet18", "baseline", 0.90), ("lens-inversion", "pinn", 0.85), ("lens-inversion-nophys", "ablation", 0.80),
          ("vit", "baseline", 0.70), ("class-prior", "reference", 0.50)]


def board_records() -> list[RunRecord]:
    """Three tasks x five models x three seeds: classification with ROC and slices, anomaly with ROC,
    regression with slices, and one old-style task without either."""
    out = []
    for m, fam, v in MODELS:
        for s in range(3):
            x = v + 0.01 * s
            sl = {"snr": {"edges": [1.0, 5.0, 10.0, 30.0], "n": [100, 100, 100],
                          "auc_macro": [x - 0.1, x, None if s == 0 else x + 0.05]}}
            out.append(lbrec(m, s, x, family=fam, curves=roc(v), slices=sl))
            out.append(lbrec(m, s, v - 0.1 + 0.01 * s, family=fam, task="anomaly/lensbench-v1", metric="auc",
                             curves=roc(v - 0.1, ("anomaly",))))
            out.append(lbrec(m, s, 1 - v + 0.01 * s, family=fam, task="regression/axion-mass", metric="mse", hib=False,
                             slices={"log10_m_a": {"edges": [-24.0, -23.0, -22.0], "n": [50, 50],
                                                   "mse": [1 - v, 1.2 - v + 0.01 * s]}}))
            out.append(lbrec(m, s, v, family=fam, task="substructure/model1", dataset="model1-sim",
                             fp="e" * 64))  # old record: neither field
    return out


@pytest.fixture
def board(tmp_path, monkeypatch):
    """The leaderboard of ``board_records`` (read from memory: the record files may not have the fields yet)."""
    recs = board_records()
    monkeypatch.setattr(render, "read_results", lambda *a, **k: recs)
    out = write_leaderboard(tmp_path / "results", tmp_path / "board", formats=("md", "csv", "html", "png"))
    return out, recs


# ----------------------------------------------------------------------------- curves and slices


def test_macro_roc_and_mean_over_seeds():
    g = np.array(GRID)
    r0 = lbrec("a", 0, 0.8, curves={"roc": {"fpr": GRID, "tpr": {"x": GRID, "y": [0.0] + [1.0] * 50}}})
    r1 = lbrec("a", 1, 0.8, curves={"roc": {"fpr": GRID, "tpr": {"x": list(g ** 0.5), "y": list(g ** 0.5)}}})
    tc = collect([r0, r1])[table_key(r0)]
    macro0 = (g + np.r_[0.0, np.ones(50)]) / 2
    np.testing.assert_allclose(tc.roc["a"][0], macro0)
    mean, std = tc.roc_mean_std("a")
    np.testing.assert_allclose(mean, (macro0 + g ** 0.5) / 2)
    np.testing.assert_allclose(std, np.std([macro0, g ** 0.5], axis=0, ddof=1))
    assert len(FPR_GRID) == 51 and FPR_GRID[1] == pytest.approx(0.02)


def test_slices_mean_std_ignore_nulls_and_bad_edges(caplog):
    def sl(vals, edges=(0.5, 2.0, 10.0)):
        return {"theta_E": {"edges": list(edges), "n": [40, 41], "auc_macro": vals}}

    rs = [lbrec("a", 0, 0.8, slices=sl([0.8, 0.6])), lbrec("a", 1, 0.8, slices=sl([0.9, None])),
          lbrec("a", 2, 0.8, slices=sl([1.0, 0.7])), lbrec("a", 3, 0.8, slices=sl([0.0, 0.0], (0.5, 3.0, 10.0)))]
    with caplog.at_level(logging.WARNING):
        sc = collect(rs)[table_key(rs[0])].slices["theta_E"]
    assert "other bin edges" in caplog.text  # seed 3 dropped, with a warning
    mean, std = sc.mean_std("a")
    np.testing.assert_allclose(mean, [0.9, 0.65])
    np.testing.assert_allclose(std, [0.1, np.std([0.6, 0.7], ddof=1)])
    assert sc.bin_labels() == ["0.5–2", "2–10"] and sc.n == [40, 41]


def test_duplicate_seed_keeps_latest_record_as_the_frame_does():
    old = lbrec("a", 0, 0.5, curves=roc(0.5))
    old.created = "2026-01-01T00:00:00+00:00"
    new = lbrec("a", 0, 0.9, curves=roc(0.9))
    new.created = "2026-02-01T00:00:00+00:00"
    tc = collect([new, old])[table_key(new)]
    assert len(tc.roc["a"]) == 1
    np.testing.assert_allclose(tc.roc["a"][0], collect([new])[table_key(new)].roc["a"][0])


def test_select_models_keeps_leaders_and_every_pinn_pair():
    names = [f"b{i}" for i in range(10)] + ["p1", "p1-nophys", "p2", "p2-nophys", "p3", "p3-nophys"]
    fams = ["baseline"] * 10 + ["pinn", "ablation"] * 3
    rs = [lbrec(m, 0, 0.9 - 0.01 * i, family=f) for i, (m, f) in enumerate(zip(names, fams))]
    t = aggregate(records_frame(rs))
    assert select_models(t, set(names)) == ["b0", "b1", "b2", *names[10:]]  # 3 leaders + 3 pairs
    assert select_models(t, set(names) - {"p2-nophys", "p3", "p3-nophys"}) == ["b0", "b1", "b2", "b3", "b4", "p1",
                                                                                "p1-nophys", "p2"]
    assert select_models(t, set(names[:10])) == names[:8]


# ----------------------------------------------------------------------------- files


def test_roc_and_slice_pngs_written_for_tables_with_data(board):
    out, _ = board
    pngs = sorted(k for k in out if k.startswith("png:"))
    assert pngs == [
        "png:anomaly__lensbench-v1_v1_quick_d1230154.png", "png:anomaly__lensbench-v1_v1_quick_d1230154_roc.png",
        "png:regression__axion-mass_v1_quick_d1230154.png", "png:regression__axion-mass_v1_quick_d1230154_slices.png",
        "png:substructure__lensbench-v1_v1_quick_d1230154.png",
        "png:substructure__lensbench-v1_v1_quick_d1230154_roc.png",
        "png:substructure__lensbench-v1_v1_quick_d1230154_slices.png",
        "png:substructure__model1_v1_quick_eeeeeeee.png",  # old records: CI plot only
    ]
    for k in pngs:
        assert out[k].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out[k].stat().st_size > 5000


def test_markdown_slice_table_numbers_and_figure_links(board):
    out, _ = board
    md = out["md"].read_text()
    sub = md.split("## substructure/lensbench-v1 — v1 · preset quick · data d1230154 · suite v1", 1)[1]
    sub = sub.split("\n## ", 1)[0]
    assert ("Figures: [95% CI plot](plots/substructure__lensbench-v1_v1_quick_d1230154.png) · [ROC curves "
            "(macro one-vs-rest, mean over seeds)](plots/substructure__lensbench-v1_v1_quick_d1230154_roc.png) · "
            "[metric per bin](plots/substructure__lensbench-v1_v1_quick_d1230154_slices.png)") in sub
    assert "| snr bin | n | resnet18 | lens-inversion | lens-inversion-nophys | vit | class-prior |" in sub
    # resnet18 seeds 0.90, 0.91, 0.92: bins v-0.1, v, v+0.05 (seed 0 null in the last bin)
    assert "| 1–5 | 100 | 0.810 ± 0.010 | 0.760 ± 0.010 | 0.710 ± 0.010 | 0.610 ± 0.010 | 0.410 ± 0.010 |" in sub
    assert "| 10–30 | 100 | 0.965 ± 0.007 |" in sub
    reg = md.split("## regression/axion-mass", 1)[1].split("\n## ", 1)[0]
    assert "| log10_m_a bin | n |" in reg and "| -24–-23 | 50 | 0.100 ± 0.000 |" in reg
    assert "[ROC" not in reg and "| snr bin" not in md.split("## substructure/model1", 1)[1]  # nothing invented
    assert "## anomaly/lensbench-v1 — v1 · preset quick · data d1230154 · suite v1" in md


def test_markdown_without_extras_is_unchanged_by_them():
    agg = aggregate(records_frame(board_records()))
    md = render_markdown(agg)
    assert "Figures:" not in md and "bin |" not in md and "## regression/axion-mass — v1" in md


def test_html_page_markup(board):
    out, _ = board
    page = out["html"].read_text()
    assert page.count('<table class="board"') == 4 and page.count('<table class="slices"') == 2
    assert ('<table class="board" data-task="substructure/lensbench-v1" data-task-version="1" data-preset="quick" '
            f'data-fp="{FP}" data-test-fp="">') in page
    assert '<img src="plots/substructure__lensbench-v1_v1_quick_d1230154_roc.png"' in page
    assert '<img src="plots/regression__axion-mass_v1_quick_d1230154_slices.png"' in page
    assert '<img src="plots/substructure__model1_v1_quick_eeeeeeee.png"' in page
    assert "· suite v1</h2>" in page and "task version 1" in page and f"<code>{FP}</code>" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page and "<script src" not in page
    assert '<td data-v="0.965">0.965 ± 0.007</td>' in page


def test_figure_stems_tell_apart_tables_that_differ_only_by_test_data():
    rs = [lbrec("a", 0, 0.5), lbrec("a", 0, 0.6)]
    rs[0].test_dataset_fingerprint, rs[1].test_dataset_fingerprint = "1" * 64, "2" * 64
    stems = figure_stems(aggregate(records_frame(rs)))
    assert sorted(stems.values()) == ["substructure__lensbench-v1_v1_quick_d1230154_11111111",
                                      "substructure__lensbench-v1_v1_quick_d1230154_22222222"]


# ----------------------------------------------------------------------------- galleries


def _fake_build(cache, name, fp, with_png=True, tag="train10-val5-test5"):
    folder = cache / "datasets" / name / "v1" / tag
    folder.mkdir(parents=True)
    (folder / "lensbench.json").write_text(json.dumps({"fingerprint": fp}))
    if with_png:
        anomaly_roc([0, 1, 0, 1], [0.1, 0.9, 0.3, 0.6], folder / "gallery.png")
    return folder


def test_gallery_copy_and_missing_message(tmp_path, capsys, caplog):
    results, cache, out = tmp_path / "results", tmp_path / "cache", tmp_path / "board"
    for s in range(2):
        write_record(lbrec("a", s, 0.8 + 0.01 * s), results)
        write_record(lbrec("a", s, 0.7, task="substructure/model1", dataset="model1-sim", fp="e" * 64), results)
    _fake_build(cache, "lensbench-v1", FP)
    _fake_build(cache, "lensbench-v1", "f" * 64, tag="all")  # another build of the same dataset (found first)
    with caplog.at_level(logging.WARNING):
        code = main(["leaderboard", "--results", str(results), "--out", str(out), "--gallery", "--cache", str(cache)])
    assert code == 0
    copied = out / "gallery" / "lensbench-v1_d1230154.png"
    assert copied.read_bytes()[:4] == b"\x89PNG" and f"gallery:{copied.name}: {copied}" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "gallery").iterdir()) == [copied.name]
    msg = caplog.text
    assert "no gallery for dataset model1-sim" in msg and "lensbench data show model1-sim --preset quick" in msg
    page = (out / "leaderboard.html").read_text()
    assert '<img src="gallery/lensbench-v1_d1230154.png"' in page and 'id="gallery-lensbench-v1-d1230154"' in page
    assert "lensbench data show model1-sim --preset quick" in page  # the page names the missing one too
    assert "[example images: lensbench-v1](gallery/lensbench-v1_d1230154.png)" in (out / "leaderboard.md").read_text()


def test_gallery_build_without_png_is_reported(tmp_path):
    from lensbench.board.gallery import Gallery, copy_galleries

    folder = _fake_build(tmp_path, "lensbench-v1", FP, with_png=False)
    (g,) = copy_galleries([Gallery("lensbench-v1", FP, "quick")], tmp_path / "out", cache=tmp_path)
    assert g.path is None and f"build {folder} has no gallery.png" in g.missing
    assert "`lensbench data show lensbench-v1 --preset quick`" in g.missing


def test_curves_and_slices_round_trip_through_record_files(tmp_path):
    if not {"curves", "slices"} <= {f.name for f in fields(RunRecord)}:
        pytest.skip("RunRecord does not declare curves/slices yet")
    for r in board_records():
        if r.task == "substructure/lensbench-v1":
            write_record(r, tmp_path / "results")
    out = write_leaderboard(tmp_path / "results", tmp_path / "board", formats=("md", "png"))
    assert {"png:substructure__lensbench-v1_v1_quick_d1230154_roc.png",
            "png:substructure__lensbench-v1_v1_quick_d1230154_slices.png"} <= set(out)
    assert "| 10–30 | 100 | 0.965 ± 0.007 |" in out["md"].read_text()


def test_record_fields_when_declared():
    """Once RunRecord declares ``curves`` and ``slices`` they default to empty dicts (old records lack them)."""
    names = {f.name for f in fields(RunRecord)}
    if not {"curves", "slices"} <= names:
        pytest.skip("RunRecord does not declare curves/slices yet; the leaderboard reads them with getattr")
    r = lbrec("a", 0, 0.5)
    assert RunRecord(**{k: v for k, v in r.to_dict().items() if k not in ("curves", "slices")}).curves == {}
