"""Per-record p-values against a null sample, and the Benjamini–Hochberg correction.

Pure numpy; used by :mod:`privaudit.record_check`.

>>> import numpy as np
>>> empirical_p_values(np.array([3.0, 0.5]), np.array([0.0, 1.0, 2.0, 2.5]))
array([0.2, 0.8])
>>> benjamini_hochberg(np.array([0.01, 0.04, 0.03])).round(3)
array([0.03, 0.04, 0.04])
"""

from __future__ import annotations

import numpy as np

from privaudit.exceptions import DataError

__all__ = ["empirical_p_values", "benjamini_hochberg"]


def empirical_p_values(scores: np.ndarray, null_scores: np.ndarray) -> np.ndarray:
    """One-sided empirical p-values ``(1 + #{null ≥ s}) / (1 + n_null)``, shape of ``scores``.

    ``scores`` and ``null_scores`` are membership scores (higher = more
    member-like). Under the null hypothesis that a score is exchangeable with
    the null scores (it comes from a non-member like them), ``Pr[p ≤ t] ≤ t``
    for every t; with no ties p is exactly uniform on ``{1, ..., n+1}/(n+1)``.
    Ties count against membership (≥), so they only make p larger.
    O((n + n_null) log n_null) by sorting.
    """
    scores = np.asarray(scores, dtype=np.float64)
    null = np.sort(np.asarray(null_scores, dtype=np.float64).ravel())
    if null.size == 0:
        raise DataError("a p-value needs at least one null (non-member) score")
    if not (np.all(np.isfinite(null)) and np.all(np.isfinite(scores))):
        raise DataError("scores and null scores must be finite")
    at_least = null.size - np.searchsorted(null, scores, side="left")
    return (1.0 + at_least) / (1.0 + null.size)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), same shape and order as ``p_values``.

    ``q_(i) = min_{j ≥ i} min(1, m · p_(j) / j)`` over the ascending order; a
    record with ``q ≤ α`` is a discovery at false-discovery rate α.
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
