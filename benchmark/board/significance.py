"""Statistics that separate models: shared item resamples, a two-level bootstrap, paired tests.

Protocol (v2). A model's test number varies with two things: the training seed, and the finite
test set (another draw of test items would give another number). Both are measured:

* **Item resamples, shared by every run.** ``item_resamples(n_items, B, seed, strata=labels)``
  draws B bootstrap index sets of the test items (stratified by class, so each resample keeps the
  class counts and every per-class AUC stays defined). The index sets depend only on the task's
  test set and a fixed seed, so every model and every seed is scored on the SAME B resamples
  (common random numbers). A record stores, per metric, its full-test-set value and the B
  replicate values (``replicates``): small records, and enough for the bootstrap below.
* **Two-level bootstrap** (``hierarchical_ci``): each bootstrap draw resamples the seeds with
  replacement and picks ONE replicate column j, the same column for every drawn seed; the
  statistic is the mean of ``replicates[seed, j]`` over the drawn seeds; the interval is the
  percentile interval of that statistic. Why one column per draw and not one per drawn seed:
  all seeds are scored on the same test set, so its sampling error is shared by the seeds and does
  not average out over them. Independent columns per seed would divide the test-set variance by
  the number of seeds and make the interval too narrow (with 10 seeds whose spread is smaller
  than the test-set error, by about sqrt(10)); the shared column keeps it, and the seed resampling
  adds the seed-to-seed spread. For large n the interval's variance is
  ``sd_seed**2 / n + sd_item**2``; with few seeds the percentile bootstrap understates the seed
  part (by ``(n - 1) / n`` and through the discreteness of n draws), one reason to run enough
  seeds (``seeds_needed``).
* **Paired comparisons** (``paired_difference``): two models on the seeds they share; the CI of
  the mean difference uses the same bootstrap on ``replicates_a - replicates_b`` (same seed, same
  column: the common random numbers cancel the test-set noise the two models share). Its p-value
  must hold over both sources of variation: a paired t-test (or Wilcoxon signed-rank) over seeds
  (``p_seeds``: the training randomness on this test set; exact for few seeds, where the
  percentile bootstrap is too narrow) and, when the records carry replicates, the two-level
  bootstrap's own p-value (``p_bootstrap``: twice the smaller tail of the bootstrap differences at
  0, i.e. the level at which the interval above just touches 0; it adds the test-set sampling,
  which decides on a small test set such as 40 real images, where 10 seeds agreeing on the same
  images prove little). ``p_value`` is the larger of the two: a difference is claimed only when
  both reject (an intersection-union test, valid at the stated level). ``holm`` adjusts a family
  of p-values (Holm-Bonferroni step-down) and ``separated`` says whether an adjusted p-value
  rejects "no difference".
* **Planning**: ``seeds_needed(sd, effect)`` is the smallest seed count for which a two-sided
  paired t-test detects ``effect`` with the requested power (noncentral t); e.g. sd 0.027,
  effect 0.02 -> 17 seeds at alpha 0.05, power 0.8.
* **AUC without ties from saturation**: ``auc_from_logits`` scores class c by its log-odds
  ``z_c - logsumexp(z_{j != c})`` in float64. A float32 softmax rounds p to exactly 1.0 for logit
  gaps above ~17, which makes ties the logits do not have (and class 0 and class 1 of a binary
  task then get different AUCs); the log-odds rank exactly like p_c and never saturate.

``item_resamples``, ``replicates`` and ``auc_from_logits`` live in ``lensbench.resampling`` (the
run layer scores each run on the shared resamples with them) and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

from lensbench.resampling import auc_from_logits, finite, item_resamples, replicates

__all__ = [
    "N_BOOT", "Interval", "PairedDifference", "auc_from_logits", "bootstrap_p", "hierarchical_ci", "holm",
    "item_resamples", "paired_difference", "replicates", "seeds_needed", "separated",
]

N_BOOT = 4000  # two-level bootstrap draws (percentiles of a 95 % interval are stable to ~1 % of its width)


class Interval(NamedTuple):
    """A point estimate and its ``level`` percentile interval."""

    point: float
    lo: float
    hi: float


class PairedDifference(NamedTuple):
    """Model a minus model b on their common seeds.

    diff: mean over seeds of the full-test-set difference; lo, hi: its two-level bootstrap
    interval; p_value: the larger of p_seeds (paired test over seeds, two-sided) and p_bootstrap
    (two-level bootstrap over seeds and test items; NaN without replicates, then p_value is
    p_seeds); n_seeds, seeds: the seeds used.
    """

    diff: float
    lo: float
    hi: float
    p_value: float
    n_seeds: int
    seeds: tuple
    p_seeds: float = math.nan
    p_bootstrap: float = math.nan


# ----------------------------------------------------------------------------- two-level bootstrap
def _check_level(level: float, n_boot: int) -> None:
    if not 0 < level < 1 or int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"expected 0 < level < 1 and a positive integer n_boot, got {level!r}, {n_boot!r}")


def hierarchical_ci(point, replicate_values=None, *, level: float = 0.95, n_boot: int = N_BOOT,
                    rng_seed: int = 0, bounds: tuple[float, float] = (-math.inf, math.inf)) -> Interval:
    """Mean over seeds and its two-level bootstrap interval (module docstring).

    ``point``: (n_seeds,) the full-test-set metric of each seed; ``replicate_values``:
    (n_seeds, B) the metric of each seed on the B shared item resamples (row i = seed i, column j
    = resample j for every seed), or None for a seed-only bootstrap. ``bounds``: the metric's
    range, e.g. (0, 1) for AUC, (0, inf) for MSE; values outside it are refused and the interval
    is clipped to it. At least 2 seeds. Deterministic in ``rng_seed``.
    """
    return _bootstrap(point, replicate_values, level, n_boot, rng_seed, bounds)[0]


def _bootstrap(point, replicate_values, level: float, n_boot: int, rng_seed: int,
               bounds: tuple[float, float]) -> tuple[Interval, np.ndarray]:
    """``hierarchical_ci``'s interval and the bootstrap statistic (n_boot,) it is the percentile interval
    of: per draw, the seeds resampled with replacement and one resample column shared by them."""
    p = finite(point, "hierarchical_ci: point", 1)
    r = p[:, None] if replicate_values is None else finite(replicate_values, "hierarchical_ci: replicate_values", 2)
    _check_level(level, n_boot)
    n = len(p)
    if n < 2:
        raise ValueError(f"hierarchical_ci: expected at least 2 seeds, got {n} (one seed has no seed-level spread)")
    if r.shape[0] != n or r.shape[1] < 1:
        raise ValueError(f"hierarchical_ci: replicate_values must be ({n}, B) for {n} seeds, got {r.shape}")
    lo_b, hi_b = float(bounds[0]), float(bounds[1])
    for name, a in (("point", p), ("replicate_values", r)):
        if a.min() < lo_b or a.max() > hi_b:
            raise ValueError(f"hierarchical_ci: {name} must lie in bounds [{lo_b}, {hi_b}], "
                             f"got range [{a.min():.6g}, {a.max():.6g}]")
    rng = np.random.default_rng(int(rng_seed))
    seeds = rng.integers(0, n, size=(int(n_boot), n))
    cols = rng.integers(0, r.shape[1], size=(int(n_boot), 1))  # one resample column per draw, shared by its seeds
    dist = r[seeds, cols].mean(axis=1)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(dist, [tail, 100 - tail])
    return Interval(float(p.mean()), float(np.clip(lo, lo_b, hi_b)), float(np.clip(hi, lo_b, hi_b))), dist


def bootstrap_p(draws) -> float:
    """Two-sided bootstrap p-value of "the difference is 0" from the bootstrap differences ``draws``:
    (2 x the smaller count on either side of 0, 0 counted on both + 1) / (draws + 1), at most 1; the
    +1 keeps it above 0 with a finite number of draws (at least 1 / (draws + 1))."""
    d = np.asarray(draws, dtype=np.float64)
    k = min(int((d <= 0).sum()), int((d >= 0).sum()))
    return float(min(1.0, (2 * k + 1) / (d.size + 1)))


# ----------------------------------------------------------------------------- paired comparison
def _paired_p(a: np.ndarray, b: np.ndarray, test: str) -> float:
    d = a - b
    if np.ptp(d) == 0:  # constant differences: both tests are undefined (zero variance)
        return 1.0 if d[0] == 0 else 0.0
    if test == "t":
        return float(stats.ttest_rel(a, b).pvalue)
    return float(stats.wilcoxon(a, b).pvalue)


def paired_difference(a: Mapping, b: Mapping, replicates_a: Mapping | None = None,
                      replicates_b: Mapping | None = None, *, test: str = "t", level: float = 0.95,
                      n_boot: int = N_BOOT, rng_seed: int = 0,
                      bounds: tuple[float, float] = (-math.inf, math.inf)) -> PairedDifference:
    """Model a minus model b, paired by seed, on the seeds both have.

    ``a``, ``b``: seed -> full-test-set metric. ``replicates_a``, ``replicates_b`` (both or
    neither): seed -> (B,) metric on the shared item resamples; given, the interval pairs the same
    seed and the same resample column, else it resamples seeds only. ``test``: "t" (paired t-test,
    ``scipy.stats.ttest_rel``) or "wilcoxon" (signed-rank; exact for small n, cannot reach
    p < 0.05 below 6 seeds), over seeds; with replicates the p-value is the larger of that test's and
    the two-level bootstrap's (``bootstrap_p`` of the same draws as the interval). ``bounds``: the
    range of the difference. ValueError for fewer than 2 common seeds.
    """
    if test not in ("t", "wilcoxon"):
        raise ValueError(f"paired_difference: test must be 't' or 'wilcoxon', got {test!r}")
    if (replicates_a is None) != (replicates_b is None):
        raise ValueError("paired_difference: give replicates for both models or for neither")
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        raise ValueError(f"paired_difference: a paired comparison needs at least 2 common seeds; model a has seeds "
                         f"{sorted(a)}, model b has {sorted(b)}, common {seeds}")
    av = finite([a[s] for s in seeds], "paired_difference: a", 1)
    bv = finite([b[s] for s in seeds], "paired_difference: b", 1)
    rep = None
    if replicates_a is not None:
        missing = [s for s in seeds if s not in replicates_a or s not in replicates_b]
        if missing:
            raise ValueError(f"paired_difference: replicates missing for common seeds {missing}")
        ra = finite([replicates_a[s] for s in seeds], "paired_difference: replicates_a", 2)
        rb = finite([replicates_b[s] for s in seeds], "paired_difference: replicates_b", 2)
        if ra.shape != rb.shape:
            raise ValueError(f"paired_difference: both models need the same B shared resamples, got "
                             f"{ra.shape[1]} and {rb.shape[1]} replicates")
        rep = ra - rb
    ci, draws = _bootstrap(av - bv, rep, level, n_boot, rng_seed, bounds)
    p_seeds = _paired_p(av, bv, test)
    p_boot = math.nan if rep is None else bootstrap_p(draws)
    return PairedDifference(ci.point, ci.lo, ci.hi, p_seeds if rep is None else max(p_seeds, p_boot), len(seeds),
                            tuple(seeds), p_seeds, p_boot)


# ----------------------------------------------------------------------------- multiple comparisons
def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Sorted ascending p_(1) <= ... <= p_(m): adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))
    (monotone in i). Rejecting where adjusted <= alpha controls the family-wise error at alpha.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"holm: expected a 1-d sequence of p-values in [0, 1], got {pvalues!r}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def separated(adjusted_p: float, alpha: float = 0.05) -> bool:
    """True when an adjusted p-value rejects "no difference" at family-wise level ``alpha``."""
    if not 0 < alpha < 1 or not 0 <= adjusted_p <= 1:
        raise ValueError(f"separated: expected 0 <= adjusted_p <= 1 and 0 < alpha < 1, got {adjusted_p!r}, {alpha!r}")
    return bool(adjusted_p <= alpha)


def seeds_needed(sd_of_paired_diff: float, effect: float, alpha: float = 0.05, power: float = 0.8,
                 n_comparisons: int = 1, max_seeds: int = 100_000) -> int:
    """Smallest n >= 2 for which a two-sided paired t-test at level ``alpha / n_comparisons``
    (Bonferroni: the smallest level Holm may use, so conservative) reaches ``power`` against a
    true mean difference ``effect`` with per-seed sd ``sd_of_paired_diff``.

    Power(n) = P(|T| > t_crit) with T ~ noncentral t(df = n - 1, nc = effect / sd * sqrt(n)).
    """
    if not sd_of_paired_diff > 0 or effect == 0 or not math.isfinite(effect):
        raise ValueError(f"seeds_needed: expected sd > 0 and a finite effect != 0, got {sd_of_paired_diff!r}, {effect!r}")
    if not 0 < alpha < 1 or not 0 < power < 1 or int(n_comparisons) != n_comparisons or n_comparisons < 1:
        raise ValueError(f"seeds_needed: expected 0 < alpha < 1, 0 < power < 1, n_comparisons >= 1, "
                         f"got {alpha!r}, {power!r}, {n_comparisons!r}")
    a = alpha / int(n_comparisons)
    d = abs(effect) / sd_of_paired_diff

    def achieved(n: int) -> float:
        df, nc = n - 1, d * math.sqrt(n)
        tc = stats.t.ppf(1 - a / 2, df)
        return float(stats.nct.sf(tc, df, nc) + stats.nct.cdf(-tc, df, nc))

    lo, hi = 2, 2
    while achieved(hi) < power:  # power rises with n: double, then bisect
        if hi >= max_seeds:
            raise ValueError(f"seeds_needed: more than {max_seeds} seeds needed for effect {effect} at sd "
                             f"{sd_of_paired_diff}")
        lo, hi = hi + 1, min(2 * hi, max_seeds)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if achieved(mid) >= power else (mid + 1, hi)
    return hi
