"""Lower bounds on the differential-privacy ε that membership scores demonstrate.

Two estimators, both pure numpy/scipy:

* **ROC / hypothesis testing** (:func:`epsilon_lower_bound`,
  :func:`epsilon_lower_bound_at_threshold`, :func:`epsilon_from_error_counts`).
  If a mechanism is (ε, δ)-DP, every test "member vs non-member" has
  (Kairouz, Oh & Viswanath 2015, Thm 2.1; used for auditing by Jagielski,
  Ullman & Oprea 2020 and Nasr et al. 2021)::

      FPR + e^ε · FNR ≥ 1 − δ     and     FNR + e^ε · FPR ≥ 1 − δ            (1)

  hence  ε ≥ max( ln((1 − δ − FNR)/FPR), ln((1 − δ − FPR)/FNR) ).        (2)

  The true rates are unknown: (2) is evaluated at exact one-sided
  Clopper–Pearson **upper** bounds FPR⁺ and FNR⁺ (the right side of (2)
  decreases in both rates). The miss probability 1 − confidence is split
  equally between the two rates (Bonferroni): each upper bound holds with
  probability ≥ 1 − (1 − confidence)/2, both together with probability
  ≥ confidence, and then both inequalities of (1) — hence the maximum in
  (2) — hold at once, so taking the larger side needs no further correction.
  With 0 errors in 1,000 + 1,000 trials, δ = 1e-5 and 95 % confidence:
  FPR⁺ = FNR⁺ = 1 − 0.025^(1/1000) = 0.00368 and ε ≥ ln(0.99631/0.00368) = 5.60.
  Choosing the threshold on the records the bound is computed on would
  make it optimistic, so :func:`epsilon_lower_bound` picks it on a seeded
  random half of the members and of the non-members and evaluates (2) on the
  other half.

  Validity: (1) is about one pair of neighbouring datasets, so the counts
  must come from independent trials — e.g. one training run per trial, each
  with or without the audited record. Scores of many records from **one**
  model are not independent trials: for them the figure is a *heuristic
  estimate* of the leakage, not a proven bound.

* **One training run** (Steinke, Nasr & Jagielski 2023, "Privacy Auditing
  with One (1) Training Run", NeurIPS; :func:`one_run_p_value`,
  :func:`one_run_epsilon`, :func:`one_run_lower_bound`). When each of m
  records was included in training by an independent fair coin flip, and an
  auditor guesses "in" or "out" for r of them from the model alone, the
  number of correct guesses W satisfies (their Theorem 3.1, with the δ term
  as in their Algorithm 2)::

      P[W ≥ v] ≤ f(v) + 2 m δ · max_{i = 1..v} (f(v − i) − f(v)) / i,      (3)
      f(w) = P[Binomial(r, e^ε / (e^ε + 1)) ≥ w].

  The right side is the p-value of the hypothesis "the training is (ε, δ)-DP";
  the lower bound is the largest ε whose p-value is ≤ 1 − confidence
  (found by root finding; the p-value grows with ε). This holds for a single
  model, so with randomised membership it is a valid lower bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import optimize, special, stats

from privaudit.exceptions import DataError

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_GUESS_FRACTIONS",
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

#: Guess sets of :func:`one_run_lower_bound` by default: the top k·m records
#: guessed "in", with either no "out" guesses or as many from the bottom.
DEFAULT_GUESS_FRACTIONS: tuple[float, ...] = (0.01, 0.05, 0.2, 0.5)

_SINGLE_MODEL_CAVEAT = (
    "Heuristic estimate: inequality (1) holds for independent trials (e.g. one training run per trial); "
    "scores of many records from one model are not independent trials, so this figure is not a proven DP lower bound."
)


def _check_level(delta: float, confidence: float) -> None:
    if not 0 <= delta < 1:
        raise ValueError(f"delta must lie in [0, 1), got {delta}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def _check_scores(values, name: str, minimum: int = 1) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {values.shape}")
    if values.size < minimum:
        raise DataError(f"{name}: need at least {minimum} scores, got {values.size}")
    if np.isnan(values).any():
        raise DataError(f"{name}: {int(np.isnan(values).sum())} scores are NaN")
    return values


def clopper_pearson_upper(k, n, confidence: float):
    """One-sided exact (Clopper–Pearson) upper bound on a binomial rate: P(rate ≤ bound) ≥ ``confidence``.

    ``k`` errors in ``n`` trials; the bound is the ``confidence`` quantile of
    Beta(k + 1, n − k), and 1 when k = n. For k = 0 it is 1 − (1 − confidence)^(1/n).
    Accepts arrays for ``k``.

    Examples
    --------
    >>> round(float(clopper_pearson_upper(0, 1000, 0.975)), 6)
    0.003682
    """
    k = np.asarray(k, dtype=np.float64)
    if n <= 0 or np.any(k < 0) or np.any(k > n):
        raise ValueError(f"need 0 ≤ k ≤ n and n > 0, got k={k}, n={n}")
    upper = special.betaincinv(k + 1, np.maximum(n - k, 1e-300), confidence)
    upper = np.where(k >= n, 1.0, upper)
    return float(upper) if upper.ndim == 0 else upper


def _bound_terms(fp, n_nonmembers, fn, n_members, delta, confidence):
    """Both sides of (2) at the Bonferroni-split CP upper bounds: (term_fpr, term_fnr, fpr_upper, fnr_upper)."""
    per_rate = 1.0 - (1.0 - confidence) / 2.0
    fpr_upper = np.asarray(clopper_pearson_upper(fp, n_nonmembers, per_rate))
    fnr_upper = np.asarray(clopper_pearson_upper(fn, n_members, per_rate))
    with np.errstate(divide="ignore", invalid="ignore"):
        top_fpr = 1.0 - delta - fnr_upper
        top_fnr = 1.0 - delta - fpr_upper
        term_fpr = np.where(top_fpr > 0, np.log(np.where(top_fpr > 0, top_fpr, 1.0)) - np.log(fpr_upper), -np.inf)
        term_fnr = np.where(top_fnr > 0, np.log(np.where(top_fnr > 0, top_fnr, 1.0)) - np.log(fnr_upper), -np.inf)
    return term_fpr, term_fnr, fpr_upper, fnr_upper


def epsilon_from_error_counts(false_positives, n_nonmembers: int, false_negatives, n_members: int, *, delta: float = 0.0, confidence: float = 0.95):
    """ε lower bound (2) from error counts of one fixed test, clipped at 0.

    Parameters
    ----------
    false_positives : int or int array
        Non-members the test flags as members, out of ``n_nonmembers``.
    false_negatives : int or int array
        Members the test does not flag, out of ``n_members``.
    delta : float
        The δ of the (ε, δ) hypothesis, in [0, 1).
    confidence : float
        Probability that the bound holds (for independent trials); split
        equally between the two one-sided Clopper–Pearson bounds.

    Returns
    -------
    float or array
        max(0, ln((1 − δ − FNR⁺)/FPR⁺), ln((1 − δ − FPR⁺)/FNR⁺)); never
        negative, finite whenever n_members, n_nonmembers ≥ 1.

    Examples
    --------
    >>> round(epsilon_from_error_counts(0, 1000, 0, 1000, delta=1e-5, confidence=0.95), 2)
    5.6
    """
    _check_level(delta, confidence)
    term_fpr, term_fnr, _, _ = _bound_terms(false_positives, n_nonmembers, false_negatives, n_members, delta, confidence)
    value = np.maximum(np.maximum(term_fpr, term_fnr), 0.0)
    return float(value) if value.ndim == 0 else value


@dataclass(frozen=True)
class EpsilonBound:
    """The ROC / hypothesis-testing ε bound (2) at one threshold.

    The test flags a record as a member when its score ≥ ``threshold``
    (higher score = more likely a member). ``fpr``/``fnr`` are the rates on
    the ``n_members``/``n_nonmembers`` records the bound was computed on;
    ``fpr_upper``/``fnr_upper`` their one-sided Clopper–Pearson upper bounds
    at 1 − (1 − confidence)/2 each. ``direction`` names the side of (2) that
    gave the bound: ``"fpr"`` for ln((1 − δ − FNR⁺)/FPR⁺) (few false
    positives), ``"fnr"`` for ln((1 − δ − FPR⁺)/FNR⁺). ``threshold_selection``
    is ``"split"`` (chosen on the other half, ``n_*_selection`` records),
    ``"fixed"`` (given) or ``"same records"`` (chosen on the records it is
    evaluated on: optimistic). ``assumption`` says when the figure is a valid bound.
    """

    epsilon_lb: float
    threshold: float
    direction: str
    fpr: float
    fnr: float
    fpr_upper: float
    fnr_upper: float
    false_positives: int
    false_negatives: int
    n_members: int
    n_nonmembers: int
    n_members_selection: int
    n_nonmembers_selection: int
    delta: float
    confidence: float
    threshold_selection: str
    assumption: str

    def to_dict(self) -> dict:
        """Plain dict (a non-finite threshold becomes None)."""
        d = asdict(self)
        if not np.isfinite(d["threshold"]):
            d["threshold"] = None
        return d


def _at_threshold(members: np.ndarray, nonmembers: np.ndarray, threshold: float, delta: float, confidence: float) -> dict:
    fn = int(np.count_nonzero(members < threshold))
    fp = int(np.count_nonzero(nonmembers >= threshold))
    term_fpr, term_fnr, fpr_upper, fnr_upper = _bound_terms(fp, nonmembers.size, fn, members.size, delta, confidence)
    term_fpr, term_fnr = float(term_fpr), float(term_fnr)
    return {
        "epsilon_lb": max(term_fpr, term_fnr, 0.0),
        "threshold": float(threshold),
        "direction": "fpr" if term_fpr >= term_fnr else "fnr",
        "fpr": fp / nonmembers.size,
        "fnr": fn / members.size,
        "fpr_upper": float(fpr_upper),
        "fnr_upper": float(fnr_upper),
        "false_positives": fp,
        "false_negatives": fn,
        "n_members": int(members.size),
        "n_nonmembers": int(nonmembers.size),
        "delta": float(delta),
        "confidence": float(confidence),
    }


def epsilon_lower_bound_at_threshold(member_scores, nonmember_scores, threshold: float, *, delta: float = 0.0, confidence: float = 0.95) -> EpsilonBound:
    """Bound (2) for the fixed test "score ≥ ``threshold`` ⇒ member".

    The threshold must have been fixed without looking at these scores (for
    example chosen on other data); otherwise use :func:`epsilon_lower_bound`.

    Parameters
    ----------
    member_scores, nonmember_scores : arrays, shape (n_members,), (n_nonmembers,)
        Membership scores, higher = more likely a member.
    threshold : float
    delta, confidence : float
        As in :func:`epsilon_from_error_counts`.

    Examples
    --------
    >>> b = epsilon_lower_bound_at_threshold([2.0] * 1000, [0.0] * 1000, 1.0, delta=1e-5)
    >>> round(b.epsilon_lb, 2), b.false_positives, b.false_negatives
    (5.6, 0, 0)
    """
    _check_level(delta, confidence)
    members = _check_scores(member_scores, "member_scores")
    nonmembers = _check_scores(nonmember_scores, "nonmember_scores")
    fields = _at_threshold(members, nonmembers, float(threshold), delta, confidence)
    return EpsilonBound(**fields, n_members_selection=0, n_nonmembers_selection=0, threshold_selection="fixed",
                        assumption=_SINGLE_MODEL_CAVEAT + " Threshold fixed in advance.")


def _best_threshold(members: np.ndarray, nonmembers: np.ndarray, delta: float, confidence: float) -> float:
    """The distinct score whose test maximises bound (2) on these records (ties: the lowest such score)."""
    candidates = np.unique(np.concatenate([members, nonmembers]))
    sorted_members, sorted_nonmembers = np.sort(members), np.sort(nonmembers)
    fn = np.searchsorted(sorted_members, candidates, side="left")
    fp = nonmembers.size - np.searchsorted(sorted_nonmembers, candidates, side="left")
    term_fpr, term_fnr, _, _ = _bound_terms(fp, nonmembers.size, fn, members.size, delta, confidence)
    return float(candidates[int(np.argmax(np.maximum(term_fpr, term_fnr)))])


def epsilon_lower_bound(member_scores, nonmember_scores, *, delta: float = 0.0, confidence: float = 0.95, seed: int = 0, split: bool = True) -> EpsilonBound:
    """Bound (2) at a threshold chosen on a random half of the records, computed on the other half.

    Members and non-members are each shuffled with ``seed`` and cut in two;
    the first halves (⌊n/2⌋ records each) pick the threshold that maximises
    (2) on them, the second halves (⌈n/2⌉) give the bound. Because the
    selection never sees the second half, the Clopper–Pearson bounds there
    keep their level. ``split=False`` picks and evaluates on all records:
    optimistic, for comparison only (``threshold_selection == "same records"``).

    Parameters
    ----------
    member_scores, nonmember_scores : arrays, shape (n_members,), (n_nonmembers,)
        Membership scores, higher = more likely a member; with ``split`` at
        least 2 of each.
    delta : float
        The δ of the (ε, δ) hypothesis, in [0, 1).
    confidence : float
        Level of the bound (for independent trials; see the module docstring).
    seed : int
        Seed of the split.
    split : bool

    Returns
    -------
    EpsilonBound

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> b = epsilon_lower_bound(rng.normal(4, 1, 2000), rng.normal(0, 1, 2000), delta=1e-5)
    >>> b.n_members, b.n_members_selection, b.epsilon_lb > 2
    (1000, 1000, True)
    """
    _check_level(delta, confidence)
    minimum = 2 if split else 1
    members = _check_scores(member_scores, "member_scores", minimum)
    nonmembers = _check_scores(nonmember_scores, "nonmember_scores", minimum)
    if not split:
        threshold = _best_threshold(members, nonmembers, delta, confidence)
        fields = _at_threshold(members, nonmembers, threshold, delta, confidence)
        return EpsilonBound(**fields, n_members_selection=members.size, n_nonmembers_selection=nonmembers.size,
                            threshold_selection="same records",
                            assumption=_SINGLE_MODEL_CAVEAT + " Threshold chosen on the same records: optimistic even for independent trials.")
    rng = np.random.default_rng(seed)
    members = members[rng.permutation(members.size)]
    nonmembers = nonmembers[rng.permutation(nonmembers.size)]
    m_cut, n_cut = members.size // 2, nonmembers.size // 2
    threshold = _best_threshold(members[:m_cut], nonmembers[:n_cut], delta, confidence)
    fields = _at_threshold(members[m_cut:], nonmembers[n_cut:], threshold, delta, confidence)
    return EpsilonBound(**fields, n_members_selection=m_cut, n_nonmembers_selection=n_cut, threshold_selection="split",
                        assumption=_SINGLE_MODEL_CAVEAT + f" Threshold chosen on a random half (seed {seed}), bound computed on the other half.")


# ---------------------------------------------------------------- one run


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
    tail = float(stats.binom.sf(v - 1, r, q))  # f(v) = P[W ≥ v]
    if delta == 0:
        return min(tail, 1.0)
    i = np.arange(1, v + 1)
    gaps = stats.binom.sf(v - i - 1, r, q) - tail  # f(v − i) − f(v) = P[v − i ≤ W < v]
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
    scores = _check_scores(scores, "scores")
    if k_positive < 0 or k_negative < 0 or k_positive + k_negative > scores.size:
        raise ValueError(f"need k_positive, k_negative ≥ 0 and k_positive + k_negative ≤ {scores.size}, got {k_positive}, {k_negative}")
    tie_break = np.random.default_rng(seed).random(scores.size)
    order = np.lexsort((tie_break, -scores))  # highest score first
    guesses = np.zeros(scores.size, dtype=np.int8)
    guesses[order[:k_positive]] = 1
    if k_negative:
        guesses[order[-k_negative:]] = -1
    return guesses


@dataclass(frozen=True)
class OneRunBound:
    """The one-run ε lower bound (3) of Steinke, Nasr & Jagielski (2023).

    ``m`` records, ``n_guesses`` guessed (``k_positive`` "in" from the top
    scores, ``k_negative`` "out" from the bottom), ``n_correct`` right, for the
    guess set that gave the largest bound among ``n_guess_sets`` fixed ones;
    each was tested at significance (1 − confidence)/n_guess_sets (Bonferroni),
    so the maximum holds at ``confidence``.
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

    def to_dict(self) -> dict:
        return asdict(self)


def _default_guess_counts(m: int) -> list[tuple[int, int]]:
    counts = []
    for fraction in DEFAULT_GUESS_FRACTIONS:
        k = max(1, int(round(fraction * m)))
        for pair in ((k, 0), (min(k, m // 2), min(k, m // 2))):
            if pair[0] >= 1 and pair not in counts:
                counts.append(pair)
    return counts


def one_run_lower_bound(scores, is_member, *, guess_counts: Sequence[tuple[int, int]] | None = None, delta: float = 0.0, confidence: float = 0.95, seed: int = 0) -> OneRunBound:
    """One-run ε lower bound from scores of m records whose membership was decided by fair coin flips.

    The guess sets are fixed before looking at the outcome — never tuned to
    maximise the bound on the same records: ``guess_counts`` is a list of
    (k_positive, k_negative) pairs (default: for k = 1 %, 5 %, 20 %, 50 % of
    m, the top k guessed "in" with no "out" guesses, and the top k "in" plus
    the bottom k "out", each capped at m/2). Every set is tested at
    significance (1 − confidence)/len(guess_counts) (Bonferroni) and the
    largest ε is returned.

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

    Examples
    --------
    >>> b = one_run_lower_bound([1.0] * 50 + [0.0] * 50, [True] * 50 + [False] * 50, guess_counts=[(50, 50)])
    >>> b.n_correct, round(b.epsilon_lb, 2)
    (100, 3.49)
    """
    _check_level(delta, confidence)
    scores = _check_scores(scores, "scores")
    is_member = np.asarray(is_member, dtype=bool)
    if is_member.shape != scores.shape:
        raise DataError(f"scores {scores.shape} and membership {is_member.shape} must have the same shape")
    m = scores.size
    counts = list(guess_counts) if guess_counts is not None else _default_guess_counts(m)
    if not counts:
        raise ValueError("guess_counts must name at least one (k_positive, k_negative) pair")
    significance = (1.0 - confidence) / len(counts)
    truth = np.where(is_member, 1, -1)
    best = None
    for k_positive, k_negative in counts:
        guesses = one_run_guesses(scores, int(k_positive), int(k_negative), seed=seed)
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
            "(Steinke, Nasr & Jagielski 2023, Theorem 3.1); guess sets fixed in advance, Bonferroni over them."
        ),
    )


# ---------------------------------------------------------------- audit entry

LABEL_HEURISTIC = "heuristic estimate"
LABEL_VALID = "lower bound"


@dataclass(frozen=True)
class AuditEpsilon:
    """The ε figure an audit reports for one attack.

    ``roc`` is always computed (:func:`epsilon_lower_bound`, split threshold)
    and is a *heuristic estimate* for a single model. ``one_run`` is computed
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

    def to_dict(self) -> dict:
        """``epsilon_lb``, ``label``, ``valid``, ``method``, ``delta``, ``confidence``, then ``roc`` and ``one_run`` (or None)."""
        return {
            "epsilon_lb": self.epsilon_lb, "label": self.label, "valid": self.valid, "method": self.method,
            "delta": self.delta, "confidence": self.confidence,
            "roc": self.roc.to_dict(), "one_run": None if self.one_run is None else self.one_run.to_dict(),
        }


def audit_epsilon(scores, is_member, *, delta: float = DEFAULT_DELTA, confidence: float = 0.95, seed: int = 0, membership_randomized: bool = False) -> AuditEpsilon:
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
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    members, nonmembers = scores[is_member], scores[~is_member]
    split = members.size >= 2 and nonmembers.size >= 2
    roc = epsilon_lower_bound(members, nonmembers, delta=delta, confidence=confidence, seed=seed, split=split)
    one_run = None
    if membership_randomized:
        one_run = one_run_lower_bound(scores, is_member, delta=delta, confidence=confidence, seed=seed)
    return AuditEpsilon(roc=roc, one_run=one_run)
