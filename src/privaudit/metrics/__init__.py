"""Metrics: exact ROC, AUC with bootstrap CI, TPR at fixed FPR with exact CIs, ε lower bounds.

:func:`evaluate_scores` is what audits call; the pieces live in
:mod:`privaudit.metrics.roc`, :mod:`privaudit.metrics.intervals` and
:mod:`privaudit.metrics.epsilon`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from privaudit.metrics.epsilon import (
    DEFAULT_DELTA,
    DEFAULT_HEURISTIC_MAX_FPR,
    AuditEpsilon,
    EpsilonBound,
    OneRunBound,
    audit_epsilon,
    epsilon_lower_bound,
    epsilon_lower_bound_at_threshold,
    one_run_lower_bound,
)
from privaudit.metrics.intervals import DELONG_MIN_RECORDS, bootstrap_auc, clopper_pearson, delong_auc_interval
from privaudit.metrics.roc import check_scores, max_advantage, roc_auc, roc_curve, tpr_at_fpr
from privaudit.metrics.small_sample import HOEFFDING_METHOD, MIN_MEMBERS, MIN_NONMEMBERS, enough_records, hoeffding_auc_interval

__all__ = [
    "DEFAULT_FPRS",
    "MIN_EXPECTED_FALSE_POSITIVES",
    "MIN_MEMBERS",
    "MIN_NONMEMBERS",
    "OperatingPoint",
    "ScoreMetrics",
    "evaluate_scores",
    "roc_curve",
    "roc_auc",
    "tpr_at_fpr",
    "max_advantage",
    "clopper_pearson",
    "bootstrap_auc",
    "delong_auc_interval",
    "check_scores",
    "DEFAULT_DELTA",
    "AuditEpsilon",
    "EpsilonBound",
    "OneRunBound",
    "audit_epsilon",
    "epsilon_lower_bound",
    "epsilon_lower_bound_at_threshold",
    "one_run_lower_bound",
]

DEFAULT_FPRS: tuple[float, ...] = (0.1, 0.01, 0.001, 0.0001)

#: A TPR at FPR f is reported as supported only when n_nonmembers · f ≥ this.
#: With fewer non-members the FPR itself is resolved in steps too coarse to
#: mean anything (e.g. 0.01 % FPR on 5,000 non-members allows no false positive
#: at all), and the figure is flagged instead of printed bare.
MIN_EXPECTED_FALSE_POSITIVES = 10


@dataclass(frozen=True)
class OperatingPoint:
    """The best threshold whose realised FPR does not exceed a target FPR.

    ``ci`` is the Clopper–Pearson interval of the TPR at that threshold;
    ``fpr_ci`` the same for the realised FPR. The threshold is picked on the
    same records it is evaluated on, which makes the TPR slightly optimistic
    at very low FPR; ``supported`` is False where the sample cannot resolve
    the target FPR (see ``MIN_EXPECTED_FALSE_POSITIVES``).
    """

    target_fpr: float
    tpr: float
    ci: tuple[float, float]
    fpr_realised: float
    fpr_ci: tuple[float, float]
    threshold: float
    true_positives: int
    false_positives: int
    supported: bool


@dataclass(frozen=True)
class ScoreMetrics:
    """Everything privaudit reports about one set of membership scores.

    ``epsilon_lower_bound`` is the ε entry (:class:`~privaudit.metrics.epsilon.AuditEpsilon`),
    or None when :func:`evaluate_scores` was asked for none (``delta=None``).
    """

    auc: float
    auc_ci: tuple[float, float]
    advantage: float
    balanced_accuracy: float
    n_members: int
    n_nonmembers: int
    operating_points: dict[float, OperatingPoint] = field(default_factory=dict)
    confidence: float = 0.95
    n_bootstrap: int = 1000
    epsilon_lower_bound: AuditEpsilon | None = None
    #: how ``auc_ci`` was computed: "bootstrap" (stratified percentile), "delong" from DELONG_MIN_RECORDS members and
    #: non-members each (:func:`~privaudit.metrics.intervals.delong_auc_interval`), or "hoeffding" below
    #: MIN_MEMBERS / MIN_NONMEMBERS, where a bootstrap is meaningless (:mod:`privaudit.metrics.small_sample`)
    auc_ci_method: str = "bootstrap"

    def to_dict(self) -> dict:
        """JSON-ready dict in the ``report.json`` result layout (FPR keys as strings)."""
        d = asdict(self)
        d["epsilon_lower_bound"] = None if self.epsilon_lower_bound is None else self.epsilon_lower_bound.to_dict()
        ops = d.pop("operating_points")
        d["auc_ci"] = list(self.auc_ci)
        d["tpr_at_fpr"] = {
            format(fpr, "g"): {**{k: v for k, v in op.items() if k != "target_fpr"}, "ci": list(op["ci"]), "fpr_ci": list(op["fpr_ci"])}
            for fpr, op in ops.items()
        }
        for op in d["tpr_at_fpr"].values():
            if not np.isfinite(op["threshold"]):
                op["threshold"] = None
        return d


def evaluate_scores(
    scores,
    is_member,
    *,
    fprs=DEFAULT_FPRS,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    delta: float | None = DEFAULT_DELTA,
    membership_randomized: bool = False,
    n_epsilon_candidates: int = 1,
) -> ScoreMetrics:
    """Compute AUC (+ bootstrap CI), TPR at each FPR (+ exact CIs), advantage, ε lower bound.

    With fewer than ``MIN_MEMBERS`` members or ``MIN_NONMEMBERS`` non-members
    the AUC interval is Hoeffding's distribution-free one instead of the
    bootstrap; from ``DELONG_MIN_RECORDS`` (50,000) members and non-members each it is
    DeLong's O(n log n) normal interval (``auc_ci_method`` says which). Where the scores separate members
    from non-members completely (AUC 0 or 1) both would have zero width, and Hoeffding's interval is used.

    Parameters
    ----------
    scores : array, shape (n,)
        Membership scores, higher = more likely a member.
    is_member : bool array, shape (n,)
    fprs : iterable of float
        Target false-positive rates in (0, 1).
    confidence : float
        Level of every interval.
    n_bootstrap : int
        Bootstrap replicates for the AUC interval.
    seed : int
        Seed of the bootstrap (and of the ε bound's random split).
    delta : float or None
        δ of the ε lower bound (:func:`~privaudit.metrics.epsilon.audit_epsilon`,
        at level ``confidence``); None skips it.
    membership_randomized : bool
        True when each record was made a member by an independent fair coin
        flip: adds the one-run bound, which is then a valid lower bound.
    n_epsilon_candidates : int
        Number of attacks whose ε the report compares (their maximum is the
        headline): the one-run bound is corrected for them (Bonferroni). The
        heuristic ε uses the low-FPR region, FPR ≤ max(``fprs``).

    Examples
    --------
    >>> m = evaluate_scores([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0], fprs=[0.5], n_bootstrap=50)
    >>> m.auc, m.operating_points[0.5].tpr
    (1.0, 1.0)
    """
    scores, is_member = check_scores(scores, is_member)
    n_members = int(is_member.sum())
    n_nonmembers = int(is_member.size - n_members)
    fpr, tpr, thresholds = roc_curve(scores, is_member)
    auc = float(np.trapezoid(tpr, fpr))
    if min(n_members, n_nonmembers) >= DELONG_MIN_RECORDS:  # 1,000 resamples of n records would dominate the audit's cost
        lower, upper, _ = delong_auc_interval(scores, is_member, confidence=confidence)
        auc_ci_method = "delong"
    elif enough_records(n_members, n_nonmembers):
        lower, upper, _ = bootstrap_auc(scores, is_member, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed)
        auc_ci_method = "bootstrap"
    else:  # a bootstrap of a handful of records is meaningless: the distribution-free interval instead
        (lower, upper), auc_ci_method = hoeffding_auc_interval(auc, n_members, n_nonmembers, confidence), HOEFFDING_METHOD
    if auc_ci_method != HOEFFDING_METHOD and upper == lower and auc in (0.0, 1.0):
        # complete separation: every resample (and DeLong's variance) sees none of the rare crossings a true AUC just
        # below 1 allows, so the interval would be the point; Hoeffding's distribution-free one is valid at any AUC
        (lower, upper), auc_ci_method = hoeffding_auc_interval(auc, n_members, n_nonmembers, confidence), HOEFFDING_METHOD
    advantage = max_advantage(fpr, tpr)
    points = {}
    for target in fprs:
        target = float(target)
        if not 0 < target < 1:
            raise ValueError(f"target FPR must lie in (0, 1), got {target}")
        value, index = tpr_at_fpr(fpr, tpr, target)
        tp = int(round(tpr[index] * n_members))
        fp = int(round(fpr[index] * n_nonmembers))
        points[target] = OperatingPoint(
            target_fpr=target,
            tpr=value,
            ci=clopper_pearson(tp, n_members, confidence),
            fpr_realised=float(fpr[index]),
            fpr_ci=clopper_pearson(fp, n_nonmembers, confidence),
            threshold=float(thresholds[index]),
            true_positives=tp,
            false_positives=fp,
            supported=n_nonmembers * target >= MIN_EXPECTED_FALSE_POSITIVES,
        )
    return ScoreMetrics(
        auc=auc,
        auc_ci=(lower, upper),
        advantage=advantage,
        balanced_accuracy=0.5 + advantage / 2,
        n_members=n_members,
        n_nonmembers=n_nonmembers,
        operating_points=points,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        auc_ci_method=auc_ci_method,
        epsilon_lower_bound=None if delta is None else audit_epsilon(
            scores, is_member, delta=delta, confidence=confidence, seed=seed, membership_randomized=membership_randomized,
            max_fpr=max(points) if points else DEFAULT_HEURISTIC_MAX_FPR, n_candidates=n_epsilon_candidates),
    )
