"""Per-record p-values against a null sample, and the Benjamini–Hochberg correction.

Pure numpy; used by :mod:`privaudit.record_check` and :mod:`privaudit.record_nulls`.

* :func:`empirical_p_values` — against real null records (exchangeable with the
  checked record): ``(1 + #{null ≥ s}) / (n + 1)``.
* :func:`profile_p_values` — against fabricated profiles drawn from a model fitted
  on ``N`` real records: ``(1 + N·p̂) / (N + 1)``, floor ``1/(N + 1)`` whatever the
  number of profiles drawn.
* :func:`zero_count_upper_bound` — exact one-sided upper bound on a rate after
  0 events in n trials (≈ 3/n at 95 %).
* :func:`benjamini_hochberg` — q-values controlling the false-discovery rate.

>>> import numpy as np
>>> empirical_p_values(np.array([3.0, 0.5]), np.array([0.0, 1.0, 2.0, 2.5]))
array([0.2, 0.8])
>>> benjamini_hochberg(np.array([0.01, 0.04, 0.03])).round(3)
array([0.03, 0.04, 0.04])
"""

from __future__ import annotations

import numpy as np

from privaudit.exceptions import DataError
from privaudit.metrics.intervals import clopper_pearson

__all__ = ["empirical_p_values", "profile_p_values", "zero_count_upper_bound", "benjamini_hochberg", "power_and_bh_floor"]


def _count_at_least(scores, reference_scores, what: str, short: str) -> tuple[np.ndarray, int]:
    """``#{reference ≥ s}`` for each score (ties count against membership) and the reference size; both checked finite."""
    scores = np.asarray(scores, dtype=np.float64)
    reference = np.sort(np.asarray(reference_scores, dtype=np.float64).ravel())
    if reference.size == 0:
        raise DataError(f"a p-value needs at least one {what} score")
    if not (np.all(np.isfinite(reference)) and np.all(np.isfinite(scores))):
        raise DataError(f"scores and {short} scores must be finite")
    return reference.size - np.searchsorted(reference, scores, side="left"), int(reference.size)


def empirical_p_values(scores: np.ndarray, null_scores: np.ndarray) -> np.ndarray:
    """One-sided empirical p-values ``(1 + #{null ≥ s}) / (1 + n_null)``, shape of ``scores``.

    ``scores`` and ``null_scores`` are membership scores (higher = more
    member-like). Under the null hypothesis that a score is exchangeable with
    the null scores (it comes from a non-member like them), ``Pr[p ≤ t] ≤ t``
    for every t; with no ties p is exactly uniform on ``{1, ..., n+1}/(n+1)``.
    Ties count against membership (≥), so they only make p larger.
    O((n + n_null) log n_null) by sorting.
    """
    at_least, n_null = _count_at_least(scores, null_scores, "null (non-member)", "null")
    return (1.0 + at_least) / (1.0 + n_null)


def profile_p_values(scores: np.ndarray, profile_scores: np.ndarray, n_fitted: int) -> np.ndarray:
    """P-values against fabricated profiles: ``(1 + N·p̂) / (N + 1)``, shape of ``scores``.

    Parameters
    ----------
    scores : array, shape (n_checked,)
        Membership scores of the checked records (higher = more member-like).
    profile_scores : array, shape (n_profiles,)
        Scores of profiles drawn from a profile model (a smoothed bootstrap of
        real records, :class:`privaudit.fabricate.KernelProfileModel`).
    n_fitted : int
        Number ``N`` of real records the profile model was fitted on.

    Returns
    -------
    array, shape (n_checked,)
        ``p = (1 + N·p̂) / (N + 1)`` with ``p̂ = #{profile ≥ s} / n_profiles``
        the profiles' exceedance share (ties count against membership).

    Notes
    -----
    Profiles are perturbed copies of ``N`` real records, so they carry the
    information of ``N`` records, not of ``n_profiles``: the old
    ``(1 + #{profile ≥ s}) / (n_profiles + 1)`` could reach 1/10,001 from 200
    fitted records and was measured 6× too small in the tail (P(p ≤ 0.001) at N = 200).
    ``N·p̂`` estimates the number of *fitted records* that score at least
    ``s``; as the kernel bandwidth goes to 0 and ``n_profiles`` grows, ``p``
    becomes the exact conformal p-value ``(1 + #{fitted ≥ s}) / (N + 1)`` of
    the checked record against the fitted records, valid (``Pr[p ≤ t] ≤ t``)
    when the checked record is exchangeable with them. The smoothing and the
    Monte-Carlo error of ``p̂`` (standard deviation ``√(N·k/n_profiles)`` in
    ``N·p̂`` for ``k`` fitted records above ``s``) are the only departures; the
    calibration check of :mod:`privaudit.record_nulls` measures the result
    against real non-members, and the simulation in
    ``tests/test_claims_simulation_records.py`` measures it in the tail.
    The smallest p is ``1 / (N + 1)``.

    >>> import numpy as np
    >>> profile_p_values(np.array([5.0, 0.0]), np.array([-1.0, 0.5, 1.0, 2.0]), n_fitted=9)
    array([0.1  , 0.775])
    """
    if isinstance(n_fitted, bool) or not isinstance(n_fitted, (int, np.integer)) or n_fitted < 1:
        raise DataError(f"n_fitted must be a positive whole number of fitted records, got {n_fitted!r}")
    at_least, n_profiles = _count_at_least(scores, profile_scores, "profile", "profile")
    return (1.0 + n_fitted * at_least / n_profiles) / (1.0 + n_fitted)


def zero_count_upper_bound(n: int, confidence: float = 0.95) -> float:
    """Exact one-sided upper confidence bound on a rate after 0 events in ``n`` trials.

    Clopper–Pearson with 0 successes: the rate ``r`` with ``(1 − r)^n = 1 − confidence``,
    i.e. ``1 − (1 − confidence)^(1/n)`` (≈ 3.0/n at 95 %, the "rule of three").

    >>> round(zero_count_upper_bound(1000), 5)
    0.00299
    """
    if n < 1:
        raise DataError(f"an upper bound needs at least one trial, got n = {n}")
    if not 0 < confidence < 1:
        raise DataError(f"confidence must lie in (0, 1), got {confidence}")
    return float(-np.expm1(np.log1p(-confidence) / n))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), same shape and order as ``p_values``.

    ``q_(i) = min_{j ≥ i} min(1, m · p_(j) / j)`` over the ascending order; a
    record with ``q ≤ α`` is a discovery at false-discovery rate α. This
    controls the **false-discovery rate** (the expected share of wrong
    discoveries among those made), not the family-wise error rate (the chance of
    any wrong discovery). Empirical p-values that share one null sample are
    positively dependent (PRDS), under which BH keeps its guarantee (Bates et
    al. 2023, "Testing for outliers with conformal p-values", Ann. Statist.).
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise DataError("p-values must lie in [0, 1]")
    flat = p.ravel()
    m = flat.size
    order = np.argsort(flat, kind="stable")
    ranked = flat[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(ranked, 1.0)
    return q.reshape(p.shape)


def power_and_bh_floor(member_p, alpha: float, multiple: int = 1) -> tuple:
    """A check's power and its Benjamini–Hochberg floor from known members' p-values.

    Returns ``(power, ci, floor, floor_ci)``: the share of ``member_p`` with p ≤ ``alpha`` and the
    share with p ≤ ``alpha / multiple``, each with its 95 % Clopper–Pearson interval. With
    ``multiple`` items checked together, Benjamini–Hochberg rejects every p ≤ α/m whatever the
    other p-values and none above α, so the chance a member is called used lies between the two.

    >>> power_and_bh_floor(np.array([0.001, 0.01, 0.04, 0.5]), 0.05, 10)[::2]
    (0.75, 0.25)
    """
    p = np.asarray(member_p, dtype=np.float64).ravel()
    hits, floor_hits = int((p <= alpha).sum()), int((p <= alpha / int(multiple)).sum())
    return hits / p.size, clopper_pearson(hits, p.size), floor_hits / p.size, clopper_pearson(floor_hits, p.size)
