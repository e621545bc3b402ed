"""Issue 12, canary rows: the per-record ε bound is per record, and sampled exposure claims only what the sample shows.

A simulated mechanism with a known per-record ε stands in for training: the
Laplace mechanism y_i = (copies of canary i in the data) + Laplace(1/ε) is
ε-DP per record (each record moves one coordinate by 1), hence kε-DP for a
canary inserted ×k. A stand-in scorer turns y_i into the canary's
log-probability; candidate secrets get log-probabilities that do not depend on
any coin flip. Everything is seeded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from privaudit.exceptions import DataError
from privaudit.metrics import one_run_lower_bound
from privaudit.text.canary_audit import audit_canaries
from privaudit.text.canaries import Canary, sampled_exposure
from privaudit.text.canary_epsilon import canary_epsilon_bound, group_delta, per_record_epsilon
from privaudit.text.token_scores import TokenLogProbs

TRUE_EPSILON = 0.5
COPIES = 4


def laplace_mechanism(inserted: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-record TRUE_EPSILON-DP release of each canary's copy count (COPIES if inserted, else 0)."""
    return COPIES * inserted + rng.laplace(scale=1.0 / TRUE_EPSILON, size=inserted.size)


class MechanismScorer:
    """Answers like a language model: the canary's log-probability rises with its mechanism output; candidates are noise."""

    name = "laplace-mechanism"

    def __init__(self, canary_values: dict[str, float], seed: int) -> None:
        self.canary_values = canary_values
        self.rng = np.random.default_rng(seed)

    def token_log_probs(self, texts, *, vocab_stats: bool = False) -> TokenLogProbs:
        values = np.array([self.canary_values[t] if t in self.canary_values else -30.0 + 2.0 * self.rng.normal() for t in texts])
        return TokenLogProbs(np.minimum(values, 0.0), np.arange(len(texts) + 1), None, None)


def make_world(m: int, seed: int, mechanism=True):
    rng = np.random.default_rng(seed)
    canaries = [Canary(f"user{i:04d} PIN is ", "".join(rng.choice(list("0123456789"), 4))) for i in range(m)]
    inserted = rng.random(m) < 0.5
    if mechanism:
        values = -30.0 + 3.0 * laplace_mechanism(inserted, rng)
    else:  # a model that never saw any canary: the real secret is scored like any other
        values = -30.0 + 2.0 * rng.normal(size=m)
    scorer = MechanismScorer({c.text: float(v) for c, v in zip(canaries, values)}, seed + 1000)
    return canaries, inserted, scorer


def test_group_privacy_conversion_exact_cases():
    # δ = 0: exactly the per-canary bound divided by the group size
    group = one_run_lower_bound(np.r_[np.ones(50), np.zeros(50)], np.r_[np.ones(50, bool), np.zeros(50, bool)], guess_counts=[(50, 50)])
    assert per_record_epsilon(100, 100, 100, group_size=4, significance=0.05) == pytest.approx(group.epsilon_lb / 4, rel=1e-8)
    assert per_record_epsilon(100, 100, 100, group_size=1, significance=0.05) == pytest.approx(group.epsilon_lb, rel=1e-8)
    # δ > 0: the group's δ is k·e^{(k−1)ε}·δ, so the per-record bound is below ε_group / k
    assert group_delta(1.0, 1e-5, 4) == pytest.approx(4 * math.exp(3.0) * 1e-5)
    with_delta = per_record_epsilon(1000, 200, 190, group_size=4, delta=1e-4, significance=0.05)
    without = per_record_epsilon(1000, 200, 190, group_size=4, delta=0.0, significance=0.05)
    assert 0 < with_delta < without
    with pytest.raises(DataError):
        canary_epsilon_bound([1.0, 0.0], [True, False], group_size=0)


def test_per_record_bound_never_exceeds_the_true_epsilon_over_seeds():
    """The issue's case: 0.5-DP per record, canaries ×4. The per-canary figure exceeds 0.5 (it is a group figure); the per-record one never does."""
    per_record, per_canary = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        inserted = rng.random(1000) < 0.5
        bound = canary_epsilon_bound(laplace_mechanism(inserted, rng), inserted, group_size=COPIES, delta=0.0, seed=seed)
        per_record.append(bound.epsilon_lb)
        per_canary.append(bound.epsilon_lb_group)
        assert bound.group_size == COPIES and bound.epsilon_lb == pytest.approx(bound.epsilon_lb_group / COPIES, rel=1e-6)
    assert max(per_record) <= TRUE_EPSILON, per_record
    assert min(per_record) > 0.2               # and it still detects something
    assert max(per_canary) <= COPIES * TRUE_EPSILON
    assert sum(e > TRUE_EPSILON for e in per_canary) >= 18   # what the report used to call per-record


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_report_calls_per_record_only_the_per_record_figure(seed):
    """End to end through audit_canaries and the report document (the figure the report prints as per-record)."""
    from privaudit.pipeline import AuditResult, TargetSummary
    from privaudit.report import report_dict
    from privaudit.text.section import TextSection

    canaries, inserted, scorer = make_world(300, seed)
    audit = audit_canaries(scorer, canaries, inserted, repetitions=COPIES, n_candidates=10, seed=seed, extrapolate=False)
    assert audit.one_run.epsilon_lb <= TRUE_EPSILON < audit.one_run.epsilon_lb_group
    result = AuditResult(results=[], targets=[TargetSummary("mechanism", "token_log_probs", np.nan, np.nan)], record_ids=np.array([]),
                         is_member=np.array([], bool), labels=np.array([], int), classes=(), n_population=0, fprs=(0.1,), confidence=0.95,
                         seed=seed, delta=0.0, text=TextSection(texts=[], canaries=audit))
    document = report_dict(result)["text"]["canaries"]["one_run_epsilon"]
    assert document["epsilon_lb"] == audit.one_run.epsilon_lb <= TRUE_EPSILON
    assert document["group_size"] == COPIES and "group privacy" in document["method"]


def test_sampled_exposure_reaches_the_top_only_by_beating_every_candidate():
    candidates = np.array([10.0, 11.0, 12.0])
    assert sampled_exposure(9.0, candidates, 1e6) == pytest.approx(2.0)          # log2(3 + 1), not log2(1e6) = 19.9
    assert sampled_exposure(10.0, candidates, 1e6) == pytest.approx(1.0)         # a tie counts against the canary
    assert sampled_exposure(13.0, candidates, 1e6) == pytest.approx(0.0)
    with pytest.raises(DataError):
        sampled_exposure(1.0, candidates, 3)                                     # more candidates than other secrets


def test_never_inserted_canaries_exposure_is_bounded_and_calibrated():
    """No canary was inserted: exposure ≤ log2(n+1), and #candidates ≤ canary is uniform on {0..n} (P(top) = 1/(n+1))."""
    n = 19
    canaries, _, scorer = make_world(800, seed=7, mechanism=False)
    audit = audit_canaries(scorer, canaries, np.zeros(800, bool), repetitions=1, n_candidates=n, seed=7, extrapolate=False)
    exposure = audit.exposure
    assert exposure.max() <= math.log2(n + 1) + 1e-12
    counts = np.bincount([e.n_candidates_at_or_below for e in audit.exposures], minlength=n + 1)
    np.testing.assert_allclose(exposure, [math.log2(n + 1) - math.log2(1 + e.n_candidates_at_or_below) for e in audit.exposures])
    assert stats.chisquare(counts).pvalue > 0.001, counts                        # uniform, as the formula says
    top = float(np.mean(exposure >= math.log2(n + 1) - 1e-12))
    assert abs(top - 1 / (n + 1)) <= 3 * math.sqrt((1 / (n + 1)) * (1 - 1 / (n + 1)) / 800)
    assert audit.one_run is None                                                  # no coin flip came up "in": no ε claim
