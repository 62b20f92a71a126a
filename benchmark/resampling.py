"""Shared test-item resamples and AUC from logits: what a run needs to store replicate metrics.

Protocol v2 (``lensbench.board.significance`` explains the statistics built on it). At test time a
run scores its predictions on the full test set and on ``N_RESAMPLES`` bootstrap resamples of the
test items. The index sets (``item_resamples``) depend only on the test set (its size and, for
stratified resamples, its labels) and ``RESAMPLE_SEED``, so every model and every seed of a
leaderboard table is scored on the SAME resamples (common random numbers); ``replicates`` applies a
metric to each of them.

``auc_from_logits`` is how classification AUCs are computed from model outputs: class c is scored
by its float64 log-odds, which never saturate (a float32 softmax rounds p to exactly 1.0 for logit
gaps above ~17 and so makes ties the logits do not have).

This module sits with the contracts (numpy, scipy and scikit-learn only), so that the run layer
computes replicates and the board analyses them with one implementation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score

__all__ = ["N_RESAMPLES", "RESAMPLE_SEED", "auc_from_logits", "finite", "item_resamples", "log_odds", "replicates"]

N_RESAMPLES = 200  # B: item resamples a run is scored on (stored in the record's ``bootstrap``)
RESAMPLE_SEED = 0  # the fixed seed of those resamples: identical for every model and seed


def finite(values, name: str, ndim: int) -> np.ndarray:
    """``values`` as a float64 array of ``ndim`` dimensions with finite entries; ``ValueError``
    naming ``name`` otherwise."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: expected finite values, got {int((~np.isfinite(a)).sum())} non-finite")
    return a


def item_resamples(n_items: int, B: int, seed: int, strata=None) -> np.ndarray:
    """B bootstrap index sets of ``n_items`` test items, ``(B, n_items)`` int64.

    Row b lists the items of resample b (drawn with replacement). With ``strata`` (n_items class
    labels) each class is resampled within itself and keeps its positions, so every row has the
    original class counts: ``strata[rows[b]]`` equals ``strata``. Deterministic in
    (n_items, B, seed, strata).
    """
    if int(n_items) != n_items or n_items < 1 or int(B) != B or B < 1:
        raise ValueError(f"item_resamples: expected positive integers n_items and B, got {n_items!r}, {B!r}")
    n_items, B = int(n_items), int(B)
    rng = np.random.default_rng(int(seed))
    if strata is None:
        return rng.integers(0, n_items, size=(B, n_items), dtype=np.int64)
    labels = np.asarray(strata)
    if labels.shape != (n_items,):
        raise ValueError(f"item_resamples: strata must have shape ({n_items},), got {labels.shape}")
    out = np.empty((B, n_items), dtype=np.int64)
    for value in np.unique(labels):  # sorted, so the stream does not depend on label order
        idx = np.flatnonzero(labels == value)
        out[:, idx] = idx[rng.integers(0, len(idx), size=(B, len(idx)))]
    return out


def replicates(fn: Callable[..., float], resamples: np.ndarray, *arrays) -> np.ndarray:
    """``fn`` on each resample: ``[fn(*(a[rows] for a in arrays)) for rows in resamples]``, (B,)."""
    rows = np.asarray(resamples)
    if rows.ndim != 2:
        raise ValueError(f"replicates: resamples must be (B, n_items), got shape {rows.shape}")
    arrs = [np.asarray(a) for a in arrays]
    bad = [a.shape for a in arrs if a.shape[:1] != (rows.shape[1],)]
    if not arrs or bad:
        raise ValueError(f"replicates: every array must have {rows.shape[1]} rows (one per item), got {bad}")
    return np.array([fn(*(a[r] for a in arrs)) for r in rows], dtype=np.float64)


def log_odds(logits) -> np.ndarray:
    """(N, K) float64 log-odds of each class, ``z_c - logsumexp(z_{j != c})`` (``z_1 - z_0`` for K = 2):
    monotone in the softmax probability p_c, shift invariant, never saturated."""
    z = finite(logits, "log_odds: logits", 2)
    k = z.shape[1]
    if k < 2:
        raise ValueError(f"log_odds: expected logits (N, K >= 2), got {z.shape}")
    out = np.empty_like(z)
    for c in range(k):
        rest = np.delete(z, c, axis=1)
        out[:, c] = z[:, c] - (rest[:, 0] if k == 2 else logsumexp(rest, axis=1))
    return out


def auc_from_logits(y_true, logits) -> tuple[float, list[float]]:
    """Macro one-vs-rest ROC AUC and the per-class AUCs from (N, K) logits (or log-probabilities).

    Class c is scored by its float64 log-odds (``log_odds``; monotone in p_c, so the AUCs equal
    scikit-learn's on exact probabilities, but never saturated; for K = 2 it is ``z_1 - z_0`` and
    the two class AUCs are equal). ``y_true``: (N,) labels in [0, K), every class present.
    """
    z = finite(logits, "auc_from_logits: logits", 2)
    y = np.asarray(y_true)
    n, k = z.shape
    if k < 2 or y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"auc_from_logits: expected logits (N, K >= 2) and integer labels (N,), got "
                         f"{z.shape} and {y.shape} {y.dtype}")
    counts = np.bincount(y, minlength=k) if y.min() >= 0 and y.max() < k else None
    if counts is None or (counts == 0).any():
        raise ValueError(f"auc_from_logits: labels must lie in [0, {k}) with every class present, got "
                         f"counts {None if counts is None else counts.tolist()}")
    score = log_odds(z)
    per_class = [float(roc_auc_score(y == c, score[:, c])) for c in range(k)]
    return float(np.mean(per_class)), per_class
