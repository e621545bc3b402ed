"""ε lower bounds: exact literature values, validity on synthetic mechanisms with a known ε, and their properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats

from privaudit.pipeline import check_membership_randomized
from privaudit.exceptions import DataError
from privaudit.metrics import evaluate_scores
from privaudit.metrics.epsilon import (
    audit_epsilon,
    clopper_pearson_upper,
    epsilon_from_error_counts,
    epsilon_lower_bound,
    epsilon_lower_bound_at_threshold,
    one_run_epsilon,
    one_run_guesses,
    one_run_lower_bound,
    one_run_p_value,
)

DELTA = 1e-5


def gaussian_dp_epsilon(mu: float, delta: float) -> float:
    """Exact ε(δ) of a μ-GDP mechanism (Dong, Roth & Su 2019, Cor. 2.13): δ = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2)."""
    def excess(eps):
        return stats.norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * stats.norm.cdf(-eps / mu - mu / 2) - delta
    return optimize.brentq(excess, 0.0, 100.0)


# ---------------------------------------------------------------- exact values


def test_zero_errors_in_1000_plus_1000_gives_5_60_with_bonferroni_split():
    # the documented convention: 5 % miss split equally, one-sided 97.5 % Clopper–Pearson per rate
    upper = 1 - 0.025 ** (1 / 1000)
    assert clopper_pearson_upper(0, 1000, 0.975) == pytest.approx(upper, rel=1e-12)
    expected = math.log((1 - DELTA - upper) / upper)
    value = epsilon_from_error_counts(0, 1000, 0, 1000, delta=DELTA, confidence=0.95)
    assert value == pytest.approx(expected, rel=1e-12)
    assert round(value, 2) == 5.60
    # without the split (95 % per rate) the figure would be 5.81, i.e. the bound would overclaim
    assert round(math.log((1 - DELTA - (1 - 0.05 ** (1 / 1000))) / (1 - 0.05 ** (1 / 1000))), 2) == 5.81


def test_zero_error_case_through_the_score_functions():
    members, nonmembers = np.full(2000, 3.0), np.zeros(2000)
    fixed = epsilon_lower_bound_at_threshold(members[:1000], nonmembers[:1000], 1.0, delta=DELTA)
    assert (fixed.false_positives, fixed.false_negatives, fixed.threshold_selection) == (0, 0, "fixed")
    assert round(fixed.epsilon_lb, 2) == 5.60 and math.isfinite(fixed.epsilon_lb)
    split = epsilon_lower_bound(members, nonmembers, delta=DELTA, seed=3)
    assert (split.n_members, split.n_nonmembers, split.n_members_selection) == (1000, 1000, 1000)
    assert split.epsilon_lb == pytest.approx(fixed.epsilon_lb, rel=1e-12)


def test_clopper_pearson_upper_matches_its_definition():
    for k, n in [(0, 10), (3, 10), (37, 400), (400, 400)]:
        upper = clopper_pearson_upper(k, n, 0.95)
        if k < n:  # P(Binomial(n, upper) ≤ k) = 5 %
            assert stats.binom.cdf(k, n, upper) == pytest.approx(0.05, rel=1e-6)
        else:
            assert upper == 1.0


@pytest.mark.parametrize(("r", "rounded"), [(100, 3.49), (1000, 5.81)])
def test_one_run_perfect_guesses_match_steinke_et_al(r, rounded):
    # δ = 0: p-value = q^r with q = e^ε/(e^ε+1), so the bound is logit(0.05^(1/r))
    expected = special.logit(0.05 ** (1 / r))
    value = one_run_epsilon(r, r, r, delta=0.0, significance=0.05)
    assert value == pytest.approx(expected, abs=1e-7)
    assert round(value, 2) == rounded


def test_one_run_p_value_matches_the_theorem_written_out():
    def by_hand(m, r, v, eps, delta):
        q = math.exp(eps) / (math.exp(eps) + 1)
        f = lambda w: sum(math.comb(r, j) * q**j * (1 - q) ** (r - j) for j in range(max(w, 0), r + 1))  # noqa: E731
        alpha = max((f(v - i) - f(v)) / i for i in range(1, m + 1))
        return min(f(v) + 2 * m * delta * alpha, 1.0)

    for m, r, v, eps, delta in [(60, 40, 33, 1.0, 1e-3), (60, 40, 40, 2.5, 1e-4), (30, 30, 20, 0.3, 1e-2), (50, 20, 18, 1.5, 0.0)]:
        assert one_run_p_value(m, r, v, eps, delta) == pytest.approx(by_hand(m, r, v, eps, delta), rel=1e-9, abs=1e-15)


def test_one_run_epsilon_is_where_the_p_value_reaches_the_significance():
    eps = one_run_epsilon(2000, 500, 430, delta=DELTA, significance=0.05)
    assert eps > 0
    assert one_run_p_value(2000, 500, 430, eps, DELTA) == pytest.approx(0.05, rel=1e-6)
    assert one_run_p_value(2000, 500, 430, eps * 1.01, DELTA) > 0.05
    assert one_run_epsilon(2000, 500, 430, delta=0.0, significance=0.05) > eps  # δ > 0 weakens the bound
    assert one_run_epsilon(2000, 500, 250, delta=DELTA) == 0.0  # chance accuracy rejects nothing


# ---------------------------------------------------------------- properties


def test_bound_is_monotone_in_errors_and_never_negative():
    n = 60
    fp, fn = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    eps = epsilon_from_error_counts(fp, n, fn, n, delta=DELTA)
    assert (eps >= 0).all() and np.isfinite(eps).all()
    assert (np.diff(eps, axis=0) <= 1e-12).all()  # more false positives: never a larger bound
    assert (np.diff(eps, axis=1) <= 1e-12).all()  # more false negatives: never a larger bound
    assert eps[0, 0] > eps[5, 5] > 0 and eps[n // 2, n // 2] == 0


@settings(max_examples=40, deadline=None)
@given(
    members=st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=40),
    nonmembers=st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=40),
    delta=st.sampled_from([0.0, 1e-5, 0.01]),
    seed=st.integers(0, 10),
)
def test_bound_is_finite_and_never_negative_on_any_scores(members, nonmembers, delta, seed):
    bound = epsilon_lower_bound(members, nonmembers, delta=delta, seed=seed)
    assert 0 <= bound.epsilon_lb < math.inf
    assert bound.n_members + bound.n_members_selection == len(members)
    assert bound.fpr <= bound.fpr_upper and bound.fnr <= bound.fnr_upper


def _iid_alarm_rate(confidence: float, split: bool, seeds: int = 200) -> float:
    alarms = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        bound = epsilon_lower_bound(rng.normal(size=100), rng.normal(size=100), delta=DELTA, confidence=confidence, seed=seed, split=split)
        alarms += bound.epsilon_lb > 0
    return alarms / seeds


def _allowed_alarm_rate(confidence: float, seeds: int = 200) -> float:
    miss = 1 - confidence
    return miss + 3 * math.sqrt(miss * (1 - miss) / seeds)


@pytest.mark.parametrize("confidence", [0.95, 0.6])
def test_iid_scores_rarely_give_a_positive_bound(confidence):
    """With no leakage, "ε_lb > 0" is a false alarm: it may happen in at most 1 − confidence of seeds (+ sampling error)."""
    assert _iid_alarm_rate(confidence, split=True) <= _allowed_alarm_rate(confidence)


def test_choosing_the_threshold_on_the_same_records_would_break_the_level():
    """Why the split exists: picking the best threshold on the evaluated records raises false alarms past the level."""
    assert _iid_alarm_rate(0.6, split=False) > _allowed_alarm_rate(0.6)


def test_iid_scores_with_coin_flips_rarely_give_a_positive_one_run_bound():
    seeds = 200
    alarms = 0
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        alarms += one_run_lower_bound(rng.normal(size=200), rng.random(200) < 0.5, delta=DELTA, seed=seed).epsilon_lb > 0
    assert alarms / seeds <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / seeds)


def test_tuning_the_number_of_guesses_on_the_outcome_would_break_the_level():
    """Why the guess sets are fixed (Bonferroni over a few): taking the best of 50 guess counts without correction over-rejects."""
    seeds, alarms = 100, 0
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        scores, truth = rng.normal(size=200), np.where(rng.random(200) < 0.5, 1, -1)
        best = max(one_run_epsilon(200, k, int((one_run_guesses(scores, k, 0, seed=seed) == truth).sum()), delta=DELTA, significance=0.05)
                   for k in range(2, 101, 2))
        alarms += best > 0
    assert alarms / seeds > _allowed_alarm_rate(0.95, seeds)


@pytest.mark.parametrize("mu", [1.0, 3.0])
def test_bounds_never_exceed_the_true_epsilon_of_a_gaussian_mechanism(mu):
    """Scores N(μ, 1) for members and N(0, 1) for non-members are a μ-GDP mechanism with a known ε(δ)."""
    true_eps = gaussian_dp_epsilon(mu, DELTA)
    for seed in range(10):
        rng = np.random.default_rng(seed)
        roc = epsilon_lower_bound(rng.normal(mu, 1, 3000), rng.normal(0, 1, 3000), delta=DELTA, seed=seed)
        assert 0 < roc.epsilon_lb <= true_eps, (seed, roc.epsilon_lb, true_eps)
        # one run: every record's membership by coin flip, its score released through the same μ-GDP mechanism
        is_member = rng.random(4000) < 0.5
        scores = rng.normal(0, 1, 4000) + mu * is_member
        one_run = one_run_lower_bound(scores, is_member, delta=DELTA, seed=seed)
        assert 0 < one_run.epsilon_lb <= true_eps, (seed, one_run.epsilon_lb, true_eps)


def test_threshold_is_chosen_without_the_records_of_the_bound():
    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(1, 1, 401), rng.normal(0, 1, 301)
    bound = epsilon_lower_bound(members, nonmembers, delta=DELTA, seed=7)
    assert (bound.n_members_selection, bound.n_members, bound.n_nonmembers_selection, bound.n_nonmembers) == (200, 201, 150, 151)
    # recomputing the bound at the chosen threshold on the held-out halves gives the same figure
    perm_m = np.random.default_rng(7).permutation(401)
    perm_n = np.random.default_rng(7)
    perm_n.permutation(401)
    held_m = members[perm_m][200:]
    held_n = nonmembers[perm_n.permutation(301)][150:]
    again = epsilon_lower_bound_at_threshold(held_m, held_n, bound.threshold, delta=DELTA)
    assert again.epsilon_lb == pytest.approx(bound.epsilon_lb)
    same = epsilon_lower_bound(members, nonmembers, delta=DELTA, split=False)
    assert same.threshold_selection == "same records" and same.n_members == 401


def test_one_run_guesses_break_ties_at_random_not_by_position():
    scores = np.zeros(1000)  # all tied; positions 0..499 would be the members in an audit's order
    guesses = one_run_guesses(scores, 100, 50, seed=0)
    assert (guesses == 1).sum() == 100 and (guesses == -1).sum() == 50
    assert (guesses[:100] == 1).sum() < 30  # position order would put all 100 there
    ordered = one_run_guesses(np.arange(10.0), 3, 2)
    assert ordered.tolist() == [-1, -1, 0, 0, 0, 0, 0, 1, 1, 1]


def test_one_run_bound_with_perfect_scores_and_one_guess_set():
    is_member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    bound = one_run_lower_bound(is_member.astype(float), is_member, guess_counts=[(500, 500)], delta=0.0)
    assert (bound.n_guesses, bound.n_correct, bound.n_guess_sets) == (1000, 1000, 1)
    assert bound.epsilon_lb == pytest.approx(special.logit(0.05 ** (1 / 1000)), abs=1e-7)
    several = one_run_lower_bound(is_member.astype(float), is_member, guess_counts=[(500, 500), (100, 0)], delta=0.0)
    assert several.epsilon_lb == pytest.approx(special.logit(0.025 ** (1 / 1000)), abs=1e-7)  # Bonferroni: 0.05 / 2


# ---------------------------------------------------------------- audit entry


def test_audit_entry_is_labelled_by_how_membership_was_decided():
    rng = np.random.default_rng(0)
    is_member = rng.random(3000) < 0.5
    scores = rng.normal(0, 1, 3000) + 1.5 * is_member
    heuristic = audit_epsilon(scores, is_member, delta=DELTA)
    assert (heuristic.label, heuristic.valid, heuristic.method, heuristic.one_run) == ("heuristic estimate", False, "roc_split", None)
    assert heuristic.epsilon_lb == heuristic.roc.epsilon_lb > 0
    valid = audit_epsilon(scores, is_member, delta=DELTA, membership_randomized=True)
    assert (valid.label, valid.valid, valid.method) == ("lower bound", True, "one_run")
    assert valid.epsilon_lb == valid.one_run.epsilon_lb > 0
    d = valid.to_dict()
    assert d["epsilon_lb"] == valid.epsilon_lb and d["one_run"]["m"] == 3000 and d["roc"]["threshold_selection"] == "split"


def test_evaluate_scores_carries_the_entry_and_can_skip_it():
    rng = np.random.default_rng(1)
    scores, is_member = rng.normal(size=400), np.r_[np.ones(200, bool), np.zeros(200, bool)]
    metrics = evaluate_scores(scores, is_member, n_bootstrap=50, delta=1e-3)
    assert metrics.epsilon_lower_bound.delta == 1e-3
    assert metrics.to_dict()["epsilon_lower_bound"]["label"] == "heuristic estimate"
    assert evaluate_scores(scores, is_member, n_bootstrap=50, delta=None).to_dict()["epsilon_lower_bound"] is None


def test_declared_coin_flips_must_look_like_coin_flips():
    check_membership_randomized(np.random.default_rng(0).random(5000) < 0.5)  # plausible: no error
    with pytest.raises(DataError, match="randomized.*1,000 members among 11,000"):
        check_membership_randomized(np.r_[np.ones(1000, bool), np.zeros(10000, bool)], "records.csv")


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="delta"):
        epsilon_lower_bound([1.0, 2.0], [0.0, 1.0], delta=1.5)
    with pytest.raises(ValueError, match="confidence"):
        epsilon_from_error_counts(0, 10, 0, 10, confidence=1.0)
    with pytest.raises(DataError, match="NaN"):
        epsilon_lower_bound([1.0, float("nan")], [0.0, 1.0])
    with pytest.raises(DataError, match="at least 2"):
        epsilon_lower_bound([1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="k_positive"):
        one_run_guesses([1.0, 2.0], 2, 1)


# ---------------------------------------------------------------- issue 12: selection over attacks, low-FPR heuristic


def _labels_only_corner(seed: int = 0):
    """Correctness scores whose only informative corner is FNR ≈ 0.5 % at FPR ≈ 81 % (the issue's labels-only case)."""
    rng = np.random.default_rng(seed)
    is_member = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    correct = np.where(is_member, rng.random(2000) < 0.995, rng.random(2000) < 0.81).astype(float)
    return correct, is_member


def test_heuristic_epsilon_ignores_the_high_fpr_corner():
    """Issue 12: a labels-only attack got "ε ≥ 3" from FNR 0.5 % at FPR 81 %; from the low-FPR region it gets 0."""
    scores, is_member = _labels_only_corner()
    whole_roc = epsilon_lower_bound(scores[is_member], scores[~is_member], delta=DELTA, seed=0)
    assert whole_roc.epsilon_lb > 2 and whole_roc.direction == "fnr"  # the old figure, for contrast
    entry = audit_epsilon(scores, is_member, delta=DELTA)
    assert entry.epsilon_lb == 0.0
    assert entry.roc.max_fpr == 0.1 and entry.to_dict()["roc"]["max_fpr"] == 0.1


def test_heuristic_epsilon_follows_leakage_at_low_fpr():
    """A minority of members far above every non-member (leakage at low FPR) still gives a positive heuristic; it uses the FPR side."""
    rng = np.random.default_rng(3)
    members = np.r_[rng.normal(size=900), rng.normal(8.0, 0.1, 100)]
    nonmembers = rng.normal(size=1000)
    bound = epsilon_lower_bound(members, nonmembers, delta=DELTA, seed=0, max_fpr=0.01)
    assert bound.epsilon_lb > 0.5 and bound.direction == "fpr" and bound.fpr <= 0.02
    # by hand: the bound is ln((1 − δ − FNR⁺)/FPR⁺) at its own counts
    expected = math.log(1 - DELTA - bound.fnr_upper) - math.log(bound.fpr_upper)
    assert bound.epsilon_lb == pytest.approx(max(expected, 0.0))


def test_evaluate_scores_takes_the_heuristic_region_from_its_fprs():
    scores, is_member = _labels_only_corner(1)
    d = evaluate_scores(scores, is_member, fprs=(0.05, 0.01), n_bootstrap=20).to_dict()["epsilon_lower_bound"]
    assert d["roc"]["max_fpr"] == 0.05 and d["epsilon_lb"] == 0.0
    assert d["correction"].startswith("heuristic") and d["n_candidates"] == 1


def test_one_run_bound_is_corrected_for_the_attacks_compared():
    """Bonferroni over G guess sets × K attacks: each set tested at (1 − confidence)/(G·K), recorded in the bound."""
    rng = np.random.default_rng(5)
    is_member = rng.random(400) < 0.5
    scores = is_member * 2.0 + rng.normal(size=400)
    alone = one_run_lower_bound(scores, is_member, delta=DELTA)
    corrected = one_run_lower_bound(scores, is_member, delta=DELTA, n_candidates=8)
    assert corrected.n_candidates == 8 and alone.n_candidates == 1
    assert corrected.significance == pytest.approx(0.05 / (corrected.n_guess_sets * 8))
    assert 0 < corrected.epsilon_lb < alone.epsilon_lb
    assert corrected.epsilon_lb == pytest.approx(
        one_run_epsilon(400, corrected.n_guesses, corrected.n_correct, delta=DELTA, significance=corrected.significance))
    assert "8 attacks" in corrected.correction and f"{corrected.n_guess_sets} guess sets" in corrected.correction


def test_evaluate_scores_records_the_correction_over_attacks():
    rng = np.random.default_rng(6)
    is_member = rng.random(300) < 0.5
    scores = is_member * 1.5 + rng.normal(size=300)
    d = evaluate_scores(scores, is_member, n_bootstrap=20, delta=DELTA, membership_randomized=True,
                        n_epsilon_candidates=6).to_dict()["epsilon_lower_bound"]
    assert d["valid"] and d["n_candidates"] == 6 and d["one_run"]["n_candidates"] == 6
    assert "6 attacks" in d["correction"]


def test_max_over_attacks_needs_the_correction():
    """Null, 8 independent attacks on coin-flipped membership: the largest uncorrected bound is positive far more often than 5 %."""
    runs, raw, corrected = 60, 0, 0
    for run in range(runs):
        rng = np.random.default_rng(7000 + run)
        is_member = rng.random(200) < 0.5
        attacks = rng.normal(size=(8, 200))
        raw += max(one_run_lower_bound(a, is_member, delta=DELTA, seed=run).epsilon_lb for a in attacks) > 0
        corrected += max(one_run_lower_bound(a, is_member, delta=DELTA, seed=run, n_candidates=8).epsilon_lb for a in attacks) > 0
    assert corrected <= raw
    assert corrected / runs <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs)
