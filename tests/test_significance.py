"""lensbench.board.significance: shared item resamples, the two-level bootstrap, paired tests, Holm,
seed planning and AUC from logits, against known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score

from lensbench.board.significance import (
    auc_from_logits,
    bootstrap_p,
    hierarchical_ci,
    holm,
    item_resamples,
    paired_difference,
    replicates,
    seeds_needed,
    separated,
)

Z95 = stats.norm.ppf(0.975)


# ----------------------------------------------------------------------------- item resamples
def test_item_resamples_shape_determinism_and_strata():
    rows = item_resamples(50, 7, seed=3)
    assert rows.shape == (7, 50) and rows.dtype == np.int64
    assert rows.min() >= 0 and rows.max() < 50
    assert np.array_equal(rows, item_resamples(50, 7, seed=3))
    assert not np.array_equal(rows, item_resamples(50, 7, seed=4))
    labels = np.array([0] * 5 + [1] * 30 + [2] * 15)
    np.random.default_rng(0).shuffle(labels)
    strat = item_resamples(50, 200, seed=0, strata=labels)
    assert (labels[strat] == labels).all()  # every resample keeps the class of each position
    assert len(np.unique(strat)) > 40  # and really resamples
    with pytest.raises(ValueError, match="strata must have shape"):
        item_resamples(50, 3, seed=0, strata=labels[:10])
    with pytest.raises(ValueError, match="positive integers"):
        item_resamples(0, 3, seed=0)


def test_replicates_applies_the_metric_on_each_resample():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    rows = item_resamples(6, 5, seed=1, strata=y)
    got = replicates(roc_auc_score, rows, y, s)
    assert got.shape == (5,)
    assert got == pytest.approx([roc_auc_score(y[r], s[r]) for r in rows])
    with pytest.raises(ValueError, match="one per item"):
        replicates(roc_auc_score, rows, y[:4], s)


# ----------------------------------------------------------------------------- two-level bootstrap
def _synthetic(rng, n_seeds, B, mu=0.8, sd_seed=0.02, sd_item=0.01):
    """Full-test metric = truth + seed effect + test-set effect (shared by the seeds); the replicate
    columns add one resample effect per column, the same for every seed (common random numbers)."""
    m = mu + rng.normal(0, sd_seed, n_seeds) + rng.normal(0, sd_item)
    return m, m[:, None] + rng.normal(0, sd_item, B)[None, :]


def test_hierarchical_ci_width_matches_the_normal_approximation():
    rng = np.random.default_rng(0)
    n, sd_seed, sd_item = 16, 0.02, 0.01
    widths, seed_only = [], []
    for rep in range(20):
        m, r = _synthetic(rng, n, 400, sd_seed=sd_seed, sd_item=sd_item)
        ci = hierarchical_ci(m, r, n_boot=2000, rng_seed=rep, bounds=(0, 1))
        assert ci.point == pytest.approx(m.mean()) and ci.lo < ci.point < ci.hi
        widths.append(ci.hi - ci.lo)
        s = hierarchical_ci(m, n_boot=2000, rng_seed=rep)
        seed_only.append(s.hi - s.lo)
    # the percentile bootstrap of a mean of n draws has variance (n - 1) / n * s^2 / n
    analytic = 2 * Z95 * np.sqrt((n - 1) / n * sd_seed**2 / n + sd_item**2)
    assert np.mean(widths) == pytest.approx(analytic, rel=0.15)
    assert np.mean(seed_only) == pytest.approx(2 * Z95 * np.sqrt((n - 1) / n) * sd_seed / np.sqrt(n), rel=0.15)


def test_hierarchical_ci_covers_the_truth():
    rng = np.random.default_rng(7)
    hits = 0
    for rep in range(100):
        m, r = _synthetic(rng, 20, 100)
        ci = hierarchical_ci(m, r, level=0.95, n_boot=1000, rng_seed=rep)
        hits += ci.lo <= 0.8 <= ci.hi
    assert hits >= 90


def test_hierarchical_ci_checks_inputs_and_bounds():
    m = np.array([0.97, 0.99, 1.0])
    r = np.clip(m[:, None] + np.linspace(-0.03, 0.03, 9)[None, :], 0, 1)
    ci = hierarchical_ci(m, r, bounds=(0.0, 1.0))
    assert 0 <= ci.lo <= ci.point <= ci.hi <= 1
    assert hierarchical_ci(m, r, rng_seed=5) == hierarchical_ci(m, r, rng_seed=5)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        hierarchical_ci([0.9], [[0.9, 0.91]])
    with pytest.raises(ValueError, match="bounds"):
        hierarchical_ci([0.9, 1.2], bounds=(0, 1))
    with pytest.raises(ValueError, match=r"must be \(3, B\)"):
        hierarchical_ci(m, r[:2])
    with pytest.raises(ValueError, match="finite"):
        hierarchical_ci([0.9, float("nan")])


# ----------------------------------------------------------------------------- paired comparison
def test_paired_difference_detects_a_planted_effect_and_not_a_null():
    rng = np.random.default_rng(11)
    seeds = range(10)
    base = {s: 0.80 + rng.normal(0, 0.02) for s in seeds}       # seed effect shared by both models
    better = {s: base[s] + 0.02 + rng.normal(0, 0.005) for s in seeds}
    hit = paired_difference(better, base)
    assert hit.diff == pytest.approx(np.mean([better[s] - base[s] for s in seeds]))
    assert hit.p_value < 1e-4 and hit.lo > 0 and hit.n_seeds == 10
    assert hit.p_value == pytest.approx(stats.ttest_rel([better[s] for s in seeds], [base[s] for s in seeds]).pvalue)
    assert paired_difference(better, base, test="wilcoxon").p_value == pytest.approx(2 / 2**10)  # exact, all positive
    # 1000 nulls (no planted effect): each test rejects about 5 % of them (binomial sd 0.7 %), and the
    # seed-only percentile interval covers 0 about 90 % of the time (10 seeds: it uses z for t_9 and
    # (n - 1) / n of the variance; P(|t_9| < 1.96 sqrt(0.9)) = 0.90)
    rejected, covered = {"t": 0, "wilcoxon": 0}, 0
    for _ in range(1000):
        same = {s: base[s] + rng.normal(0, 0.005) for s in seeds}
        for test in rejected:
            null = paired_difference(same, base, test=test, n_boot=500)
            rejected[test] += null.p_value < 0.05
        covered += null.lo < 0 < null.hi
    assert all(25 <= r <= 80 for r in rejected.values()), rejected
    assert covered >= 860, covered


def test_paired_difference_pairs_replicate_columns():
    """The test-set noise (a large effect shared by both models on each resample) cancels in the
    paired difference, while the single-model intervals overlap."""
    rng = np.random.default_rng(3)
    seeds, B = range(8), 200
    shared = rng.normal(0, 0.05, B)                               # the same resamples for every run
    a = {s: 0.85 + rng.normal(0, 0.003) for s in seeds}
    b = {s: 0.84 + rng.normal(0, 0.003) for s in seeds}
    ra = {s: a[s] + shared + rng.normal(0, 0.002, B) for s in seeds}
    rb = {s: b[s] + shared + rng.normal(0, 0.002, B) for s in seeds}
    ci_a = hierarchical_ci([a[s] for s in seeds], [ra[s] for s in seeds])
    ci_b = hierarchical_ci([b[s] for s in seeds], [rb[s] for s in seeds])
    assert ci_a.lo < ci_b.hi  # separately, the two models cannot be told apart
    d = paired_difference(a, b, ra, rb, bounds=(-1, 1))
    assert 0 < d.lo < d.diff < d.hi and d.hi - d.lo < 0.01
    with pytest.raises(ValueError, match="both models or for neither"):
        paired_difference(a, b, ra, None)
    with pytest.raises(ValueError, match="same B"):
        paired_difference(a, b, ra, {s: v[:100] for s, v in rb.items()})


def test_a_difference_the_test_items_do_not_support_is_not_separated():
    """40 real images: every seed of a beats b on THESE items (t-test p ~ 1e-12), but the items' own
    sampling (each model errs on other items: resample noise not shared) swamps the 0.05 difference,
    so the p-value, the larger of the seed test's and the two-level bootstrap's, does not reject; a
    difference of 0.3 on the same items does."""
    rng = np.random.default_rng(5)
    seeds, B = range(10), 400
    item_a, item_b = rng.normal(0, 0.06, B), rng.normal(0, 0.06, B)  # per resample, shared by a model's seeds
    a = {s: 0.85 + rng.normal(0, 0.003) for s in seeds}
    b = {s: 0.80 + rng.normal(0, 0.003) for s in seeds}
    ra = {s: a[s] + item_a for s in seeds}
    rb = {s: b[s] + item_b for s in seeds}
    d = paired_difference(a, b, ra, rb, bounds=(-1, 1))
    assert d.p_seeds < 1e-8 and d.lo < 0 < d.hi
    assert d.p_bootstrap > 0.05 and d.p_value == d.p_bootstrap
    big = paired_difference({s: v + 0.25 for s, v in a.items()}, b, {s: v + 0.25 for s, v in ra.items()}, rb,
                            bounds=(-1, 1))
    assert big.lo > 0 and big.p_value < 0.01 and big.p_value == max(big.p_seeds, big.p_bootstrap)
    # the bootstrap p-value is the interval's: its (1 - p) interval just reaches 0
    draws = np.array([-1.0] * 30 + [1.0] * 970)
    assert bootstrap_p(draws) == pytest.approx(61 / 1001) and bootstrap_p(np.zeros(50)) == 1.0
    assert bootstrap_p(np.ones(999)) == pytest.approx(1 / 1000)


def test_paired_difference_uses_common_seeds_and_refuses_fewer_than_two():
    a = {0: 0.7, 1: 0.8, 2: 0.75, 5: 0.9}
    b = {1: 0.7, 2: 0.72, 3: 0.6, 5: 0.85}
    d = paired_difference(a, b)
    assert d.seeds == (1, 2, 5) and d.n_seeds == 3
    assert d.diff == pytest.approx(np.mean([0.1, 0.03, 0.05]))
    with pytest.raises(ValueError, match="at least 2 common seeds"):
        paired_difference({0: 0.7, 1: 0.8}, {1: 0.7, 2: 0.6})
    with pytest.raises(ValueError, match="test must be"):
        paired_difference(a, b, test="z")
    assert paired_difference({0: 0.5, 1: 0.6}, {0: 0.5, 1: 0.6}).p_value == 1.0  # identical: no evidence


# ----------------------------------------------------------------------------- Holm, planning
def test_holm_textbook_examples():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, max(1 x 0.04, previous)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])  # monotone
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # clipped to 1
    assert holm([]).shape == (0,)
    adj = holm([0.01, 0.04, 0.03, 0.005])
    assert [separated(p) for p in adj] == [True, False, False, True]
    assert separated(0.05) and not separated(0.0501)
    with pytest.raises(ValueError, match="p-values in"):
        holm([0.2, 1.5])


def test_seeds_needed_matches_a_paired_t_test_power_calculation():
    # sd 0.027, effect 0.02 (d = 0.74): the noncentral t gives power 0.791 at 16 and 0.818 at 17 seeds
    # (the normal approximation ((z_0.975 + z_0.8) / d)^2 = 14.3 is optimistic)
    assert seeds_needed(0.027, 0.02) == 17
    assert seeds_needed(0.027, -0.02) == 17
    assert seeds_needed(0.027, 0.02, n_comparisons=6) > 17
    assert seeds_needed(0.01, 1.0) == 2
    assert seeds_needed(0.027, 0.01) > seeds_needed(0.027, 0.02)
    # Monte Carlo: a paired t-test on 17 seeds rejects about 82 % of the time
    rng = np.random.default_rng(0)
    d = rng.normal(0.02, 0.027, size=(20000, 17))
    assert (stats.ttest_1samp(d, 0.0, axis=1).pvalue < 0.05).mean() == pytest.approx(0.818, abs=0.015)
    with pytest.raises(ValueError, match="sd > 0"):
        seeds_needed(0.0, 0.02)


# ----------------------------------------------------------------------------- AUC from logits
def test_auc_from_logits_has_no_saturation_ties():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    gap = np.array([18.0, 25.0, 30.0, 35.0, 20.0, 28.0, 40.0, 45.0])  # z1 - z0, all beyond float32 softmax
    logits = np.stack([np.zeros(8), gap], axis=1)
    p32 = torch.softmax(torch.tensor(logits, dtype=torch.float32), dim=1).numpy()
    assert (p32[:, 1] == 1.0).all()  # float32 rounds every p1 to 1: all tied
    macro, (auc0, auc1) = auc_from_logits(y, logits)
    assert auc0 == auc1 == macro == pytest.approx(roc_auc_score(y, gap))
    assert roc_auc_score(y, p32[:, 1]) == 0.5 != auc1  # the tied float32 probabilities lose the ranking
    assert auc_from_logits(y, logits - 7.0)[0] == macro  # shift invariant (log-softmax inputs too)


def test_auc_from_logits_multiclass_equals_sklearn():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1, 2], 30)
    z = rng.normal(0, 1, (90, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    macro, per_class = auc_from_logits(y, z)
    assert macro == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert per_class == pytest.approx([roc_auc_score(y == c, p[:, c]) for c in range(3)])
    with pytest.raises(ValueError, match="every class present"):
        auc_from_logits(np.zeros(90, dtype=int), z)
    with pytest.raises(ValueError, match="integer labels"):
        auc_from_logits(y.astype(float), z)


# ----------------------------------------------------------------------------- protocol v2 in a run
def test_one_implementation_of_the_resampling_helpers():
    from lensbench import resampling
    from lensbench.board import significance

    for name in ("item_resamples", "replicates", "auc_from_logits"):
        assert getattr(significance, name) is getattr(resampling, name)


def test_a_toy_run_stores_item_replicates_on_the_shared_resamples(toy_bench):
    from lensbench import records, registry, resampling
    from lensbench.run import runner

    spec = registry.models.get("toy-cnn")
    for task_id in ("test/classification", "test/regression"):
        task = registry.tasks.get(task_id)
        rec = runner.run(task, spec, 0, toy_bench)
        assert rec.status == "ok", rec.error
        boot = records.read_record(records.record_path(toy_bench.results_dir, rec)).bootstrap
        assert boot["seed"] == resampling.RESAMPLE_SEED and boot["n"] == resampling.N_RESAMPLES == 200
        reps = np.asarray(boot["metrics"][task.primary_metric])
        point = rec.metrics_test[task.primary_metric]
        assert reps.shape == (200,) and np.isfinite(reps).all() and reps.std() > 0
        assert reps.mean() == pytest.approx(point, abs=0.01)  # the bootstrap mean is nearly unbiased
        if task.kind == "classification":  # every AUC, from the logits: the two binary AUCs are equal
            assert set(boot["metrics"]) == {"auc_macro", "auc_no_sub", "auc_cdm"}
            assert boot["metrics"]["auc_no_sub"] == boot["metrics"]["auc_cdm"]
            assert rec.metrics_test["auc_no_sub"] == rec.metrics_test["auc_cdm"] == point
