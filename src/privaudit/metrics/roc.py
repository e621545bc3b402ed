"""Exact ROC maths for membership scores (higher score = predicted member).

All functions are pure numpy. Ties are handled exactly: records with equal
scores enter the ROC together (one diagonal segment), so the AUC equals the
Mann–Whitney probability P(s_member > s_nonmember) + ½·P(equal).
"""

from __future__ import annotations

import numpy as np

from privaudit.exceptions import DataError

__all__ = ["check_scores", "roc_curve", "roc_auc", "tpr_at_fpr", "max_advantage"]


def check_scores(scores, is_member) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return ``(scores float64 (n,), is_member bool (n,))``.

    Raises :class:`DataError` on NaN scores, shape mismatch, or when either
    class is missing (no ROC exists then).
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member)
    if scores.ndim != 1 or is_member.shape != scores.shape:
        raise DataError(f"scores {scores.shape} and membership {is_member.shape} must be 1-D and of equal length")
    if is_member.dtype != bool:
        if not np.isin(is_member, (0, 1)).all():
            raise DataError("membership must be boolean or 0/1")
        is_member = is_member.astype(bool)
    if np.isnan(scores).any():
        raise DataError(f"{int(np.isnan(scores).sum())} scores are NaN; an attack must score every record")
    n_members = int(is_member.sum())
    if n_members == 0 or n_members == is_member.size:
        raise DataError("an ROC needs both members and non-members among the scored records")
    return scores, is_member


def roc_curve(scores, is_member) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC over every distinct threshold.

    Returns
    -------
    fpr, tpr : arrays of shape (k + 1,)
        Starting at (0, 0) and ending at (1, 1); point i is "predict member
        when score ≥ thresholds[i]".
    thresholds : array of shape (k + 1,)
        Distinct scores in decreasing order, preceded by +inf.

    Matches ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``.
    """
    scores, is_member = check_scores(scores, is_member)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_member = is_member[order]
    # last index of each run of equal scores (compared, not subtracted: inf − inf is NaN)
    distinct = np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1])
    ends = np.r_[distinct, sorted_scores.size - 1]
    tps = np.cumsum(sorted_member)[ends]
    fps = (ends + 1) - tps
    n_pos = tps[-1]
    n_neg = fps[-1]
    tpr = np.r_[0.0, tps / n_pos]
    fpr = np.r_[0.0, fps / n_neg]
    thresholds = np.r_[np.inf, sorted_scores[ends]]
    return fpr, tpr, thresholds


def roc_auc(scores, is_member) -> float:
    """Area under the exact ROC (trapezoids), = P(s_m > s_n) + ½ P(s_m = s_n)."""
    fpr, tpr, _ = roc_curve(scores, is_member)
    return float(np.trapezoid(tpr, fpr))


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target_fpr: float) -> tuple[float, int]:
    """Highest TPR among ROC points whose FPR ≤ ``target_fpr``; returns ``(tpr, index)``.

    No interpolation: the returned point is one a real threshold achieves.
    """
    ok = np.flatnonzero(fpr <= target_fpr + 1e-15)
    best = ok[np.argmax(tpr[ok])]  # fpr[0] == 0, so ok is never empty
    return float(tpr[best]), int(best)


def max_advantage(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Membership advantage max_t (TPR − FPR) (Yeom et al. 2018), in [0, 1]."""
    return float(np.max(tpr - fpr))
