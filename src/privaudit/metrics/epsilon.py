"""Lower bounds on the differential-privacy ε that membership scores demonstrate: the front door.

Two estimators, both pure numpy/scipy, each in its own module and importable from here:

* **ROC / hypothesis testing** (:mod:`privaudit.metrics.roc_bound`:
  :func:`epsilon_lower_bound`, :func:`epsilon_lower_bound_at_threshold`,
  :func:`epsilon_from_error_counts`): from the error rates of one test, via
  FPR + e^ε · FNR ≥ 1 − δ (Kairouz, Oh & Viswanath 2015). A valid bound only
  for independent trials; for scores of many records from one model it is a
  *heuristic estimate*. In an audit it is computed from the low-FPR region only
  (threshold at FPR ≤ the largest configured FPR of interest, the
  ln((1 − δ − FNR⁺)/FPR⁺) side), so a target without detectable leakage there
  cannot get a large heuristic ε.
* **One training run** (:mod:`privaudit.metrics.one_run`:
  :func:`one_run_p_value`, :func:`one_run_epsilon`,
  :func:`one_run_lower_bound`; Steinke, Nasr & Jagielski 2023): a valid lower
  bound for a single model when membership was decided by fair coin flips.

:func:`audit_epsilon` is what an audit stores for each attack
(:class:`AuditEpsilon`): the one-run bound is the headline when membership was
randomised, else the heuristic. Because reports and ``privaudit gate`` show the
*largest* ε over an audit's attacks, the one-run bound of each attack is
corrected for the ``n_candidates`` attacks compared as well as for its guess
sets (Bonferroni over K · G tests), so that maximum holds at the stated
confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.metrics.one_run import (
    DEFAULT_GUESS_FRACTIONS,
    OneRunBound,
    one_run_epsilon,
    one_run_guesses,
    one_run_lower_bound,
    one_run_p_value,
)
from privaudit.metrics.roc_bound import (
    EpsilonBound,
    clopper_pearson_upper,
    epsilon_from_error_counts,
    epsilon_lower_bound,
    epsilon_lower_bound_at_threshold,
)

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_GUESS_FRACTIONS",
    "DEFAULT_HEURISTIC_MAX_FPR",
    "EpsilonBound",
    "OneRunBound",
    "AuditEpsilon",
    "clopper_pearson_upper",
    "epsilon_from_error_counts",
    "epsilon_lower_bound",
    "epsilon_lower_bound_at_threshold",
    "one_run_p_value",
    "one_run_epsilon",
    "one_run_guesses",
    "one_run_lower_bound",
    "audit_epsilon",
]

#: δ used when none is configured; choose δ well below 1 / (number of records).
DEFAULT_DELTA = 1e-5

#: Largest FPR at which the heuristic (non-randomised) ε may pick its threshold,
#: when the audit names no FPRs of interest (the largest of ``DEFAULT_FPRS``).
DEFAULT_HEURISTIC_MAX_FPR = 0.1

# ---------------------------------------------------------------- audit entry

LABEL_HEURISTIC = "heuristic estimate"
LABEL_VALID = "lower bound"


@dataclass(frozen=True)
class AuditEpsilon:
    """The ε figure an audit reports for one attack.

    ``roc`` is always computed (:func:`epsilon_lower_bound`, split threshold,
    low-FPR region) and is a *heuristic estimate* for a single model. ``one_run`` is computed
    only when membership was randomised by fair coin flips
    (:func:`one_run_lower_bound`); it is then the headline figure and a valid
    lower bound. ``epsilon_lb``, ``label``, ``valid`` and ``method`` describe
    the headline.
    """

    roc: EpsilonBound
    one_run: OneRunBound | None = None

    @property
    def valid(self) -> bool:
        return self.one_run is not None

    @property
    def epsilon_lb(self) -> float:
        return self.one_run.epsilon_lb if self.one_run is not None else self.roc.epsilon_lb

    @property
    def method(self) -> str:
        return "one_run" if self.one_run is not None else "roc_split"

    @property
    def label(self) -> str:
        return LABEL_VALID if self.valid else LABEL_HEURISTIC

    @property
    def delta(self) -> float:
        return self.roc.delta

    @property
    def confidence(self) -> float:
        return self.roc.confidence

    @property
    def correction(self) -> str:
        """How the headline was corrected for selection, in words (for report.json and the report)."""
        if self.one_run is not None:
            return self.one_run.correction
        region = f"threshold chosen on a random half at FPR ≤ {self.roc.max_fpr:g}" if self.roc.max_fpr is not None else "threshold chosen on a random half"
        return f"heuristic: {region}, bound on the other half; no correction over attacks (not a proven bound)"

    @property
    def n_candidates(self) -> int:
        """Number of attacks the headline is corrected for (1 for the heuristic)."""
        return self.one_run.n_candidates if self.one_run is not None else 1

    def to_dict(self) -> dict:
        """``epsilon_lb``, ``label``, ``valid``, ``method``, ``delta``, ``confidence``, ``correction``, ``n_candidates``,
        then ``roc`` and ``one_run`` (or None)."""
        return {
            "epsilon_lb": self.epsilon_lb, "label": self.label, "valid": self.valid, "method": self.method,
            "delta": self.delta, "confidence": self.confidence, "correction": self.correction, "n_candidates": self.n_candidates,
            "roc": self.roc.to_dict(), "one_run": None if self.one_run is None else self.one_run.to_dict(),
        }


def audit_epsilon(scores, is_member, *, delta: float = DEFAULT_DELTA, confidence: float = 0.95, seed: int = 0, membership_randomized: bool = False,
                  max_fpr: float | None = DEFAULT_HEURISTIC_MAX_FPR, n_candidates: int = 1) -> AuditEpsilon:
    """The ε entry of one attack's metrics: the split ROC bound, plus the one-run bound when membership was coin-flipped.

    Parameters
    ----------
    scores : array, shape (n,)
        Membership scores, higher = more likely a member.
    is_member : bool array, shape (n,)
    delta, confidence : float
    seed : int
        Seed of the split (and of the one-run tie-break).
    membership_randomized : bool
        True only when each audited record was made a member by an
        independent fair coin flip (probability 1/2) before training.
    max_fpr : float or None
        Low-FPR region of the heuristic ROC figure: the largest FPR of
        interest of the audit (its threshold is chosen at FPR ≤ ``max_fpr``,
        one side of the bound). None: the whole ROC (old behaviour, not for reports).
    n_candidates : int
        Number of attacks whose ε the report compares (the headline is their
        maximum): the one-run bound is Bonferroni-corrected for them.

    Examples
    --------
    A labels-only attack whose only informative corner is FNR ≈ 0.5 % at
    FPR ≈ 81 % gets no heuristic ε from the low-FPR region:

    >>> rng = np.random.default_rng(0)
    >>> is_member = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    >>> correct = np.where(is_member, rng.random(2000) < 0.995, rng.random(2000) < 0.81).astype(float)
    >>> audit_epsilon(correct, is_member).epsilon_lb, audit_epsilon(correct, is_member, max_fpr=None).epsilon_lb > 2
    (0.0, True)
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    members, nonmembers = scores[is_member], scores[~is_member]
    split = members.size >= 2 and nonmembers.size >= 2
    roc = epsilon_lower_bound(members, nonmembers, delta=delta, confidence=confidence, seed=seed, split=split, max_fpr=max_fpr)
    one_run = None
    if membership_randomized:
        one_run = one_run_lower_bound(scores, is_member, delta=delta, confidence=confidence, seed=seed, n_candidates=n_candidates)
    return AuditEpsilon(roc=roc, one_run=one_run)
