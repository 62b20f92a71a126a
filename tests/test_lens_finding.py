"""Real lens finding (task family 8): the DES-host recipe, the real test sets, binary metrics, and an
end-to-end run. Tests that read real data skip when ``../shared/data/real`` (or
``$LENSBENCH_REAL_DATA``) is absent."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import real_data_root
from sklearn.metrics import roc_auc_score

from lensbench import metric_names, metrics, registry
from lensbench.data import taskdata
from lensbench.data.errors import DataError
from lensbench.data.reading import load_split, read_meta
from lensbench.run import runner
from lensbench.specs import Budget, Preset

ROOT = real_data_root()
needs_real = pytest.mark.skipif(ROOT is None, reason="real data absent: set LENSBENCH_REAL_DATA or "
                                                     "provide ../shared/data/real")


# ----------------------------------------------------------------------------- metrics (no data)
def test_binary_metrics_hand_checked():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    m = metrics.classification_metrics(y, np.c_[1 - s, s], ["nonlens", "lens"])
    # pairs (pos, neg): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes -> 3/4
    assert m["auc_macro"] == pytest.approx(0.75) and m["auc_lens"] == pytest.approx(0.75)
    # FPR <= 0.1 with 2 negatives would mean FPR = 0, a point set by one image: not reported
    assert "tpr_at_fpr_0.1" not in m and "tpr_at_fpr_0.01" not in m
    # the CI is a percentile bootstrap (1000 resamples, seed 0) of the same AUC, recomputed here
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(metrics.AUC_CI_BOOT):
        idx = rng.integers(0, 4, 4)
        if len(set(y[idx])) == 2:
            boots.append(roc_auc_score(y[idx], s[idx]))
    lo, hi = np.percentile(boots, [2.5, 97.5])
    assert (m["auc_ci_lo"], m["auc_ci_hi"]) == pytest.approx((lo, hi))
    assert m["auc_ci_lo"] <= m["auc_macro"] <= m["auc_ci_hi"]
    assert metric_names.higher_is_better("auc_ci_lo") and metric_names.higher_is_better("tpr_at_fpr_0.01")
    # three classes: no binary extras
    m3 = metrics.classification_metrics([0, 1, 2], np.eye(3), ["a", "b", "c"])
    assert not {"auc_ci_lo", "auc_ci_hi", "tpr_at_fpr_0.1"} & set(m3)


def test_operating_points_only_where_the_negatives_resolve_them():
    """TPR at FPR f needs n_negatives * f >= 5: 60 negatives resolve FPR 0.1 (not 0.01), 500 both."""
    assert metrics.resolvable_fpr_points(20) == () and metrics.resolvable_fpr_points(49) == ()
    assert metrics.resolvable_fpr_points(60) == (0.1,) and metrics.resolvable_fpr_points(500) == (0.1, 0.01)
    y = np.r_[np.zeros(60, int), np.ones(10, int)]
    s = np.r_[np.linspace(0, 0.5, 60), np.linspace(0.45, 1, 10)]  # 3 negatives above 0.45
    m = metrics.classification_metrics(y, np.c_[1 - s, s], ["nonlens", "lens"], ci=False)
    assert "tpr_at_fpr_0.01" not in m
    # FPR <= 0.1 allows 6 false positives: every lens scores above the 7th-highest negative -> TPR 1
    assert m["tpr_at_fpr_0.1"] == pytest.approx(1.0)


def test_rank_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(3)
    pos = rng.random(200) < 0.3
    score = np.round(rng.random(200) + 0.4 * pos, 1)  # many ties
    assert metrics._rank_auc(pos, score) == pytest.approx(roc_auc_score(pos, score), abs=1e-12)
    with pytest.raises(ValueError):
        metrics._rank_auc(np.ones(5, bool), np.arange(5.0))


def test_tasks_registered_with_external_real_test_sets():
    for tid, test_ds in (("lens-finding/hsc", "deeplense-hsc-lensfinding-sample"),
                         ("lens-finding/cfhtls", "spacewarps-gallery-lensfinding")):
        t = registry.tasks.get(tid)
        assert t.classes == ("nonlens", "lens") and t.primary_metric == "auc_macro" and t.kind == "classification"
        assert t.test_dataset == test_ds and taskdata.is_external(t.test_dataset)
        train = registry.datasets.get(t.dataset)
        assert train.recipe == "lensfinding-des-v1" and train.adapter is None  # never trains on real files
        assert registry.datasets.get(test_ds).adapter is not None
        assert t.input_shape == (3, 64, 64) and t.default_models == ("class-prior", "resnet10t")


def test_missing_real_data_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LENSBENCH_REAL_DATA", raising=False)
    t = registry.tasks.get("lens-finding/hsc")
    with pytest.raises(DataError, match="deeplense-hsc-lensfinding-sample"):
        taskdata.check_test_data(t, cache=tmp_path, data_root=tmp_path / "nowhere")
    with pytest.raises(DataError, match="des-galaxy-cutouts-grizY"):
        taskdata.materialise(t, "quick", cache=tmp_path, data_root=tmp_path)
    with pytest.raises(DataError, match="spacewarps-cfhtls-vics82-gallery"):
        taskdata.check_test_data(registry.tasks.get("lens-finding/cfhtls"), cache=tmp_path, data_root=tmp_path)


# ----------------------------------------------------------------------------- recipe (real data)
@needs_real
def test_recipe_deterministic_shapes_and_columns():
    from lensbench.lensing.recipes import lensfinding as lf

    r = registry.recipes.get("lensfinding-des-v1")
    assert r.classes == ("nonlens", "lens") and r.image_shape == (3, 64, 64) and r.pixel_scale == 0.168
    a, ca = r.generate("lens", 6, 3, data_root=ROOT)
    b, cb = r.generate("lens", 6, 3, data_root=ROOT)
    c, _ = r.generate("lens", 6, 4, data_root=ROOT)
    assert np.array_equal(a, b) and all(np.array_equal(ca[k], cb[k], equal_nan=True) for k in ca)
    assert not np.array_equal(a, c)
    assert a.shape == (6, 3, 64, 64) and a.dtype == np.float32
    flat = a.reshape(6, 3, -1)
    assert np.allclose(flat.min(-1), 0) and np.allclose(flat.max(-1), 1)  # per-band min-max like HSC
    assert set(ca) == set(lf.COLUMNS) and all(v.shape == (6,) and v.dtype == np.float32 for v in ca.values())
    assert ((ca["theta_E"] >= 0.8) & (ca["theta_E"] <= 2.5)).all()
    assert ((ca["arc_snr"] >= 10) & (ca["arc_snr"] <= 150)).all()
    assert (ca["mu"] > 1.5).all()  # sources inside 0.6 theta_E are strongly magnified
    assert np.isfinite(ca["src_mag"]).all() and ((ca["host_index"] >= 0) & (ca["host_index"] < 46)).all()
    _, cn = r.generate("nonlens", 6, 3, data_root=ROOT)
    assert (cn["arc_snr"] == 0).all() and np.isnan(cn["theta_E"]).all() and np.isnan(cn["mu"]).all()


@needs_real
def test_lenses_differ_from_their_host_and_negatives_hold_no_injected_flux():
    from lensbench.lensing.recipes import lensfinding as lf

    r = registry.recipes.get("lensfinding-des-v1")
    hosts = lf.load_hosts(ROOT)
    gen = torch.Generator().manual_seed(0)
    # nonlens images are exactly the host pipeline (crop, rotation, resampling, min-max): nothing added
    neg, _ = r.generate("nonlens", 5, 11, data_root=ROOT)
    p = r.sample("nonlens", 5, 11, n_hosts=len(hosts.images), n_galaxies=1)
    host_only = r._batch(p, slice(0, 5), hosts, None, "cpu", gen, compile=False).numpy()
    assert np.array_equal(neg, host_only)
    # lens images = the same host draw plus arcs: differ clearly, and mostly in g (blue source, red host)
    lens, _ = r.generate("lens", 5, 11, data_root=ROOT)
    p = r.sample("lens", 5, 11, n_hosts=len(hosts.images), n_galaxies=56)
    host_only = r._batch(p, slice(0, 5), hosts, None, "cpu", gen, compile=False).numpy()
    diff = np.abs(lens - host_only).reshape(5, 3, -1).max(-1)
    assert (diff.max(1) > 0.05).all()
    assert np.median(diff[:, 0] / diff[:, 2]) > 1.0


# ----------------------------------------------------------------------------- real test sets
@needs_real
def test_real_test_sets_load_whole_with_documented_counts(tmp_path):
    t_hsc, t_gal = registry.tasks.get("lens-finding/hsc"), registry.tasks.get("lens-finding/cfhtls")
    for t, counts in ((t_hsc, {"nonlens": 20, "lens": 20}), (t_gal, {"nonlens": 47, "lens": 97})):
        _, ds = taskdata.materialise(t, "quick", dataset=t.test_dataset, cache=tmp_path, data_root=ROOT,
                                        progress=False)
        assert read_meta(ds)["sizes"] is None  # every file
        split = taskdata.build_split(t, ds, "all")
        assert {c: int((split.class_names == c).sum()) for c in t.classes} == counts
        assert split.images.shape[1:] == (3, 64, 64) and torch.isfinite(split.images).all()
        assert split.target.tolist() == [t.classes.index(c) for c in split.class_names]
    # the gallery's sources are the mapped folders: lenses from the gallery only
    src = load_split(ds, "test").sources
    lenses = [s for s in src if s.startswith("lens/")]
    assert len(lenses) == 97 and all("guide__lenses__gallery__" in s for s in lenses)


@needs_real
def test_no_test_image_in_training_data(tmp_path):
    t = registry.tasks.get("lens-finding/hsc")
    tiny = dataclasses.replace(t, presets={"quick": Preset({"train": 16, "val": 4, "test": 4}, Budget(1, 8))})
    _, train_ds = taskdata.materialise(tiny, "quick", cache=tmp_path, data_root=ROOT, progress=False)
    meta = read_meta(train_ds)
    assert meta["recipe"] == "lensfinding-des-v1" and "adapter" not in meta
    train = np.concatenate([load_split(train_ds, s).images for s in ("train", "val")]).reshape(40, -1)
    for name in ("deeplense-hsc-lensfinding-sample", "spacewarps-gallery-lensfinding"):
        _, ds = taskdata.materialise(tiny, "quick", dataset=name, cache=tmp_path, data_root=ROOT, progress=False)
        test = np.concatenate([load_split(ds, s).images for s in ("train", "val", "test")])
        d = np.abs(test.reshape(len(test), 1, -1) - train[None]).max(-1)
        assert d.min() > 0.05  # no test image equals (or nearly equals) a training image


@needs_real
def test_end_to_end_class_prior_gives_auc_half_with_ci(tmp_path):
    t = registry.tasks.get("lens-finding/hsc")
    tiny = dataclasses.replace(t, presets={"quick": Preset({"train": 8, "val": 4, "test": 4}, Budget(1, 8))})
    opts = runner.RunOptions(results_dir=tmp_path / "results", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
                             cache=tmp_path / "cache", data_root=ROOT, progress=False)
    rec = runner.run(tiny, registry.models.get("class-prior"), 0, opts)
    assert rec.status == "ok", rec.error
    m = rec.metrics_test
    assert m["auc_macro"] == pytest.approx(0.5) and (m["auc_ci_lo"], m["auc_ci_hi"]) == pytest.approx((0.5, 0.5))
    assert np.asarray(m["confusion_matrix"]).sum() == 40  # all 40 real images, every split
    assert m["source_auc_macro"] == pytest.approx(0.5) and np.asarray(m["source_confusion_matrix"]).sum() == 8
    assert rec.test_dataset_fingerprint and rec.test_dataset_fingerprint != rec.dataset_fingerprint


@needs_real
def test_data_show_prepares_the_gallery_view_from_data_root(tmp_path, capsys):
    from lensbench.cli import main

    assert main(["data", "show", "spacewarps-gallery-lensfinding", "--cache", str(tmp_path), "--data-root",
                 str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "'lens': 97" in out and (tmp_path / "datasets" / "spacewarps-gallery-lensfinding").exists()
    assert any(line.startswith("gallery: ") and line.endswith("gallery.png") for line in out.splitlines())
