"""The image-statistics probe (``global-stats`` reference model, ``lensbench.baselines.global_stats``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from lensbench import registry
from lensbench.baselines.global_stats import N_ANNULI, cv_auc, image_statistics
from lensbench.specs import Budget, Preset, TaskSpec

SIZE = 32


def _task(n_classes: int = 2) -> TaskSpec:
    return TaskSpec(id="test/probe", version=1, kind="classification", dataset="synthetic", description="toy",
                    classes=tuple(f"c{i}" for i in range(n_classes)), target=("label",), primary_metric="auc_macro",
                    higher_is_better=True, input_shape=(1, SIZE, SIZE),
                    presets={"quick": Preset({"train": 8, "val": 8, "test": 8}, Budget(epochs=1, batch_size=8))})


def _gaussians(widths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2
    img = np.exp(-(xx**2 + yy**2)[None] / (2 * widths[:, None, None] ** 2))
    return (img + 0.05 * rng.standard_normal(img.shape))[:, None].astype(np.float32)


def _toy(n: int, separable: bool, seed: int):
    """Class 1 blobs are 30 % wider when ``separable``; otherwise both classes share one law."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    w = rng.uniform(3.0, 3.5, n) * (1.0 + 0.3 * y * separable)
    return _gaussians(w, rng), y


def test_image_statistics_profile_flux_and_moments():
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2
    r = np.hypot(xx, yy)
    sigma = 3.0
    img = np.stack([np.exp(-r**2 / (2 * sigma**2)), np.where(r < SIZE / 2, r, 0.0)])
    f = image_statistics(img[:, None])
    assert f.shape == (2, N_ANNULI + 4)
    np.testing.assert_allclose(f[:, N_ANNULI], img.sum((1, 2)))
    np.testing.assert_allclose(f[0, N_ANNULI + 1: N_ANNULI + 3], sigma**2, rtol=1e-3)   # Ixx, Iyy
    assert abs(f[0, N_ANNULI + 3]) < 1e-9                                                # Ixy
    ring = np.floor(r).astype(int)                            # annuli of width SIZE / 2 / 16 = 1 px
    np.testing.assert_allclose(f[1, :N_ANNULI], [r[ring == k].mean() for k in range(N_ANNULI)])
    assert np.all(np.diff(f[0, :N_ANNULI]) < 0)
    np.testing.assert_array_equal(image_statistics(np.zeros((1, 1, 8, 8)))[0, -3:], 0.0)


def test_cv_auc_separates_only_what_global_statistics_carry():
    x, y = _toy(600, True, 0)
    assert cv_auc(image_statistics(x), y)["auc"] > 0.9
    x, y = _toy(600, False, 1)
    res = cv_auc(image_statistics(x), y)
    assert abs(res["auc"] - 0.5) < 0.08 and len(res["per_class"]) == 2 and res["fold_sd"] >= 0


def test_global_stats_is_a_registered_reference_classifier():
    spec = registry.models.get("global-stats")
    assert spec.family == "reference" and spec.kinds == ("classification",)
    model = spec.factory(_task())
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 0
    with pytest.raises(RuntimeError, match="fit_classical"):
        model(torch.zeros(2, 1, SIZE, SIZE))
    for t in registry.tasks.names():
        task = registry.tasks.get(t)
        if t.startswith(("substructure/", "lowdata/", "domain-shift/")):
            assert "global-stats" in task.default_models, t


@pytest.mark.parametrize(("separable", "low", "high"), [(True, 0.9, 1.0), (False, 0.42, 0.58)])
def test_global_stats_fits_and_predicts_probabilities(separable, low, high):
    spec = registry.models.get("global-stats")
    xtr, ytr = _toy(600, separable, 2)
    xte, yte = _toy(400, separable, 3)
    model = spec.factory(_task())
    model.fit_classical(xtr, ytr)
    logits = model(torch.from_numpy(xte))
    proba = logits.softmax(1).numpy()
    assert logits.shape == (400, 2) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    auc = roc_auc_score(yte, proba[:, 1])
    assert low < auc <= high, auc
    again = spec.factory(_task())                       # the fitted trees travel in the state dict
    again.load_state_dict(model.state_dict())
    torch.testing.assert_close(again(torch.from_numpy(xte)), logits)


def test_global_stats_refuses_bad_labels_and_other_kinds():
    model = registry.models.get("global-stats").factory(_task())
    with pytest.raises(ValueError, match="global-stats"):
        model.fit_classical(np.zeros((4, 1, SIZE, SIZE), np.float32), np.array([0, 1, 2, 1]))
    reg = TaskSpec(id="test/r", version=1, kind="regression", dataset="synthetic", description="toy",
                   classes=("lens",), target=("t",), primary_metric="mse", higher_is_better=False,
                   input_shape=(1, SIZE, SIZE),
                   presets={"quick": Preset({"train": 8, "val": 8, "test": 8}, Budget(epochs=1, batch_size=8))})
    with pytest.raises(Exception, match="global-stats"):
        registry.models.get("global-stats").factory(reg)
