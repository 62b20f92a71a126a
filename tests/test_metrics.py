"""Metrics agree with scikit-learn / hand-computed values and reject bad input with clear messages."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, r2_score, roc_auc_score

from lensbench.metric_names import higher_is_better
from lensbench.metrics import (
    MetricInputError,
    anomaly_metrics,
    binned_metric,
    bootstrap_ci,
    classification_metrics,
    regression_metrics,
    worst_bin,
)

CLASSES = ["no_sub", "cdm", "axion"]


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def cls_data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    logits = rng.normal(size=(120, 3)) + 1.5 * np.eye(3)[y]
    return y, _softmax(logits).astype(np.float32)


# ----------------------------------------------------------------------------- classification


def test_classification_matches_sklearn(cls_data):
    y, p = cls_data
    m = classification_metrics(y, p, CLASSES)
    assert m["auc_macro"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"), abs=1e-9)
    for i, c in enumerate(CLASSES):
        assert m[f"auc_{c}"] == pytest.approx(roc_auc_score(y == i, p[:, i]))
    pred = p.argmax(1)
    assert m["accuracy"] == pytest.approx((pred == y).mean())
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"))
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == 120 and (cm.sum(1) == 40).all()  # rows = true class
    assert np.trace(cm) == (pred == y).sum()
    assert all(isinstance(v, float) for k, v in m.items() if k != "confusion_matrix")


def test_classification_hand_computed():
    # class 1 scores: positives 0.9, 0.4; negatives 0.6, 0.1 -> pairs won 3 of 4 -> AUC 0.75
    y = np.array([1, 1, 0, 0])
    p1 = np.array([0.9, 0.4, 0.6, 0.1])
    m = classification_metrics(y, np.stack([1 - p1, p1], 1), ["a", "b"])
    assert m["auc_b"] == pytest.approx(0.75) and m["auc_a"] == pytest.approx(0.75)
    assert m["auc_macro"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.5)  # predictions 1, 0, 1, 0
    assert m["confusion_matrix"] == [[1, 1], [1, 1]]


@pytest.mark.parametrize(
    "y, p, match",
    [
        (np.zeros(4, int), np.full((4, 3), 1 / 3), "at least 2 classes present"),
        (np.array([0, 1, 0, 1]), np.full((4, 3), 1 / 3), r"missing \['axion'\]"),
        (np.array([0, 1, 2, 0]), np.full((4, 2), 0.5), r"expected shape \(N, 3\)"),
        (np.array([0, 1, 2, 0]), np.full((4, 3), 0.5), "sum to 1"),
        (np.array([0, 1, 2, 0]), np.array([[np.nan, 0.5, 0.5]] * 4), "finite"),
        (np.array([0, 1, 2, 0]), np.array([[np.inf, 0.5, 0.5]] * 4), "finite"),
        (np.array([0, 1, 2, 0]), np.array([[2.0, -0.5, -0.5]] * 4), r"in \[0, 1\]"),
        (np.array([0, 1, 2, 3]), np.full((4, 3), 1 / 3), r"labels in \[0, 2\]"),
        (np.array([0.5, 1, 2, 0]), np.full((4, 3), 1 / 3), "integer labels"),
        (np.array([0, 1, 2]), np.full((4, 3), 1 / 3), "same number of samples"),
        (np.array([[0, 1, 2]]), np.full((3, 3), 1 / 3), "1-D"),
        (np.array([0, 1, 2]), np.full(3, 1 / 3), "2-D"),
    ],
)
def test_classification_input_errors(y, p, match):
    with pytest.raises(MetricInputError, match=match):
        classification_metrics(y, p, CLASSES)


def test_duplicate_class_names():
    with pytest.raises(MetricInputError, match="unique"):
        classification_metrics([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["a", "a"])


# ----------------------------------------------------------------------------- regression


def test_regression_values():
    yt = np.array([[0.0, 1.0], [1.0, -1.0], [2.0, 0.0], [-1.0, 2.0]])
    yp = np.array([[0.5, 1.0], [1.0, -2.0], [1.0, 0.0], [-1.0, 2.0]])
    mean, std = np.array([10.0, -3.0]), np.array([2.0, 0.5])
    m = regression_metrics(yt, yp, ["m_sub", "theta_e"], mean, std)
    # target 0 errors: 0.5, 0, 1, 0 -> mse 1.25/4, mae 1.5/4; target 1 errors: 0, 1, 0, 0
    assert m["mse_m_sub"] == pytest.approx(0.3125) and m["mae_m_sub"] == pytest.approx(0.375)
    assert m["mse_theta_e"] == pytest.approx(0.25) and m["mae_theta_e"] == pytest.approx(0.25)
    assert m["mse"] == pytest.approx((0.3125 + 0.25) / 2)
    assert m["mae"] == pytest.approx((0.375 + 0.25) / 2)
    assert m["r2_m_sub"] == pytest.approx(r2_score(yt[:, 0], yp[:, 0]))
    assert m["r2"] == pytest.approx(r2_score(yt, yp))  # uniform average over targets
    # raw units: errors scale by std (MAE) and std**2 (MSE); the mean shift cancels
    assert m["mae_raw_m_sub"] == pytest.approx(0.375 * 2.0)
    assert m["mse_raw_m_sub"] == pytest.approx(0.3125 * 4.0)
    assert m["mae_raw_theta_e"] == pytest.approx(0.25 * 0.5)
    assert m["mse_raw_theta_e"] == pytest.approx(0.25 * 0.25)


def test_regression_single_target_accepts_1d():
    m = regression_metrics([0.0, 1.0, 2.0], [0.0, 1.0, 1.0], ["theta_e"], [0.0], [1.0])
    assert m["mse"] == pytest.approx(1 / 3) and m["mse_theta_e"] == m["mse"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y_pred": np.zeros((4, 3))}, r"y_pred: expected shape \(N, 2\)"),
        ({"y_true": np.zeros((3, 2))}, "same number of samples"),
        ({"y_pred": np.array([[np.nan, 0]] * 4)}, "finite"),
        ({"std": np.array([1.0, 0.0])}, "positive"),
        ({"mean": np.array([1.0])}, r"mean: expected shape \(2,\)"),
        ({"y_true": np.zeros((1, 2)), "y_pred": np.zeros((1, 2))}, "at least 2 samples"),
    ],
)
def test_regression_input_errors(kwargs, match):
    args = {"y_true": np.zeros((4, 2)), "y_pred": np.zeros((4, 2)), "target_names": ["a", "b"],
            "mean": np.zeros(2), "std": np.ones(2)}
    args.update(kwargs)
    with pytest.raises(MetricInputError, match=match):
        regression_metrics(**args)


# ----------------------------------------------------------------------------- anomaly


def test_anomaly_metrics():
    groups = np.array(["no_sub"] * 4 + ["cdm"] * 2 + ["axion"] * 2)
    is_anom = groups != "no_sub"
    score = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.25, 0.05])
    m = anomaly_metrics(is_anom, score, groups, ["no_sub"])
    assert m["auc"] == pytest.approx(roc_auc_score(is_anom, score))
    # cdm (0.8, 0.7) vs normals (0.1, 0.2, 0.3, 0.9): wins 3+3 of 8
    assert m["auc_cdm"] == pytest.approx(6 / 8)
    # axion (0.25, 0.05) vs normals: 0.25 beats 2, 0.05 beats 0 -> 2 of 8
    assert m["auc_axion"] == pytest.approx(2 / 8)
    # 4 normals resolve no FPR operating point (metrics.MIN_FALSE_POSITIVES): none reported
    assert "tpr_at_fpr_0.1" not in m and "tpr_at_fpr_0.01" not in m
    m2 = anomaly_metrics(is_anom.astype(int), np.where(is_anom, 1.0, 0.0))
    assert m2["auc"] == 1.0 and "auc_cdm" not in m2
    # 50 normals resolve FPR 0.1: at most 5 normals above the threshold; the 0.9 one and 4 of the
    # 0.6 normals are above every anomaly (0.5), so the TPR there is 0; with 4 such normals it is 1
    normals = np.r_[0.9, np.full(4, 0.6), np.zeros(45)]
    m3 = anomaly_metrics(np.r_[np.zeros(50, bool), np.ones(5, bool)], np.r_[normals, np.full(5, 0.5)])
    assert m3["tpr_at_fpr_0.1"] == pytest.approx(1.0) and "tpr_at_fpr_0.01" not in m3
    normals[5] = 0.7  # now 6 normals beat the anomalies
    m4 = anomaly_metrics(np.r_[np.zeros(50, bool), np.ones(5, bool)], np.r_[normals, np.full(5, 0.5)])
    assert m4["tpr_at_fpr_0.1"] == pytest.approx(0.0)


def test_anomaly_input_errors():
    with pytest.raises(MetricInputError, match="both positives and negatives"):
        anomaly_metrics([True, True], [0.1, 0.2])
    with pytest.raises(MetricInputError, match="disagrees"):
        anomaly_metrics([True, False], [0.1, 0.2], ["no_sub", "no_sub"], ["no_sub"])
    with pytest.raises(MetricInputError, match="finite"):
        anomaly_metrics([True, False], [np.nan, 0.2])
    with pytest.raises(MetricInputError, match="booleans or 0/1"):
        anomaly_metrics([2, 0], [0.1, 0.2])


# ----------------------------------------------------------------------------- slices, bootstrap, directions


def test_binned_metric_edges_and_errors():
    v = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.0])
    yt = np.array([0, 1, 0, 1, 1, 1])
    yp = np.array([0.1, 0.9, 0.8, 0.2, 0.5, 0.5])
    rows = binned_metric(v, yt, yp, [-1.0, 0.0, 1.0, 2.0], roc_auc_score)
    assert [r["n"] for r in rows] == [0, 2, 4]  # [lo, hi) except the last bin, which includes hi
    assert rows[0]["value"] is None and rows[0]["error"] == "empty bin"
    assert rows[1]["value"] == 1.0 and rows[1]["error"] is None
    assert rows[2]["value"] == pytest.approx(roc_auc_score(yt[2:], yp[2:]))
    assert (rows[2]["lo"], rows[2]["hi"]) == (1.0, 2.0)
    def mae(a, b):
        return float(np.abs(a - b).mean())

    q = binned_metric(np.arange(10.0), np.zeros(10), np.arange(10.0), 2, mae)
    assert [r["n"] for r in q] == [5, 5] and q[0]["value"] == pytest.approx(2.0)
    assert worst_bin(q, higher_better=False)["value"] == pytest.approx(7.0)
    one_class = binned_metric(v, np.zeros(6, int), yp, [0.0, 3.0], roc_auc_score)
    assert one_class[0]["value"] is None and one_class[0]["error"]
    with pytest.raises(MetricInputError, match="increasing"):
        binned_metric(v, yt, yp, [1.0, 0.0], roc_auc_score)


def test_bootstrap_ci_mean_and_single_class_skips():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 1.0, size=400)
    lo, hi = bootstrap_ci(np.mean, x, n_boot=500, seed=0)
    assert lo < 5.0 < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.25)
    assert bootstrap_ci(np.mean, x, n_boot=200, seed=3) == bootstrap_ci(np.mean, x, n_boot=200, seed=3)
    # 1 positive in 12: many resamples have a single class and are skipped, not fatal
    y = np.array([1] + [0] * 11)
    s = np.linspace(1, 0, 12)
    lo, hi = bootstrap_ci(roc_auc_score, y, s, n_boot=200)
    assert lo == hi == 1.0
    with pytest.raises(MetricInputError, match="resamples"):
        bootstrap_ci(roc_auc_score, np.zeros(10), np.ones(10), n_boot=50)


def test_directions():
    assert higher_is_better("auc_macro") and higher_is_better("auc_axion") and higher_is_better("test_r2")
    assert not higher_is_better("mse") and not higher_is_better("mae_raw_theta_e")
    assert higher_is_better("tpr_at_fpr_0.1")
    with pytest.raises(ValueError, match="unknown metric"):
        higher_is_better("banana")


def test_classification_aucs_from_saturated_logits_have_no_ties():
    """Logit gaps beyond float32 softmax: every p1 rounds to 1, but the AUCs from the float64 log-odds
    keep the ranking, and the two class AUCs of a binary task are equal."""
    import torch

    from lensbench import kinds
    from lensbench.specs import Budget, Preset, TaskSpec

    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    gap = np.array([18.0, 25.0, 30.0, 35.0, 20.0, 28.0, 40.0, 45.0])
    logits = np.stack([np.zeros(8), gap], axis=1)
    p32 = torch.softmax(torch.tensor(logits, dtype=torch.float32), dim=1).double().numpy()
    tied = classification_metrics(y, p32, ["nonlens", "lens"], ci=False)
    m = classification_metrics(y, p32, ["nonlens", "lens"], ci=False, logits=logits)
    assert m["auc_nonlens"] == m["auc_lens"] == m["auc_macro"] == pytest.approx(roc_auc_score(y, gap)) == 0.6875
    assert tied["auc_lens"] == 0.5 and tied["auc_nonlens"] != tied["auc_lens"]  # float32 ties lose the ranking
    assert m["accuracy"] == tied["accuracy"] and "tpr_at_fpr_0.1" not in m  # 4 negatives resolve no FPR point
    with pytest.raises(MetricInputError, match="logits: expected shape"):
        classification_metrics(y, p32, ["nonlens", "lens"], logits=logits[:, :1])
    budget = Budget(epochs=1, batch_size=4, lr=1e-3, weight_decay=0.0)
    task = TaskSpec(id="t/lens", version=1, kind="classification", dataset="d", description="d",
                    classes=("nonlens", "lens"), target=("label",), primary_metric="auc_macro", higher_is_better=True,
                    presets={"quick": Preset({"train": 8, "val": 8, "test": 8}, budget)}, input_shape=(1, 4, 4))
    kind = kinds.get("classification")
    assert kind.ranks_by_logits and kind.score(task, y, p32, ci=False, logits=logits)["auc_macro"] == 0.6875
    rows = np.stack([np.arange(8), np.r_[0, 0, 1, 2, 4, 4, 5, 6]])
    reps = kind.replicates(task, y, p32, rows, logits=logits)
    assert set(reps) == {"auc_macro", "auc_nonlens", "auc_lens"} and reps["auc_macro"][0] == 0.6875
    assert reps["auc_lens"] == reps["auc_nonlens"] and len(reps["auc_macro"]) == 2
