"""Task metrics (scikit-learn), checked up front like OGB's ``Evaluator``.

Every function validates its inputs before computing anything and raises ``MetricInputError``
with a message that says which argument is wrong and what was expected (shape, finiteness,
classes present, probabilities summing to 1). All results are plain Python ``float``/``int``/
``list`` so they go straight into JSON records and MLflow.

- ``classification_metrics``: macro one-vs-rest ROC AUC (primary), per-class AUC, accuracy,
  macro F1, confusion matrix; for 2 classes also a bootstrap 95 % CI of the AUC and TPR at fixed FPR.
- ``regression_metrics``: MSE/MAE/R² in the standardised target space (``mse`` is primary),
  per target, plus MAE/MSE in the task's target units.
- ``anomaly_metrics``: ROC AUC with anomalies positive, per anomaly class, TPR at fixed FPR.
- ``binned_metric``: a metric per slice of a continuous covariate (SNR, Einstein radius, mass).
- ``bootstrap_ci``: percentile bootstrap over test samples.

The direction of every metric name these functions produce is ``lensbench.metric_names.higher_is_better``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
    roc_curve,
)

from lensbench.resampling import log_odds

PROBA_ATOL = 1e-3  # rows of ``proba`` must sum to 1 within this tolerance (float32 softmax is ~1e-6)
FPR_POINTS = (0.1, 0.01)  # operating points: ``tpr_at_fpr_0.1``, ``tpr_at_fpr_0.01``
# An operating point FPR <= f is reported only when the test set has at least this many negatives per
# unit of f (n_negatives * f >= MIN_FALSE_POSITIVES): with fewer, the threshold is set by one or two
# negative images (with 20 negatives, "FPR <= 0.01" means "no false positive at all") and the TPR
# there is not a property of the model. 5 false positives allowed: TPR at FPR 0.1 needs >= 50
# negatives, at FPR 0.01 >= 500.
MIN_FALSE_POSITIVES = 5
AUC_CI_BOOT = 1000  # bootstrap resamples for the 2-class ``auc_ci_lo`` / ``auc_ci_hi`` (seed 0)


class MetricInputError(ValueError):
    """Metric inputs do not have the expected shape, type, values or classes."""


# ----------------------------------------------------------------------------- input checks


def _array(x, name: str, ndim: int | tuple[int, ...], dtype=float) -> np.ndarray:
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged lists etc.
        raise MetricInputError(f"{name}: could not be read as an array ({e})") from None
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if a.ndim not in ndims:
        raise MetricInputError(f"{name}: expected a {' or '.join(f'{d}-D' for d in ndims)} array, got shape {a.shape}")
    if a.shape[0] == 0:
        raise MetricInputError(f"{name}: expected at least one sample, got shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise MetricInputError(f"{name}: expected numbers, got dtype {a.dtype}")
    a = a.astype(dtype)
    if dtype is float and not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise MetricInputError(f"{name}: expected finite values, found {bad} NaN/inf")
    return a


def _labels(y, name: str, n_classes: int) -> np.ndarray:
    a = np.asarray(y)
    if a.ndim != 1 or a.shape[0] == 0:
        raise MetricInputError(f"{name}: expected a non-empty 1-D array of integer labels, got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all() or not np.all(a == np.round(a)):
            raise MetricInputError(f"{name}: expected integer labels, got non-integer floats")
    elif a.dtype.kind not in "biu":
        raise MetricInputError(f"{name}: expected integer labels, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= n_classes:
        raise MetricInputError(
            f"{name}: expected labels in [0, {n_classes - 1}] (one per class name), got range [{a.min()}, {a.max()}]"
        )
    return a


def _names(names, what: str, expected_len: int | None = None) -> list[str]:
    names = [str(n) for n in names]
    if not names or len(set(names)) != len(names):
        raise MetricInputError(f"{what}: expected unique, non-empty names, got {names}")
    if expected_len is not None and len(names) != expected_len:
        raise MetricInputError(f"{what}: expected {expected_len} names (one per column), got {len(names)}")
    return names


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise MetricInputError(f"expected the same number of samples in every input, got {lengths}")


def _binary_auc(pos: np.ndarray, score: np.ndarray, what: str) -> float:
    n_pos = int(pos.sum())
    if n_pos == 0 or n_pos == len(pos):
        raise MetricInputError(
            f"{what}: ROC AUC needs both positives and negatives, got {n_pos} positive of {len(pos)}"
        )
    return float(roc_auc_score(pos, score))


def _rank_auc(pos: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney U statistic (average ranks for ties; equals ``roc_auc_score``),
    about 50x faster for bootstrap loops. ``ValueError`` when only one class is present."""
    from scipy.stats import rankdata

    n_pos = int(pos.sum())
    n_neg = len(pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes")
    return float((rankdata(score)[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ----------------------------------------------------------------------------- classification


def classification_metrics(y_true, proba, class_names: Sequence[str], ci: bool = True, logits=None) -> dict:
    """Metrics of a K-class classifier from its class probabilities.

    ``y_true``: (N,) integer labels in [0, K); ``proba``: (N, K) probabilities (rows sum to 1);
    ``class_names``: K names, label i is ``class_names[i]``. Every class must occur in ``y_true``.

    Returns ``auc_macro`` (unweighted mean of the one-vs-rest AUCs, identical to scikit-learn's
    ``roc_auc_score(multi_class="ovr", average="macro")``), ``auc_<class>``, ``accuracy``,
    ``f1_macro`` and ``confusion_matrix`` (K x K list of lists, rows = true class, columns =
    predicted class = argmax of ``proba``). For K = 2 (class 1 positive) also ``auc_ci_lo`` /
    ``auc_ci_hi`` (95 % percentile bootstrap of the AUC, ``AUC_CI_BOOT`` resamples, seed 0) and
    ``tpr_at_fpr_0.1`` / ``tpr_at_fpr_0.01`` (largest TPR with FPR at most that value; only where
    the negatives resolve that point, ``resolvable_fpr_points``);
    ``ci=False`` skips the bootstrap (per-epoch validation, where only the point values matter).
    ``logits`` (N, K), the model outputs ``proba`` is the softmax of: every AUC (and the binary CI
    and operating points) then ranks by the float64 log-odds of the logits
    (``lensbench.resampling.log_odds``), which a saturated float32 softmax cannot tie.
    """
    names = _names(class_names, "class_names")
    k = len(names)
    if k < 2:
        raise MetricInputError(f"class_names: expected at least 2 classes, got {names}")
    p = _array(proba, "proba", 2)
    if p.shape[1] != k:
        raise MetricInputError(f"proba: expected shape (N, {k}) for classes {names}, got {p.shape}")
    y = _labels(y_true, "y_true", k)
    _same_length(y_true=y, proba=p)
    if p.min() < -PROBA_ATOL or p.max() > 1 + PROBA_ATOL:
        raise MetricInputError(
            f"proba: expected probabilities in [0, 1] (apply softmax to logits), got range [{p.min():.4g}, {p.max():.4g}]"
        )
    row_err = np.abs(p.sum(axis=1) - 1).max()
    if row_err > PROBA_ATOL:
        raise MetricInputError(
            f"proba: expected each row to sum to 1 (within {PROBA_ATOL}); worst row is off by {row_err:.4g} "
            "(apply softmax to logits)"
        )
    present = np.bincount(y, minlength=k)
    if (present > 0).sum() < 2:
        only = [names[i] for i in np.flatnonzero(present)]
        raise MetricInputError(f"y_true: expected at least 2 classes present, only {only} occurs")
    if (present == 0).any():
        missing = [names[i] for i in np.flatnonzero(present == 0)]
        raise MetricInputError(f"y_true: expected every class to occur (needed for its AUC), missing {missing}")

    rank = p
    if logits is not None:
        z = _array(logits, "logits", 2)
        if z.shape != p.shape:
            raise MetricInputError(f"logits: expected shape {p.shape} (as proba), got {z.shape}")
        rank = log_odds(z)
    out: dict = {}
    per_class = {f"auc_{n}": _binary_auc(y == i, rank[:, i], f"auc_{n}") for i, n in enumerate(names)}
    out["auc_macro"] = float(np.mean(list(per_class.values())))
    out.update(per_class)
    pred = p.argmax(axis=1)
    out["accuracy"] = float((pred == y).mean())
    out["f1_macro"] = float(f1_score(y, pred, labels=range(k), average="macro", zero_division=0))
    out["confusion_matrix"] = confusion_matrix(y, pred, labels=range(k)).tolist()
    if k == 2:  # binary (e.g. lens finding): CI of the AUC and operating points, class 1 positive
        # p1 - p0 ranks like p1 but keeps the resolution that float32 softmax loses near p1 = 1
        pos, s1 = y == 1, (p[:, 1] - p[:, 0]) if logits is None else rank[:, 1]
        if ci:
            out["auc_ci_lo"], out["auc_ci_hi"] = bootstrap_ci(_rank_auc, pos, s1, n_boot=AUC_CI_BOOT, seed=0)
        out.update(operating_points(pos, s1))
    return out


# ----------------------------------------------------------------------------- regression


def regression_metrics(y_true, y_pred, target_names: Sequence[str], mean, std) -> dict:
    """Metrics of a T-target regressor. Inputs are in the STANDARDISED space.

    ``y_true``, ``y_pred``: (N, T) (or (N,) when T = 1); ``target_names``: T names; ``mean``,
    ``std``: (T,) the train statistics used to standardise (``raw = z * std + mean``; "raw" is the
    task's target space, i.e. after any log10 transform).

    Returns ``mse`` (primary), ``mae``, ``r2`` (means over targets of the per-target values), per
    target ``mse_<t>``, ``mae_<t>``, ``r2_<t>``, and raw-unit ``mae_raw_<t>``, ``mse_raw_<t>``.
    """
    names = _names(target_names, "target_names")
    t = len(names)
    yt = _array(y_true, "y_true", (1, 2))
    yp = _array(y_pred, "y_pred", (1, 2))
    if t == 1:
        yt, yp = yt.reshape(len(yt), -1), yp.reshape(len(yp), -1)
    for arr, nm in ((yt, "y_true"), (yp, "y_pred")):
        if arr.ndim != 2 or arr.shape[1] != t:
            raise MetricInputError(f"{nm}: expected shape (N, {t}) for targets {names}, got {arr.shape}")
    _same_length(y_true=yt, y_pred=yp)
    if len(yt) < 2:
        raise MetricInputError(f"y_true: expected at least 2 samples (R² needs a variance), got {len(yt)}")
    mu = _array(np.atleast_1d(mean), "mean", 1)
    sd = _array(np.atleast_1d(std), "std", 1)
    for arr, nm in ((mu, "mean"), (sd, "std")):
        if arr.shape != (t,):
            raise MetricInputError(f"{nm}: expected shape ({t},) (one per target), got {arr.shape}")
    if (sd <= 0).any():
        raise MetricInputError(f"std: expected positive values, got {sd.tolist()}")

    out: dict = {}
    per = {"mse": [], "mae": [], "r2": []}
    for j, n in enumerate(names):
        a, b = yt[:, j], yp[:, j]
        vals = {
            "mse": float(mean_squared_error(a, b)),
            "mae": float(mean_absolute_error(a, b)),
            "r2": float(r2_score(a, b)),
        }
        for key, v in vals.items():
            per[key].append(v)
            out[f"{key}_{n}"] = v
        ra, rb = a * sd[j] + mu[j], b * sd[j] + mu[j]
        out[f"mae_raw_{n}"] = float(mean_absolute_error(ra, rb))
        out[f"mse_raw_{n}"] = float(mean_squared_error(ra, rb))
    summary = {key: float(np.mean(v)) for key, v in per.items()}
    return {**summary, **out}


# ----------------------------------------------------------------------------- anomaly


def _tpr_at_fpr(pos: np.ndarray, score: np.ndarray, fpr_max: float) -> float:
    """Largest TPR among ROC operating points whose FPR does not exceed ``fpr_max``."""
    fpr, tpr, _ = roc_curve(pos, score)
    return float(tpr[fpr <= fpr_max + 1e-12].max())


def resolvable_fpr_points(n_negatives: int) -> tuple[float, ...]:
    """The ``FPR_POINTS`` a test set with ``n_negatives`` negatives resolves (``MIN_FALSE_POSITIVES``)."""
    return tuple(f for f in FPR_POINTS if n_negatives * f >= MIN_FALSE_POSITIVES - 1e-9)


def operating_points(pos: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """``tpr_at_fpr_<f>`` for each resolvable point (``resolvable_fpr_points``); absent otherwise."""
    return {f"tpr_at_fpr_{f}": _tpr_at_fpr(pos, score, f) for f in resolvable_fpr_points(int((~pos).sum()))}


def anomaly_metrics(is_anomaly, score, group_names=None, normal_classes: Sequence[str] = ()) -> dict:
    """Anomaly-detection metrics from a score (higher = more anomalous).

    ``is_anomaly``: (N,) bool/0-1; ``score``: (N,) finite; ``group_names``: optional (N,) class
    name of each sample; ``normal_classes``: the names that count as normal. When both are given,
    ``is_anomaly`` must agree with them and per-class AUCs are added.

    Returns ``auc`` (anomalies positive), ``tpr_at_fpr_0.1``, ``tpr_at_fpr_0.01`` (largest TPR
    with FPR at most that value; only where the normals resolve it, ``resolvable_fpr_points``) and ``auc_<class>`` for each anomaly class (that class vs the
    normal samples).
    """
    a = np.asarray(is_anomaly)
    if a.ndim != 1 or a.shape[0] == 0:
        raise MetricInputError(f"is_anomaly: expected a non-empty 1-D bool array, got shape {a.shape}")
    if a.dtype.kind != "b":
        if a.dtype.kind not in "iuf" or not np.isin(a, (0, 1)).all():
            raise MetricInputError("is_anomaly: expected booleans or 0/1 values")
        a = a.astype(bool)
    s = _array(score, "score", 1)
    _same_length(is_anomaly=a, score=s)
    out = {"auc": _binary_auc(a, s, "auc (is_anomaly)")}
    out.update(operating_points(a, s))
    if group_names is None:
        return out
    g = np.asarray(group_names).astype(str)
    if g.shape != a.shape:
        raise MetricInputError(f"group_names: expected shape {a.shape} (one class name per sample), got {g.shape}")
    normal = _names(normal_classes, "normal_classes")
    expected = ~np.isin(g, normal)
    if (expected != a).any():
        i = int(np.flatnonzero(expected != a)[0])
        raise MetricInputError(
            f"is_anomaly disagrees with group_names/normal_classes at sample {i}: class {g[i]!r} "
            f"(normal classes {normal}) but is_anomaly={bool(a[i])}"
        )
    for cls in dict.fromkeys(g[a].tolist()):  # anomaly classes in order of appearance
        keep = ~a | (g == cls)
        out[f"auc_{cls}"] = _binary_auc(a[keep], s[keep], f"auc_{cls}")
    return out


# ----------------------------------------------------------------------------- slices, bootstrap


def binned_metric(values, y_true, y_pred, bins: int | Sequence[float], fn: Callable) -> list[dict]:
    """``fn(y_true[slice], y_pred[slice])`` for samples whose ``values`` fall in each bin.

    ``values``: (N,) covariate (SNR, Einstein radius, axion mass...). ``bins``: an int for that
    many equal-count (quantile) bins, or increasing edges; bin i is ``[edges[i], edges[i+1])``,
    the last bin includes its right edge. Returns one dict per bin: ``lo``, ``hi``, ``n``,
    ``value`` (None when the bin is empty, ``fn`` raises ``ValueError`` or returns NaN/inf) and ``error``
    (the reason, or None).
    """
    v = _array(values, "values", 1)
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    _same_length(values=v, y_true=yt, y_pred=yp)
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise MetricInputError(f"bins: expected a positive number of bins, got {bins}")
        edges = np.quantile(v, np.linspace(0, 1, int(bins) + 1))
    else:
        edges = _array(bins, "bins", 1)
        if len(edges) < 2 or (np.diff(edges) <= 0).any():
            raise MetricInputError(f"bins: expected at least 2 strictly increasing edges, got {edges.tolist()}")
    rows = []
    for i in range(len(edges) - 1):
        lo, hi = float(edges[i]), float(edges[i + 1])
        last = i == len(edges) - 2
        sel = (v >= lo) & ((v <= hi) if last else (v < hi))
        row = {"lo": lo, "hi": hi, "n": int(sel.sum()), "value": None, "error": None}
        if row["n"] == 0:
            row["error"] = "empty bin"
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UndefinedMetricWarning)
                    val = float(fn(yt[sel], yp[sel]))
            except ValueError as e:  # MetricInputError and sklearn's own ValueErrors
                row["error"] = str(e)
            else:
                if np.isfinite(val):
                    row["value"] = val
                else:
                    row["error"] = f"metric not defined in this bin (got {val})"
        rows.append(row)
    return rows


def worst_bin(rows: list[dict], higher_better: bool) -> dict | None:
    """The bin with the worst ``value`` (ignoring bins without a value), or None."""
    valid = [r for r in rows if r["value"] is not None]
    if not valid:
        return None
    return (min if higher_better else max)(valid, key=lambda r: r["value"])


def bootstrap_ci(fn: Callable, *arrays, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap ``(lo, hi)`` of ``fn(*arrays)`` over resampled samples (rows).

    All arrays are resampled with the same indices. Resamples where ``fn`` raises ``ValueError``
    (e.g. a single class drawn) or returns a non-finite value are skipped; if fewer than half of
    the resamples succeed, ``MetricInputError`` is raised.
    """
    if not arrays:
        raise MetricInputError("bootstrap_ci: expected at least one array")
    arrs = [np.asarray(a) for a in arrays]
    _same_length(**{f"arrays[{i}]": a for i, a in enumerate(arrs)})
    if not 0 < alpha < 1 or n_boot < 1:
        raise MetricInputError(f"bootstrap_ci: expected 0 < alpha < 1 and n_boot >= 1, got {alpha}, {n_boot}")
    rng = np.random.default_rng(seed)
    n = len(arrs[0])
    stats = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # sklearn's single-class AUC -> NaN
        for _ in range(n_boot):
            idx = rng.integers(0, n, n)
            try:
                val = float(fn(*(a[idx] for a in arrs)))
            except ValueError:
                continue
            if np.isfinite(val):
                stats.append(val)
    if len(stats) < max(1, n_boot // 2):
        raise MetricInputError(
            f"bootstrap_ci: only {len(stats)} of {n_boot} resamples gave a value; too few samples or classes"
        )
    lo, hi = np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)
