"""The image-statistics probe: how much of a classification task a global shortcut explains.

``global-stats`` (reference model, classification) sees only global image statistics, never the
pixels' local structure: the radial profile in ``N_ANNULI`` annuli about the image centre, the total
flux, and the flux-weighted second moments (Ixx, Iyy, Ixy) about the flux centroid
(``image_statistics``). A scikit-learn ``HistGradientBoostingClassifier`` on those 20 numbers is fitted
once on the train split (``fit_classical``; no gradient training). A task whose label lives only in
local substructure scores AUC 0.5 with it; lensbench-v1, where added substructure mass moves the
Einstein ring, scores about 0.64 (``lensing/RECIPES.md``, ``perf/README.md``).

``cv_auc`` is the one cross-validated probe used by ``perf/image_probe.py`` and
``perf/confound_check.py``: the same classifier, stratified k-fold, macro one-vs-rest ROC AUC from
the pooled out-of-fold probabilities and the spread over folds.

The fitted classifier travels in the state dict as pickled bytes (``classical.PicklableState``), so
the runner keeps no safetensors checkpoint for it (like ``iforest-pca``); reruns refit in seconds.
Its random state is ``torch.initial_seed()`` at fit time (the run's seed) unless ``seed`` is given.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from torch import nn

from lensbench import kinds
from lensbench.baselines.classical import PicklableState
from lensbench.specs import TaskSpec

N_ANNULI = 16
DEFAULTS = {"max_iter": 200, "learning_rate": 0.05}


def image_statistics(images: np.ndarray, n_annuli: int = N_ANNULI) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) images -> (N, n_annuli + 4) float64 features (channels summed).

    Columns: mean value in each of ``n_annuli`` equal-width annuli about the image centre out to
    min(H, W) / 2 (corners beyond are ignored), total flux, and Ixx, Iyy, Ixy about the flux centroid
    (in pixels; 0 for an image of zero total flux).
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 4:
        x = x.sum(axis=1)
    if x.ndim != 3:
        raise ValueError(f"image_statistics: expected (N, C, H, W) or (N, H, W) images, got shape {x.shape}")
    n, h, w = x.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2)
    ring = np.minimum((r / (min(h, w) / 2 / n_annuli)).astype(int), n_annuli).ravel()
    flat = x.reshape(n, -1)
    counts = np.bincount(ring, minlength=n_annuli + 1)[:n_annuli]
    profile = np.stack([np.bincount(ring, weights=row, minlength=n_annuli + 1)[:n_annuli] for row in flat])
    profile /= np.maximum(counts, 1)
    total = flat.sum(1)
    safe = np.where(total != 0, total, 1.0)
    mx = (x * xx).sum((1, 2)) / safe
    my = (x * yy).sum((1, 2)) / safe
    dx, dy = xx[None] - mx[:, None, None], yy[None] - my[:, None, None]
    moments = [(x * a * b).sum((1, 2)) / safe * (total != 0) for a, b in ((dx, dx), (dy, dy), (dx, dy))]
    return np.column_stack([profile, total, *moments])


def classifier(seed: int, **config) -> HistGradientBoostingClassifier:
    """The probe's classifier (``DEFAULTS`` unless overridden)."""
    return HistGradientBoostingClassifier(**{**DEFAULTS, **config}, random_state=int(seed))


def cv_auc(X: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> dict:
    """Stratified ``folds``-fold CV of ``classifier`` on features X, integer labels y.

    Returns ``{"auc": pooled macro one-vs-rest AUC, "fold_sd": its spread over folds, "per_class":
    [one-vs-rest AUC of each class]}`` (two classes: the AUC of class 1, per class both)."""
    y = np.asarray(y)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(classifier(seed), X, y, cv=cv, method="predict_proba")

    def auc(t, p):
        return roc_auc_score(t, p[:, 1]) if p.shape[1] == 2 else roc_auc_score(t, p, multi_class="ovr", average="macro")

    per_fold = [auc(y[te], proba[te]) for _, te in cv.split(X, y)]
    per_class = [float(roc_auc_score(y == k, proba[:, k])) for k in range(proba.shape[1])]
    return {"auc": float(auc(y, proba)), "fold_sd": float(np.std(per_fold)), "per_class": per_class}


class GlobalStats(PicklableState):
    """Logits = log class probabilities of the gradient-boosted trees on ``image_statistics``."""

    def __init__(self, task: TaskSpec, max_iter: int = DEFAULTS["max_iter"],
                 learning_rate: float = DEFAULTS["learning_rate"], seed: int | None = None):
        super().__init__()
        kinds.require(task, "global-stats", "classification")
        self.n_classes = int(task.n_outputs)
        self.config = {"max_iter": int(max_iter), "learning_rate": float(learning_rate)}
        self.seed = seed
        self.register_buffer("dummy", torch.zeros(1))  # no trainable parameters; keeps .to(device) usable
        self.fitted = None

    def fit_classical(self, images: np.ndarray, targets: np.ndarray) -> None:
        y = np.asarray(targets).astype(np.int64).ravel()
        if y.size == 0 or y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"global-stats: targets must be integer labels in [0, {self.n_classes})")
        seed = int(torch.initial_seed() % 2**32) if self.seed is None else int(self.seed)
        self.fitted = classifier(seed, **self.config).fit(image_statistics(images), y)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fitted is None:
            raise RuntimeError("global-stats: call fit_classical(images, targets) before predicting")
        proba = np.zeros((len(x), self.n_classes))
        proba[:, self.fitted.classes_] = self.fitted.predict_proba(image_statistics(x.detach().cpu().numpy()))
        return torch.as_tensor(np.log(np.maximum(proba, 1e-12)), dtype=torch.float32, device=x.device)


def global_stats(task: TaskSpec, **config) -> nn.Module:
    return GlobalStats(task, **config)
