"""The one-run ε lower bound of Steinke, Nasr & Jagielski (2023), "Privacy Auditing with One (1) Training Run".

When each of m records was included in training by an independent fair coin
flip, and an auditor guesses "in" or "out" for r of them from the model alone,
the number of correct guesses W satisfies (their Theorem 3.1, with the δ term
as in their Algorithm 2)::

    P[W ≥ v] ≤ f(v) + 2 m δ · max_{i = 1..v} (f(v − i) − f(v)) / i,      (3)
    f(w) = P[Binomial(r, e^ε / (e^ε + 1)) ≥ w].

The right side is the p-value of the hypothesis "the training is (ε, δ)-DP";
the lower bound is the largest ε whose p-value is ≤ the significance (found by
root finding; the p-value grows with ε). This holds for a single model, so with
randomised membership it is a valid lower bound.

**Multiplicity.** :func:`one_run_lower_bound` tries G fixed guess sets and
returns the largest bound; an audit then reports the largest over its K
attacks. Each of the K·G tests is run at significance (1 − confidence)/(K·G)
(Bonferroni), so the maximum over guess sets *and* attacks still holds at
``confidence``: P(any of the K·G bounds exceeds the true ε) ≤ Σ (1 − confidence)/(K·G).
``OneRunBound.n_guess_sets``, ``n_candidates`` and ``significance`` record it.

The score checks shared with :mod:`privaudit.metrics.roc_bound` live here
(:func:`check_level`, :func:`check_score_vector`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import optimize, special

from privaudit.exceptions import DataError

__all__ = [
    "DEFAULT_GUESS_FRACTIONS",
    "OneRunBound",
    "default_guess_counts",
    "check_level",
    "check_score_vector",
    "one_run_p_value",
    "one_run_epsilon",
    "one_run_guesses",
    "one_run_lower_bound",
]

#: Guess sets of :func:`one_run_lower_bound` by default: the top k·m records
#: guessed "in", with either no "out" guesses or as many from the bottom.
DEFAULT_GUESS_FRACTIONS: tuple[float, ...] = (0.01, 0.05, 0.2, 0.5)


def check_level(delta: float, confidence: float) -> None:
    """Refuse δ outside [0, 1) or a confidence outside (0, 1) (ValueError: a programming mistake)."""
    if not 0 <= delta < 1:
        raise ValueError(f"delta must lie in [0, 1), got {delta}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def check_score_vector(values, name: str, minimum: int = 1) -> np.ndarray:
    """``values`` as a 1-D float array of at least ``minimum`` scores, none NaN (else :class:`DataError`)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {values.shape}")
    if values.size < minimum:
        raise DataError(f"{name}: need at least {minimum} scores, got {values.size}")
    if np.isnan(values).any():
        raise DataError(f"{name}: {int(np.isnan(values).sum())} scores are NaN")
    return values


def _binom_sf(k, r: int, q: float):
    """P[Binomial(r, q) > k] for integer k ≤ r − 1 (1 for k < 0): scipy.special.bdtrc, the ufunc behind binom.sf, without its overhead."""
    return special.bdtrc(k, r, q)


def one_run_p_value(m: int, r: int, v: int, epsilon: float, delta: float = 0.0) -> float:
    """p-value of "(ε, δ)-DP" after v correct of r guesses on m coin-flipped records: bound (3).

    Steinke, Nasr & Jagielski (2023), Theorem 3.1: with W the number of
    correct guesses and f(w) = P[Binomial(r, e^ε/(e^ε+1)) ≥ w],
    P[W ≥ v] ≤ f(v) + 2mδ · max_{i=1..v} (f(v − i) − f(v))/i. Capped at 1.

    Examples
    --------
    >>> round(one_run_p_value(100, 100, 100, 3.0), 4)   # = (e³/(e³+1))^100
    0.0078
    """
    if not 0 <= v <= r <= m:
        raise ValueError(f"need 0 ≤ v ≤ r ≤ m, got m={m}, r={r}, v={v}")
    if epsilon < 0 or not 0 <= delta <= 1:
        raise ValueError(f"need ε ≥ 0 and δ in [0, 1], got {epsilon}, {delta}")
    if v == 0:
        return 1.0
    q = float(special.expit(epsilon))
    tail = float(_binom_sf(v - 1, r, q))  # f(v) = P[W ≥ v]
    if delta == 0:
        return min(tail, 1.0)
    i = np.arange(1, v + 1)
    gaps = _binom_sf(v - i - 1, r, q) - tail  # f(v − i) − f(v) = P[v − i ≤ W < v]
    return float(min(tail + 2 * m * delta * float(np.max(gaps / i)), 1.0))


def one_run_epsilon(m: int, r: int, v: int, *, delta: float = 0.0, significance: float = 0.05) -> float:
    """The largest ε whose one-run p-value (3) is ≤ ``significance`` (0 when none is).

    Examples
    --------
    Perfect guesses on 100 records at δ = 0 reject ε up to logit(0.05^(1/100)):

    >>> round(one_run_epsilon(100, 100, 100, significance=0.05), 2)
    3.49
    """
    if not 0 < significance < 1:
        raise ValueError(f"significance must lie in (0, 1), got {significance}")

    def excess(eps: float) -> float:
        return one_run_p_value(m, r, v, eps, delta) - significance

    if excess(0.0) > 0:
        return 0.0
    high = 1.0
    while excess(high) <= 0:
        high *= 2.0
        if high > 1e4:  # p-value still below significance: numerically unbounded
            return float("inf")
    return float(optimize.brentq(excess, 0.0, high, xtol=1e-10))


def one_run_guesses(scores, k_positive: int, k_negative: int, *, seed: int = 0) -> np.ndarray:
    """Guesses from scores alone: +1 ("in") for the ``k_positive`` highest, −1 for the ``k_negative`` lowest, 0 (abstain) otherwise.

    Ties are broken by a seeded random order, never by position (positions
    often list members first). Shape (n,), dtype int8.

    Examples
    --------
    >>> one_run_guesses([0.9, 0.1, 0.5, 0.7], 1, 1).tolist()
    [1, -1, 0, 0]
    """
    scores = check_score_vector(scores, "scores")
    return _guesses_from_order(_ranked(scores, seed), k_positive, k_negative)


def _ranked(scores: np.ndarray, seed: int) -> np.ndarray:
    """Positions of ``scores`` from highest to lowest, ties in a seeded random order."""
    tie_break = np.random.default_rng(seed).random(scores.size)
    return np.lexsort((tie_break, -scores))


def _guesses_from_order(order: np.ndarray, k_positive: int, k_negative: int) -> np.ndarray:
    if k_positive < 0 or k_negative < 0 or k_positive + k_negative > order.size:
        raise ValueError(f"need k_positive, k_negative ≥ 0 and k_positive + k_negative ≤ {order.size}, got {k_positive}, {k_negative}")
    guesses = np.zeros(order.size, dtype=np.int8)
    guesses[order[:k_positive]] = 1
    if k_negative:
        guesses[order[-k_negative:]] = -1
    return guesses


@dataclass(frozen=True)
class OneRunBound:
    """The one-run ε lower bound (3) of Steinke, Nasr & Jagielski (2023).

    ``m`` records, ``n_guesses`` guessed (``k_positive`` "in" from the top
    scores, ``k_negative`` "out" from the bottom), ``n_correct`` right, for the
    guess set that gave the largest bound among ``n_guess_sets`` fixed ones.
    Each set was tested at ``significance`` = (1 − confidence)/(n_guess_sets ·
    n_candidates) (Bonferroni), where ``n_candidates`` is the number of attacks
    (score vectors) the reported maximum is taken over; so the maximum over
    guess sets and over those attacks holds at ``confidence``. ``correction``
    says so in words.
    """

    epsilon_lb: float
    m: int
    n_guesses: int
    n_correct: int
    k_positive: int
    k_negative: int
    n_guess_sets: int
    delta: float
    confidence: float
    assumption: str
    n_candidates: int = 1
    significance: float = 0.05
    correction: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def default_guess_counts(m: int) -> list[tuple[int, int]]:
    """The fixed guess sets ``(k_positive, k_negative)`` for ``m`` records, in a fixed order: for each fraction j of
    :data:`DEFAULT_GUESS_FRACTIONS`, the top j·m guessed "in", then the top and bottom j·m each capped at m/2."""
    counts = []
    for fraction in DEFAULT_GUESS_FRACTIONS:
        k = max(1, int(round(fraction * m)))
        for pair in ((k, 0), (min(k, m // 2), min(k, m // 2))):
            if pair[0] >= 1 and pair not in counts:
                counts.append(pair)
    return counts


def one_run_lower_bound(scores, is_member, *, guess_counts: Sequence[tuple[int, int]] | None = None, delta: float = 0.0, confidence: float = 0.95, seed: int = 0,
                        n_candidates: int = 1) -> OneRunBound:
    """One-run ε lower bound from scores of m records whose membership was decided by fair coin flips.

    The guess sets are fixed before looking at the outcome — never tuned to
    maximise the bound on the same records: ``guess_counts`` is a list of
    (k_positive, k_negative) pairs (default: for k = 1 %, 5 %, 20 %, 50 % of
    m, the top k guessed "in" with no "out" guesses, and the top k "in" plus
    the bottom k "out", each capped at m/2). Every set is tested at
    significance (1 − confidence)/(len(guess_counts) · n_candidates)
    (Bonferroni) and the largest ε is returned.

    Parameters
    ----------
    scores : array, shape (m,)
        Membership scores, higher = more likely a member.
    is_member : bool array, shape (m,)
        The coin flips (True = trained on); only used to count correct guesses.
    guess_counts : sequence of (int, int), optional
    delta, confidence : float
    seed : int
        Seed of the tie-break in :func:`one_run_guesses`.
    n_candidates : int
        Number of score vectors (attacks) whose bounds will be compared, the
        largest reported (e.g. the K attacks of an audit). The significance is
        divided by it too, so that maximum is still a valid bound at
        ``confidence``. 1 when this bound is reported alone.

    Examples
    --------
    >>> b = one_run_lower_bound([1.0] * 50 + [0.0] * 50, [True] * 50 + [False] * 50, guess_counts=[(50, 50)])
    >>> b.n_correct, round(b.epsilon_lb, 2)
    (100, 3.49)
    """
    check_level(delta, confidence)
    scores = check_score_vector(scores, "scores")
    is_member = np.asarray(is_member, dtype=bool)
    if is_member.shape != scores.shape:
        raise DataError(f"scores {scores.shape} and membership {is_member.shape} must have the same shape")
    m = scores.size
    counts = list(guess_counts) if guess_counts is not None else default_guess_counts(m)
    if not counts:
        raise ValueError("guess_counts must name at least one (k_positive, k_negative) pair")
    n_candidates = int(n_candidates)
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be at least 1, got {n_candidates}")
    significance = (1.0 - confidence) / (len(counts) * n_candidates)
    truth = np.where(is_member, 1, -1)
    order = _ranked(scores, seed)  # the same order as one_run_guesses(scores, ..., seed=seed), computed once
    best = None
    for k_positive, k_negative in counts:
        guesses = _guesses_from_order(order, int(k_positive), int(k_negative))
        r = int(k_positive + k_negative)
        v = int(np.count_nonzero(guesses == truth))
        eps = one_run_epsilon(m, r, v, delta=delta, significance=significance)
        if best is None or eps > best[0]:
            best = (eps, r, v, int(k_positive), int(k_negative))
    eps, r, v, k_positive, k_negative = best
    return OneRunBound(
        epsilon_lb=eps, m=m, n_guesses=r, n_correct=v, k_positive=k_positive, k_negative=k_negative,
        n_guess_sets=len(counts), delta=float(delta), confidence=float(confidence),
        assumption=(
            "Valid (ε, δ)-DP lower bound at the stated confidence if each of the m records was included in training "
            "by an independent fair coin flip and the scores were computed without using those coin flips "
            "(Steinke, Nasr & Jagielski 2023, Theorem 3.1); guess sets fixed in advance, Bonferroni over them"
            + (" and over the attacks compared." if n_candidates > 1 else ".")
        ),
        n_candidates=n_candidates, significance=float(significance),
        correction=(f"Bonferroni over {len(counts)} guess set{'s' if len(counts) != 1 else ''} × {n_candidates} "
                    f"attack{'s' if n_candidates != 1 else ''}: each tested at significance {significance:.3g}"),
    )

