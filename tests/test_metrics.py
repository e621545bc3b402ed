"""ROC, AUC, TPR at fixed FPR, Clopper–Pearson and bootstrap intervals, evaluate_scores."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from privaudit.exceptions import DataError
from privaudit.metrics import (
    MIN_EXPECTED_FALSE_POSITIVES,
    bootstrap_auc,
    clopper_pearson,
    evaluate_scores,
    max_advantage,
    roc_auc,
    roc_curve,
    tpr_at_fpr,
)


@st.composite
def tied_scores(draw, max_size=40):
    """Integer-valued scores (many ties) with both members and non-members."""
    n = draw(st.integers(2, max_size))
    scores = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    member = draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda m: 0 < sum(m) < len(m)))
    return np.array(scores, dtype=float), np.array(member)


def _mann_whitney(scores, member):
    m, n = scores[member], scores[~member]
    diff = m[:, None] - n[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


# --- ROC and AUC -----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(tied_scores())
def test_roc_curve_matches_sklearn(case):
    scores, member = case
    fpr, tpr, thresholds = roc_curve(scores, member)
    sk_fpr, sk_tpr, sk_thresholds = skm.roc_curve(member, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(thresholds, sk_thresholds)


@settings(max_examples=150, deadline=None)
@given(tied_scores())
def test_roc_auc_matches_sklearn_and_mann_whitney(case):
    scores, member = case
    auc = roc_auc(scores, member)
    assert auc == pytest.approx(skm.roc_auc_score(member, scores), abs=1e-12)
    assert auc == pytest.approx(_mann_whitney(scores, member), abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_roc_auc_matches_sklearn_on_continuous_scores(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    member = rng.random(n) < 0.4
    member[:2] = [True, False]
    scores = rng.normal(size=n) + member
    assert roc_auc(scores, member) == pytest.approx(skm.roc_auc_score(member, scores), abs=1e-12)


@pytest.mark.parametrize(
    "scores, member, expected",
    [
        ([4, 3, 2, 1], [1, 1, 0, 0], 1.0),  # perfect separation
        ([1, 2, 3, 4], [1, 1, 0, 0], 0.0),  # reversed
        ([7, 7, 7, 7, 7], [1, 0, 1, 0, 0], 0.5),  # all tied
        ([0.9, 0.6, 0.4, 0.7, 0.5, 0.2], [1, 1, 1, 0, 0, 0], 6 / 9),  # 3 + 3: 3 + 2 + 1 wins of 9
        ([0.9, 0.5, 0.4, 0.7, 0.5, 0.2], [1, 1, 1, 0, 0, 0], 5.5 / 9),  # one member/non-member tie
        ([np.inf, np.inf, 0.0, 0.0], [1, 0, 1, 0], 0.5),  # tied infinite scores are ties too
        ([np.inf, -np.inf, 1.0, 0.0], [1, 0, 1, 0], 1.0),
    ],
)
def test_auc_hand_cases(scores, member, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert roc_auc(scores, np.array(member, dtype=bool)) == pytest.approx(expected, abs=1e-15)


def test_roc_curve_hand_case():
    # sorted: .9 m, .7 n, .6 m, .5 n, .4 m, .2 n
    fpr, tpr, thresholds = roc_curve([0.9, 0.6, 0.4, 0.7, 0.5, 0.2], [1, 1, 1, 0, 0, 0])
    third = 1 / 3
    np.testing.assert_allclose(fpr, [0, 0, third, third, 2 * third, 2 * third, 1])
    np.testing.assert_allclose(tpr, [0, third, third, 2 * third, 2 * third, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.7, 0.6, 0.5, 0.4, 0.2])


def test_tied_scores_enter_the_roc_together():
    fpr, tpr, thresholds = roc_curve([1, 1, 1, 0], [1, 0, 0, 1])
    np.testing.assert_allclose(fpr, [0, 1, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 1, 0])


def test_accepts_zero_one_membership_and_refuses_others():
    assert roc_auc([2, 1], [1, 0]) == 1.0
    with pytest.raises(DataError, match="boolean or 0/1"):
        roc_auc([2, 1, 0], [1, 2, 0])


@pytest.mark.parametrize(
    "scores, member, match",
    [
        ([0.1, np.nan, 0.3], [1, 0, 1], "NaN"),
        ([0.1, 0.2, 0.3], [1, 1, 1], "both members and non-members"),
        ([0.1, 0.2, 0.3], [0, 0, 0], "both members and non-members"),
        ([0.1, 0.2], [1, 0, 1], "equal length"),
        ([[0.1, 0.2]], [[1, 0]], "1-D"),
    ],
)
def test_roc_refuses_bad_input(scores, member, match):
    with pytest.raises(DataError, match=match):
        roc_curve(scores, member)


# --- TPR at fixed FPR -------------------------------------------------------------


def test_tpr_at_fpr_hand_case():
    fpr, tpr, _ = roc_curve([0.9, 0.6, 0.4, 0.7, 0.5, 0.2], [1, 1, 1, 0, 0, 0])
    assert tpr_at_fpr(fpr, tpr, 0.2) == (pytest.approx(1 / 3), 1)
    assert tpr_at_fpr(fpr, tpr, 1 / 3) == (pytest.approx(2 / 3), 3)  # a point exactly at the target counts
    assert tpr_at_fpr(fpr, tpr, 0.5) == (pytest.approx(2 / 3), 3)
    assert tpr_at_fpr(fpr, tpr, 0.7) == (pytest.approx(1.0), 5)
    assert tpr_at_fpr(fpr, tpr, 1e-9) == (pytest.approx(1 / 3), 1)


def test_tpr_at_fpr_never_interpolates_along_a_tie():
    # the tie puts (FPR 0.5, TPR 1) right after (0, 0); interpolation would claim TPR 0.5 at FPR 0.25
    fpr, tpr, _ = roc_curve([1, 1, 1, 0], [1, 1, 0, 0])
    assert tpr_at_fpr(fpr, tpr, 0.25) == (0.0, 0)
    assert tpr_at_fpr(fpr, tpr, 0.5) == (1.0, 1)


def _brute_force_tpr_at_fpr(scores, member, target):
    best = 0.0
    for t in np.r_[np.inf, np.unique(scores)]:
        flagged = scores >= t
        f = flagged[~member].mean()
        if f <= target:
            best = max(best, flagged[member].mean())
    return best


@settings(max_examples=100, deadline=None)
@given(tied_scores(), st.sampled_from([0.01, 0.1, 0.25, 0.5, 0.9]))
def test_tpr_at_fpr_matches_brute_force(case, target):
    scores, member = case
    fpr, tpr, _ = roc_curve(scores, member)
    value, index = tpr_at_fpr(fpr, tpr, target)
    assert fpr[index] <= target
    assert value == tpr[index]
    assert value == pytest.approx(_brute_force_tpr_at_fpr(scores, member, target), abs=1e-12)


# --- Clopper–Pearson --------------------------------------------------------------


def test_clopper_pearson_known_values():
    assert clopper_pearson(0, 10) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-10))
    assert clopper_pearson(10, 10) == (pytest.approx(0.025 ** (1 / 10), rel=1e-10), 1.0)
    lo, hi = clopper_pearson(5, 10)
    assert lo == pytest.approx(0.187086, abs=1e-6) and hi == pytest.approx(0.812914, abs=1e-6)
    lo, hi = clopper_pearson(0, 100, 0.9)
    assert hi == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-10)


@pytest.mark.parametrize("n", [1, 7, 30, 201])
def test_clopper_pearson_symmetry_and_binomial_tail_definition(n):
    alpha = 0.05
    for k in range(n + 1):
        lo, hi = clopper_pearson(k, n)
        mirror_lo, mirror_hi = clopper_pearson(n - k, n)
        assert lo == pytest.approx(1 - mirror_hi, abs=1e-12) and hi == pytest.approx(1 - mirror_lo, abs=1e-12)
        assert 0 <= lo <= k / n <= hi <= 1
        # defining property: P(X ≥ k | lo) = α/2 and P(X ≤ k | hi) = α/2
        if k > 0:
            assert stats.binom.sf(k - 1, n, lo) == pytest.approx(alpha / 2, rel=1e-6)
        if k < n:
            assert stats.binom.cdf(k, n, hi) == pytest.approx(alpha / 2, rel=1e-6)


@pytest.mark.parametrize("n", [5, 20, 60])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_clopper_pearson_exact_coverage_is_at_least_nominal(n, confidence):
    intervals = np.array([clopper_pearson(k, n, confidence) for k in range(n + 1)])
    pmf_k = np.arange(n + 1)
    for p in np.linspace(0.001, 0.999, 199):
        covered = (intervals[:, 0] <= p) & (p <= intervals[:, 1])
        assert stats.binom.pmf(pmf_k, n, p)[covered].sum() >= confidence - 1e-12


def test_clopper_pearson_coverage_by_simulation():
    rng = np.random.default_rng(1)
    n, trials = 40, 3000
    for p in (0.02, 0.3, 0.5):
        ks = rng.binomial(n, p, trials)
        table = [clopper_pearson(k, n) for k in range(n + 1)]
        coverage = np.mean([table[k][0] <= p <= table[k][1] for k in ks])
        assert coverage >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / trials)


@pytest.mark.parametrize("k, n", [(0, 0), (-1, 5), (6, 5)])
def test_clopper_pearson_refuses_impossible_counts(k, n):
    with pytest.raises(ValueError):
        clopper_pearson(k, n)


# --- bootstrap of the AUC ------------------------------------------------------------


def _naive_bootstrap(scores, member, n_bootstrap, seed):
    rng = np.random.default_rng(seed)
    m, nm = scores[member], scores[~member]
    out = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        rm = m[rng.integers(0, m.size, m.size)]
        rn = nm[rng.integers(0, nm.size, nm.size)]
        diff = rm[:, None] - rn[None, :]
        out[b] = ((diff > 0) + 0.5 * (diff == 0)).mean()
    return out


@pytest.mark.parametrize("tied", [False, True])
def test_bootstrap_matches_naive_resampling_in_distribution(tied):
    rng = np.random.default_rng(7)
    member = np.r_[np.ones(40, bool), np.zeros(50, bool)]
    scores = rng.normal(size=90) + 0.8 * member
    if tied:
        scores = np.round(scores)
    auc = roc_auc(scores, member)
    lower, upper, replicates = bootstrap_auc(scores, member, n_bootstrap=4000, seed=3)
    naive = _naive_bootstrap(scores, member, 4000, seed=99)
    assert replicates.shape == (4000,)
    assert np.all((replicates >= 0) & (replicates <= 1))
    assert abs(replicates.mean() - auc) < 0.01
    assert lower < auc < upper
    q = [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975]
    np.testing.assert_allclose(np.quantile(replicates, q), np.quantile(naive, q), atol=0.015)
    assert replicates.std() == pytest.approx(naive.std(), rel=0.08)
    assert (lower, upper) == tuple(np.quantile(replicates, [0.025, 0.975]))


def test_bootstrap_is_deterministic_under_seed():
    rng = np.random.default_rng(0)
    member = rng.random(60) < 0.5
    member[:2] = [True, False]
    scores = rng.normal(size=60) + member
    a = bootstrap_auc(scores, member, n_bootstrap=300, seed=5)
    b = bootstrap_auc(scores, member, n_bootstrap=300, seed=5)
    c = bootstrap_auc(scores, member, n_bootstrap=300, seed=6)
    np.testing.assert_array_equal(a[2], b[2])
    assert a[:2] == b[:2]
    assert not np.array_equal(a[2], c[2])


def test_bootstrap_of_perfect_separation_is_degenerate_at_one():
    lower, upper, replicates = bootstrap_auc([5, 4, 3, 2, 1, 0], [1, 1, 1, 0, 0, 0], n_bootstrap=200)
    assert lower == upper == 1.0 and np.all(replicates == 1.0)


def test_bootstrap_interval_narrows_with_confidence():
    rng = np.random.default_rng(2)
    member = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    scores = rng.normal(size=100) + member
    wide = bootstrap_auc(scores, member, n_bootstrap=500, confidence=0.99, seed=1)
    narrow = bootstrap_auc(scores, member, n_bootstrap=500, confidence=0.8, seed=1)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


# --- evaluate_scores -----------------------------------------------------------------


def _brute_force_advantage(scores, member):
    best = 0.0
    for t in np.r_[np.inf, np.unique(scores)]:
        flagged = scores >= t
        best = max(best, flagged[member].mean() - flagged[~member].mean())
    return best


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(11)
    member = np.r_[np.ones(300, bool), np.zeros(1000, bool)]
    scores = np.round(rng.normal(size=1300) + 0.7 * member, 1)  # ties on purpose
    return scores, member


def test_evaluate_scores_against_brute_force(scored):
    scores, member = scored
    fprs = (0.2, 0.05, 0.01, 0.005, 0.001)
    m = evaluate_scores(scores, member, fprs=fprs, n_bootstrap=200, seed=0)
    assert m.n_members == 300 and m.n_nonmembers == 1000
    assert m.auc == pytest.approx(skm.roc_auc_score(member, scores), abs=1e-12)
    assert m.auc_ci[0] < m.auc < m.auc_ci[1]
    assert m.advantage == pytest.approx(_brute_force_advantage(scores, member), abs=1e-12)
    assert m.balanced_accuracy == pytest.approx(0.5 + m.advantage / 2, abs=1e-12)
    best_balanced = max(
        0.5 * ((scores >= t)[member].mean() + (scores < t)[~member].mean()) for t in np.r_[np.inf, np.unique(scores)]
    )
    assert m.balanced_accuracy == pytest.approx(best_balanced, abs=1e-12)
    assert set(m.operating_points) == set(fprs)
    for target, op in m.operating_points.items():
        assert op.target_fpr == target
        assert op.fpr_realised <= target
        assert op.tpr == pytest.approx(_brute_force_tpr_at_fpr(scores, member, target), abs=1e-12)
        flagged = scores >= op.threshold
        assert op.true_positives == int(flagged[member].sum())
        assert op.false_positives == int(flagged[~member].sum())
        assert op.tpr == pytest.approx(op.true_positives / 300, abs=1e-12)
        assert op.fpr_realised == pytest.approx(op.false_positives / 1000, abs=1e-12)
        assert op.ci == clopper_pearson(op.true_positives, 300, 0.95)
        assert op.fpr_ci == clopper_pearson(op.false_positives, 1000, 0.95)
        assert op.ci[0] <= op.tpr <= op.ci[1]
        assert op.supported == (1000 * target >= MIN_EXPECTED_FALSE_POSITIVES)


def test_supported_flag_boundary():
    assert MIN_EXPECTED_FALSE_POSITIVES == 10
    rng = np.random.default_rng(0)
    member = np.r_[np.ones(100, bool), np.zeros(1000, bool)]
    scores = rng.normal(size=1100) + member
    m = evaluate_scores(scores, member, fprs=(0.1, 0.01, 0.0099, 0.001), n_bootstrap=50)
    assert [m.operating_points[f].supported for f in (0.1, 0.01, 0.0099, 0.001)] == [True, True, False, False]


def test_evaluate_scores_max_advantage_helper():
    fpr, tpr, _ = roc_curve([0.9, 0.6, 0.4, 0.7, 0.5, 0.2], [1, 1, 1, 0, 0, 0])
    assert max_advantage(fpr, tpr) == pytest.approx(1 / 3)


def test_evaluate_scores_unreachable_target_uses_the_infinite_threshold():
    m = evaluate_scores([1, 1, 0, 0], [1, 0, 1, 0], fprs=(0.1,), n_bootstrap=50)
    op = m.operating_points[0.1]
    assert op.tpr == 0.0 and op.threshold == np.inf and op.true_positives == 0
    d = m.to_dict()
    assert d["tpr_at_fpr"]["0.1"]["threshold"] is None
    assert d["tpr_at_fpr"]["0.1"]["ci"] == list(op.ci)


def test_evaluate_scores_is_deterministic_under_seed(scored):
    scores, member = scored
    a = evaluate_scores(scores, member, n_bootstrap=100, seed=4)
    b = evaluate_scores(scores, member, n_bootstrap=100, seed=4)
    assert a == b


@pytest.mark.parametrize(
    "scores, member",
    [([0.1, np.nan, 0.3, 0.4], [1, 0, 1, 0]), ([0.1, 0.2, 0.3], [1, 1, 1]), ([0.1, 0.2, 0.3], [False] * 3)],
)
def test_evaluate_scores_refuses_bad_input(scores, member):
    with pytest.raises(DataError):
        evaluate_scores(scores, member, n_bootstrap=50)


@pytest.mark.parametrize("target", [0.0, 1.0, -0.1, 1.5])
def test_evaluate_scores_refuses_target_fpr_outside_unit_interval(target):
    with pytest.raises(ValueError):
        evaluate_scores([1, 0], [1, 0], fprs=(target,), n_bootstrap=50)
