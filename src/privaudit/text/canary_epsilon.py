"""Per-record ε lower bound from canaries that were inserted several times each.

The one-run audit of Steinke, Nasr & Jagielski (2023, "Privacy Auditing with
One (1) Training Run", Theorem 3.1) needs each audited unit included by its
own fair coin flip. A canary is coin-flipped once but, when inserted, goes
into the training data ``k = repetitions`` times. The unit the coin decides
is therefore a **group of k records**, and the one-run test bounds the
privacy of that group, not of one record: a mechanism that is 0.5-DP per
record is 2-DP for a canary inserted ×4, and the group bound can (and does)
exceed 0.5.

What this module reports (:func:`canary_epsilon_bound`):

* ``epsilon_lb_group`` — the one-run bound for the canary as a unit (all its
  k copies in or out), at the stated δ: the mechanism is not
  (ε_group, δ)-DP with respect to adding or removing a whole canary.
* ``epsilon_lb`` — the **per-record** bound, by group privacy: an
  (ε, δ)-DP mechanism is (kε, k·e^{(k−1)ε}·δ)-DP for groups of k
  (Dwork & Roth 2014, Theorem 2.2 generalised; Vadhan 2017, Lemma 2.2).
  So per-record (ε, δ)-DP is rejected whenever the one-run test rejects
  group (kε, k·e^{(k−1)ε}·δ)-DP, and ``epsilon_lb`` is the largest ε for
  which that group test rejects at the stated confidence. With δ = 0 this
  is exactly ε_group / k; with δ > 0 it is a little lower (the group's δ
  grows with ε). With ``k = 1`` (one insertion per canary) both figures
  coincide.

The guess sets are fixed before looking at the outcome, the same as in
:func:`privaudit.metrics.one_run_lower_bound` (:func:`~privaudit.metrics.one_run.default_guess_counts`: for j = 1 %, 5 %, 20 %, 50 %
of the m canaries: the top j guessed "in"; and the top j "in" with the
bottom j "out", each capped at m/2), and each is tested at
(1 − confidence) / (number of sets) (Bonferroni); the largest ε over the
sets is reported for each figure.

Validated in ``tests/test_text_canary_claims.py`` on a Laplace mechanism
with known per-record ε: the per-record bound never exceeds it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize

from privaudit.exceptions import DataError
from privaudit.metrics.epsilon import one_run_epsilon, one_run_guesses, one_run_p_value
from privaudit.metrics.one_run import default_guess_counts

__all__ = ["CanaryEpsilonBound", "group_delta", "per_record_epsilon", "canary_epsilon_bound"]


@dataclass(frozen=True)
class CanaryEpsilonBound:
    """Per-record and per-canary (group) one-run ε lower bounds; see the module docstring."""

    epsilon_lb: float
    epsilon_lb_group: float
    group_size: int
    m: int
    n_guesses: int
    n_correct: int
    k_positive: int
    k_negative: int
    n_guess_sets: int
    delta: float
    confidence: float
    method: str
    assumption: str

    def to_dict(self) -> dict:
        return asdict(self)


def group_delta(epsilon: float, delta: float, group_size: int) -> float:
    """δ of a group of k records under per-record (ε, δ)-DP: k·e^{(k−1)ε}·δ, capped at 1.

    >>> group_delta(0.5, 0.0, 4), round(group_delta(0.0, 1e-5, 4), 9)
    (0.0, 4e-05)
    """
    if delta == 0:
        return 0.0
    exponent = (group_size - 1) * epsilon
    if exponent > 700:
        return 1.0
    return float(min(1.0, group_size * math.exp(exponent) * delta))


def per_record_epsilon(m: int, r: int, v: int, *, group_size: int, delta: float = 0.0, significance: float = 0.05) -> float:
    """Largest per-record ε whose group statement (kε, k·e^{(k−1)ε}·δ) the one-run test rejects at ``significance``.

    0 when even ε = 0 is not rejected. With δ = 0 this equals
    ``one_run_epsilon(m, r, v, significance=...) / group_size``.

    >>> g = one_run_epsilon(100, 100, 100, significance=0.05)
    >>> round(per_record_epsilon(100, 100, 100, group_size=4, significance=0.05) * 4, 6) == round(g, 6)
    True
    """
    if group_size < 1:
        raise DataError(f"group size (canary repetitions) must be ≥ 1, got {group_size}")
    if not 0 < significance < 1:
        raise ValueError(f"significance must lie in (0, 1), got {significance}")

    def excess(eps: float) -> float:
        return one_run_p_value(m, r, v, group_size * eps, group_delta(eps, delta, group_size)) - significance

    if excess(0.0) > 0:
        return 0.0
    high = 1.0
    while excess(high) <= 0:
        high *= 2.0
        if high > 1e4:
            return float("inf")
    return float(optimize.brentq(excess, 0.0, high, xtol=1e-10))


def canary_epsilon_bound(scores, inserted, *, group_size: int, delta: float = 0.0, confidence: float = 0.95,
                         seed: int = 0) -> CanaryEpsilonBound:
    """Per-record and group one-run ε lower bounds from canary scores and their coin flips.

    Parameters
    ----------
    scores : array, shape (m,)
        One score per canary, higher = more likely inserted, computed
        without the coin flips (e.g. exposure).
    inserted : bool array, shape (m,)
        The coin flips (each canary inserted with probability 1/2).
    group_size : int
        Copies of an inserted canary in the training data (``repetitions``), ≥ 1.
    delta, confidence : float
    seed : int
        Tie-break of the guesses (:func:`privaudit.metrics.one_run_guesses`).
    """
    scores = np.asarray(scores, dtype=np.float64)
    inserted = np.asarray(inserted, dtype=bool)
    if scores.ndim != 1 or inserted.shape != scores.shape:
        raise DataError(f"canary scores {scores.shape} and coin flips {inserted.shape} must be one-dimensional and match")
    if not np.isfinite(scores).all():
        raise DataError("canary scores must be finite")
    if int(group_size) < 1:
        raise DataError(f"canary repetitions must be ≥ 1, got {group_size}")
    m = scores.size
    counts = default_guess_counts(m)
    significance = (1.0 - confidence) / len(counts)
    truth = np.where(inserted, 1, -1)
    best_record, best_group = None, 0.0
    for k_positive, k_negative in counts:
        guesses = one_run_guesses(scores, k_positive, k_negative, seed=seed)
        r, v = k_positive + k_negative, int(np.count_nonzero(guesses == truth))
        best_group = max(best_group, one_run_epsilon(m, r, v, delta=delta, significance=significance))
        eps = per_record_epsilon(m, r, v, group_size=int(group_size), delta=delta, significance=significance)
        if best_record is None or eps > best_record[0]:
            best_record = (eps, r, v, k_positive, k_negative)
    eps, r, v, k_positive, k_negative = best_record
    k = int(group_size)
    method = ("one-run bound per canary" if k == 1 else
              f"one-run bound per canary (a group of {k} copies), converted to one record by group privacy: "
              f"per-record (ε, δ) implies ({k}ε, {k}·e^({k - 1}ε)·δ) for the canary")
    return CanaryEpsilonBound(
        epsilon_lb=eps, epsilon_lb_group=best_group, group_size=k, m=m, n_guesses=r, n_correct=v, k_positive=k_positive,
        k_negative=k_negative, n_guess_sets=len(counts), delta=float(delta), confidence=float(confidence), method=method,
        assumption=("Valid at the stated confidence if each canary was inserted (all its copies) by an independent fair coin flip "
                    "and the scores were computed without the coin flips (Steinke, Nasr & Jagielski 2023, Theorem 3.1); "
                    "guess sets fixed in advance, Bonferroni over them."),
    )
