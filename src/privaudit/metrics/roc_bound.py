"""The ROC / hypothesis-testing ε bound: ε from the error rates of one test "score ≥ threshold ⇒ member".

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

**Low-FPR region** (``max_fpr``). An audit of one model reads membership
leakage at low FPR; the far corner of the ROC (e.g. FNR 0.5 % at FPR 81 %:
members almost never score low) can give a large ε through the second side of
(2) although the attack is useless where the verdict looks. With ``max_fpr``
the threshold is chosen only among tests whose FPR (on the selection half) is
at most ``max_fpr``, and only the first side ln((1 − δ − FNR⁺)/FPR⁺) is used:
ε > 0 then needs the lower confidence end of the TPR to exceed the upper end of
a small FPR — detectable leakage in that region. Dropping one side keeps the
bound valid (it can only be smaller).

Validity: (1) is about one pair of neighbouring datasets, so the counts
must come from independent trials — e.g. one training run per trial, each
with or without the audited record. Scores of many records from **one**
model are not independent trials: for them the figure is a *heuristic
estimate* of the leakage, not a proven bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

from privaudit.metrics.one_run import check_level, check_score_vector

__all__ = [
    "SINGLE_MODEL_CAVEAT",
    "EpsilonBound",
    "clopper_pearson_upper",
    "epsilon_from_error_counts",
    "epsilon_lower_bound",
    "epsilon_lower_bound_at_threshold",
]

SINGLE_MODEL_CAVEAT = (
    "Heuristic estimate: inequality (1) holds for independent trials (e.g. one training run per trial); "
    "scores of many records from one model are not independent trials, so this figure is not a proven DP lower bound."
)

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
    check_level(delta, confidence)
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
    ``max_fpr`` is the largest FPR the threshold could be chosen at (None: any),
    in which case only the ``"fpr"`` side of (2) is used.
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
    max_fpr: float | None = None

    def to_dict(self) -> dict:
        """Plain dict (a non-finite threshold becomes None)."""
        d = asdict(self)
        if not np.isfinite(d["threshold"]):
            d["threshold"] = None
        return d


def _at_threshold(members: np.ndarray, nonmembers: np.ndarray, threshold: float, delta: float, confidence: float,
                  fpr_side_only: bool = False) -> dict:
    fn = int(np.count_nonzero(members < threshold))
    fp = int(np.count_nonzero(nonmembers >= threshold))
    term_fpr, term_fnr, fpr_upper, fnr_upper = _bound_terms(fp, nonmembers.size, fn, members.size, delta, confidence)
    term_fpr, term_fnr = float(term_fpr), float(term_fnr)
    if fpr_side_only:
        term_fnr = -np.inf
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
    check_level(delta, confidence)
    members = check_score_vector(member_scores, "member_scores")
    nonmembers = check_score_vector(nonmember_scores, "nonmember_scores")
    fields = _at_threshold(members, nonmembers, float(threshold), delta, confidence)
    return EpsilonBound(**fields, n_members_selection=0, n_nonmembers_selection=0, threshold_selection="fixed",
                        assumption=SINGLE_MODEL_CAVEAT + " Threshold fixed in advance.")


def _best_threshold(members: np.ndarray, nonmembers: np.ndarray, delta: float, confidence: float, max_fpr: float | None = None) -> float:
    """The distinct score whose test maximises bound (2) on these records (ties: the lowest such score).

    With ``max_fpr``: among tests whose FPR on these records is ≤ ``max_fpr``
    (+inf, flagging no one, is always one), maximising the ``"fpr"`` side only.
    """
    candidates = np.unique(np.concatenate([members, nonmembers]))
    if max_fpr is not None:
        candidates = np.append(candidates, np.inf)
    sorted_members, sorted_nonmembers = np.sort(members), np.sort(nonmembers)
    fn = np.searchsorted(sorted_members, candidates, side="left")
    fp = nonmembers.size - np.searchsorted(sorted_nonmembers, candidates, side="left")
    if max_fpr is None:
        term_fpr, term_fnr, _, _ = _bound_terms(fp, nonmembers.size, fn, members.size, delta, confidence)
        return float(candidates[int(np.argmax(np.maximum(term_fpr, term_fnr)))])
    # only tests within max_fpr compete: the exact bounds (one betaincinv each) are computed for those alone
    eligible = np.flatnonzero(fp <= max_fpr * nonmembers.size)  # never empty: +inf flags no one
    term_fpr = _bound_terms(fp[eligible], nonmembers.size, fn[eligible], members.size, delta, confidence)[0]
    return float(candidates[eligible[int(np.argmax(term_fpr))]])


def epsilon_lower_bound(member_scores, nonmember_scores, *, delta: float = 0.0, confidence: float = 0.95, seed: int = 0, split: bool = True,
                        max_fpr: float | None = None) -> EpsilonBound:
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
    max_fpr : float, optional
        Choose the threshold only among tests with FPR ≤ ``max_fpr`` on the
        selection half, and use only the ln((1 − δ − FNR⁺)/FPR⁺) side of (2)
        (the low-FPR region; see the module docstring). None: every
        threshold, both sides.

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
    check_level(delta, confidence)
    if max_fpr is not None and not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must lie in (0, 1], got {max_fpr}")
    fpr_side_only = max_fpr is not None
    region = "" if max_fpr is None else f" Low-FPR region only: threshold at FPR ≤ {max_fpr:g}, ln((1 − δ − FNR⁺)/FPR⁺) side."
    minimum = 2 if split else 1
    members = check_score_vector(member_scores, "member_scores", minimum)
    nonmembers = check_score_vector(nonmember_scores, "nonmember_scores", minimum)
    if not split:
        threshold = _best_threshold(members, nonmembers, delta, confidence, max_fpr)
        fields = _at_threshold(members, nonmembers, threshold, delta, confidence, fpr_side_only)
        return EpsilonBound(**fields, n_members_selection=members.size, n_nonmembers_selection=nonmembers.size,
                            threshold_selection="same records", max_fpr=max_fpr,
                            assumption=SINGLE_MODEL_CAVEAT + " Threshold chosen on the same records: optimistic even for independent trials." + region)
    rng = np.random.default_rng(seed)
    members = members[rng.permutation(members.size)]
    nonmembers = nonmembers[rng.permutation(nonmembers.size)]
    m_cut, n_cut = members.size // 2, nonmembers.size // 2
    threshold = _best_threshold(members[:m_cut], nonmembers[:n_cut], delta, confidence, max_fpr)
    fields = _at_threshold(members[m_cut:], nonmembers[n_cut:], threshold, delta, confidence, fpr_side_only)
    return EpsilonBound(**fields, n_members_selection=m_cut, n_nonmembers_selection=n_cut, threshold_selection="split", max_fpr=max_fpr,
                        assumption=SINGLE_MODEL_CAVEAT + f" Threshold chosen on a random half (seed {seed}), bound computed on the other half." + region)

