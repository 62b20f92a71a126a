"""ROC curves and slices stored in records (benchmark.diagnostics), and their place in a real run."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_task
from sklearn.metrics import roc_auc_score

from lensbench import registry
from lensbench.data.taskdata import TargetScaler
from lensbench.run import diagnostics, runner


def test_roc_on_the_fixed_grid():
    task = make_task("classification")
    y = np.array([0, 0, 1, 1])
    perfect = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    roc = diagnostics.roc(task, y, perfect)["roc"]
    assert roc["fpr"][0] == 0.0 and roc["fpr"][-1] == 1.0 and len(roc["fpr"]) == 51
    assert roc["tpr"]["cdm"] == [1.0] * 51 and roc["tpr"]["no_sub"] == [1.0] * 51
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p1 = rng.random(400) + 0.5 * y
    roc = diagnostics.roc(task, y, np.stack([1 - p1, p1], 1))["roc"]
    # area under the interpolated curve ~ the AUC (the grid is fine enough)
    assert np.trapezoid(roc["tpr"]["cdm"], roc["fpr"]) == pytest.approx(roc_auc_score(y, p1), abs=0.01)
    assert np.all(np.diff(roc["tpr"]["cdm"]) >= 0)
    anomaly = diagnostics.roc(make_task("anomaly"), y.astype(bool), p1)["roc"]
    assert anomaly["tpr"]["anomaly"] == roc["tpr"]["cdm"]
    assert diagnostics.roc(make_task("regression"), y, p1) == {}


def test_slices_give_the_primary_metric_per_equal_count_bin():
    task = make_task("classification", slice_by=("snr", "missing"))
    rng = np.random.default_rng(1)
    n = 400
    snr = rng.uniform(10, 100, n)
    y = rng.integers(0, 2, n)
    # the classifier gets better with SNR
    p1 = np.clip(0.5 + (y - 0.5) * snr / 100 + 0.3 * rng.normal(size=n), 0, 1)
    out = diagnostics.slices(task, y, np.stack([1 - p1, p1], 1), {"snr": snr})
    assert list(out) == ["snr"]  # columns the split lacks are left out
    s = out["snr"]
    assert len(s["edges"]) == 5 and s["n"] == [100] * 4 and s["edges"][0] == snr.min() and s["edges"][-1] == snr.max()
    lo, hi = s["edges"][1], s["edges"][2]
    sel = (snr >= lo) & (snr < hi)
    assert s["auc_macro"][1] == pytest.approx(roc_auc_score(y[sel], p1[sel]))
    assert s["auc_macro"][3] > s["auc_macro"][0] + 0.1
    # a bin holding one class only has no AUC: None, not a crash
    y1 = np.where(snr < s["edges"][1], 0, y)
    one = diagnostics.slices(task, y1, np.stack([1 - p1, p1], 1), {"snr": snr})["snr"]
    assert one["auc_macro"][0] is None and one["auc_macro"][1] is not None
    # regression: MSE in standardised units per bin
    reg = make_task("regression", slice_by=("snr",))
    t = rng.normal(size=(n, 1))
    pred = t + (snr[:, None] < 50) * rng.normal(size=(n, 1))
    r = diagnostics.slices(reg, t, pred, {"snr": snr}, scaler=TargetScaler(None, np.zeros(1), np.ones(1)))["snr"]
    assert r["mse"][0] > 0.5 and r["mse"][3] == pytest.approx(0.0, abs=1e-12)


def test_a_run_stores_curves_and_slices(toy_bench, monkeypatch):
    task = make_task("classification", epochs=2, slice_by=("radius",), id="test/sliced")
    registry.tasks.register(task, "test")
    try:
        rec = runner.run(task, registry.models.get("toy-cnn"), 0, toy_bench)
    finally:
        registry.tasks.unregister("test/sliced")
    assert rec.status == "ok"
    assert set(rec.curves["roc"]["tpr"]) == {"no_sub", "cdm"}
    sl = rec.slices["radius"]
    assert sum(sl["n"]) == 64 and len(sl["auc_macro"]) == diagnostics.SLICE_BINS
    assert all(v is None or 0 <= v <= 1 for v in sl["auc_macro"])
