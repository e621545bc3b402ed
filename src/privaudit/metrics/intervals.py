"""Confidence intervals for membership-inference figures.

* :func:`clopper_pearson` — exact binomial interval for a rate k/n (TPR or FPR at
  a fixed threshold).
* :func:`bootstrap_auc` — stratified percentile bootstrap of the AUC: members
  and non-members are resampled separately (their counts are fixed by the audit
  design). Each replicate is evaluated exactly through weighted counts on
  the sorted non-member scores, O(B·(n_m + n_n)) after one sort, with no
  re-sorting per replicate.
* :func:`delong_auc_interval` — DeLong, DeLong & Clarke-Pearson (1988): the AUC's
  variance from its structural components, O(n log n) (one sort, two
  ``searchsorted``), a normal interval. :func:`privaudit.metrics.evaluate_scores`
  uses it from :data:`DELONG_MIN_RECORDS` members and non-members each, where the
  bootstrap's 1,000 × n resampled counts dominate an audit's cost and the normal
  approximation it relies on is excellent.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from privaudit.metrics.roc import check_scores

__all__ = ["clopper_pearson", "bootstrap_auc", "delong_auc_interval", "DELONG_MIN_RECORDS"]

#: from this many members AND non-members, AUC intervals are DeLong's instead of the bootstrap's
DELONG_MIN_RECORDS = 50_000


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) two-sided interval for a binomial proportion k/n.

    Lower end is 0 when k = 0 and upper end 1 when k = n.
    """
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= k <= n:
        raise ValueError("k must lie in [0, n]")
    alpha = 1.0 - confidence
    lower = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lower, upper


def bootstrap_auc(
    scores,
    is_member,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    chunk: int = 64,
) -> tuple[float, float, np.ndarray]:
    """Percentile bootstrap CI for the AUC; returns ``(lower, upper, replicates)``.

    For a replicate with multiplicities w (members) and v (non-members),
    AUC* = Σ_i w_i (V_<(s_i) + ½ V_=(s_i)) / (n_m n_n), where V_< and V_= are
    the v-weighted counts of non-member scores below / equal to s_i, read off
    cumulative sums of v over the sorted non-member scores.
    """
    scores, is_member = check_scores(scores, is_member)
    rng = np.random.default_rng(seed)
    members = scores[is_member]
    nonmembers = np.sort(scores[~is_member])
    n_m, n_n = members.size, nonmembers.size
    left = np.searchsorted(nonmembers, members, side="left")
    right = np.searchsorted(nonmembers, members, side="right")
    replicates = np.empty(n_bootstrap)
    # keep each chunk's (chunk × n_members) block near 16 M doubles
    chunk = max(1, min(chunk, 16_000_000 // max(n_m, n_n, 1)))
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        v = np.stack([np.bincount(rng.integers(0, n_n, n_n), minlength=n_n) for _ in range(b)]).astype(np.float64)
        cum = np.concatenate([np.zeros((b, 1)), np.cumsum(v, axis=1)], axis=1)
        per_member = cum[:, left] + 0.5 * (cum[:, right] - cum[:, left])  # (b, n_m)
        w = np.stack([np.bincount(rng.integers(0, n_m, n_m), minlength=n_m) for _ in range(b)]).astype(np.float64)
        replicates[start : start + b] = np.einsum("bi,bi->b", w, per_member) / (n_m * n_n)
    alpha = 1.0 - confidence
    lower, upper = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    return float(lower), float(upper), replicates


def delong_auc_interval(scores, is_member, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """DeLong's normal interval for the AUC; returns ``(lower, upper, standard error)``.

    DeLong, DeLong & Clarke-Pearson (1988), eqs. for the structural components:
    V10_i = (#{non-members < s_i} + ½ #{= s_i}) / n_n for member i and
    V01_j = (#{members > t_j} + ½ #{= t_j}) / n_m for non-member j; AUC = mean V10,
    Var(AUC) = S10 / n_m + S01 / n_n with S the sample variances (ddof 1).
    The interval AUC ± z·SE is clipped to [0, 1]. Cost: one sort of each class
    and a ``searchsorted`` each way, O(n log n), no resampling.
    """
    scores, is_member = check_scores(scores, is_member)
    members, nonmembers = np.sort(scores[is_member]), np.sort(scores[~is_member])
    n_m, n_n = members.size, nonmembers.size
    if n_m < 2 or n_n < 2:
        raise ValueError("DeLong's variance needs at least 2 members and 2 non-members")
    v10 = (np.searchsorted(nonmembers, members, "left") + np.searchsorted(nonmembers, members, "right")) / (2.0 * n_n)
    v01 = ((n_m - np.searchsorted(members, nonmembers, "right")) + (n_m - np.searchsorted(members, nonmembers, "left"))) / (2.0 * n_m)
    auc = float(v10.mean())
    se = float(np.sqrt(v10.var(ddof=1) / n_m + v01.var(ddof=1) / n_n))
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return max(0.0, auc - z * se), min(1.0, auc + z * se), se

