"""The per-target claim of an audit: is membership leakage detected, and how strong is it?

:func:`target_claim` turns the K attacks run on one target into one
:class:`TargetClaim`, in this order:

1. **Too few records** (fewer than ``MIN_MEMBERS`` members or
   ``MIN_NONMEMBERS`` non-members, :mod:`privaudit.metrics.small_sample`):
   status ``"too_few_records"``; no test is run and nothing is claimed either way.
2. **Family-wise test** (:func:`privaudit.metrics.familywise.max_t_test`): a
   max-T permutation test over the K attacks, in both tails, each at
   α = 1 − confidence.
3. **Scores inverted**: some attack ranks members significantly *below*
   non-members (lower-tail adjusted p ≤ α): status ``"scores_inverted"`` — a
   sign of swapped class order or labels, not of privacy — instead of a verdict.
4. **None detected**: no upper-tail adjusted p ≤ α: status ``"none_detected"``.
5. Otherwise leakage is detected and **graded by effect size** from intervals
   that hold *simultaneously* over every attack and operating point looked at
   (Bonferroni: m = K · (1 + P) statements, P the supported target FPRs
   ≤ ``GRADING_MAX_FPR``):

   * AUC: DeLong interval at two-sided level 1 − α/m
     (:func:`~privaudit.metrics.familywise.delong_variance`);
   * TPR and FPR at an operating point: Clopper–Pearson at two-sided level
     1 − α/m, the TPR's lower and the FPR's upper end (each one-sided α/(2m),
     so the pair holds with probability ≥ 1 − α/m);

   ``"severe"`` when some attack's AUC lower bound ≥ ``SEVERE_AUC`` or, at a
   supported FPR ≤ 1 %, its TPR lower bound ≥ ``SEVERE_TPR_RATIO`` × the FPR
   upper bound; ``"clear"`` with ``CLEAR_AUC`` / ``CLEAR_TPR_RATIO``;
   ``"weak"`` otherwise (detected, but no bound clears the "clear" bar).

With probability ≥ 1 − α, no statement is false: "detected" is wrong with
probability ≤ α under the null (exact, permutation), and a grade above "weak"
rests on bounds that all hold together with probability ≥ 1 − α. The TPR at
an FPR uses a threshold set from the non-member scores of the same audit, so
its Clopper–Pearson interval is conditional on that threshold (see
``docs/claims.md``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from privaudit.metrics.familywise import DEFAULT_PERMUTATIONS, MAX_T_METHOD, delong_variance, max_t_test
from privaudit.metrics.intervals import clopper_pearson
from privaudit.metrics.small_sample import MIN_MEMBERS, MIN_NONMEMBERS, enough_records

__all__ = [
    "CLEAR_AUC", "SEVERE_AUC", "CLEAR_TPR_RATIO", "SEVERE_TPR_RATIO", "GRADING_MAX_FPR",
    "MAX_PERMUTATIONS", "GRADES", "STATUSES", "GradeEvidence", "TargetClaim", "permutations_for", "target_claim", "audit_claims",
]

#: "clear" when some attack's simultaneous AUC lower bound reaches this (ranks a random member above a random non-member
#: at least 55 % of the time: small on average, but not noise).
CLEAR_AUC = 0.55
#: "severe" from this simultaneous AUC lower bound (the attack is right 7 times in 10 on a random member/non-member pair).
SEVERE_AUC = 0.70
#: "clear" when, at a supported FPR ≤ GRADING_MAX_FPR, the TPR lower bound is at least this multiple of the FPR upper bound.
CLEAR_TPR_RATIO = 2.0
#: "severe" from this multiple: flagged records are then at least 10× more likely members than non-members.
SEVERE_TPR_RATIO = 10.0
#: Operating points used by the grades: target FPRs at most this (the low-FPR regime, Carlini et al. 2022).
GRADING_MAX_FPR = 0.01

#: Most relabellings :func:`permutations_for` asks for (a level α below 2 / (this + 1) is then out of the test's reach).
MAX_PERMUTATIONS = 99_999

#: Graded statuses, weakest first.
GRADES = ("none_detected", "weak", "clear", "severe")
#: Every status a claim can have.
STATUSES = ("too_few_records", "scores_inverted", *GRADES)


@dataclass(frozen=True)
class GradeEvidence:
    """The simultaneous bound behind a grade: an AUC lower bound, or TPR/FPR bounds at one operating point."""

    attack: str
    kind: str  # "auc" or "tpr_at_fpr"
    auc_lower: float | None = None
    target_fpr: float | None = None
    tpr_lower: float | None = None
    fpr_upper: float | None = None


@dataclass(frozen=True)
class TargetClaim:
    """What an audit may claim about one target; see the module docstring for the procedure.

    ``p_upper`` / ``p_lower`` / ``auc_bounds`` align with ``attacks`` (empty
    when ``status == "too_few_records"``). ``alpha = 1 − confidence``.
    """

    target: str
    status: str
    attacks: tuple[str, ...]
    alpha: float
    n_members: int
    n_nonmembers: int
    method: str = MAX_T_METHOD
    n_permutations: int = 0
    p_upper: tuple[float, ...] = ()
    p_lower: tuple[float, ...] = ()
    n_simultaneous: int = 0
    auc_bounds: tuple[tuple[float, float], ...] = ()
    evidence: GradeEvidence | None = None
    min_members: int = MIN_MEMBERS
    min_nonmembers: int = MIN_NONMEMBERS
    thresholds: dict = field(default_factory=lambda: {
        "clear_auc": CLEAR_AUC, "severe_auc": SEVERE_AUC, "clear_tpr_ratio": CLEAR_TPR_RATIO,
        "severe_tpr_ratio": SEVERE_TPR_RATIO, "grading_max_fpr": GRADING_MAX_FPR})

    @property
    def n_attacks(self) -> int:
        """K, the number of attacks the claim is corrected over."""
        return len(self.attacks)

    @property
    def detected(self) -> bool:
        """True when leakage is claimed (a grade of weak, clear or severe)."""
        return self.status in GRADES[1:]

    @property
    def min_p_upper(self) -> float | None:
        """Smallest upper-tail adjusted p-value, or None without a test."""
        return min(self.p_upper) if self.p_upper else None

    def strongest_attack(self) -> str | None:
        """The attack with the smallest upper-tail adjusted p-value (ties: the first)."""
        return self.attacks[int(np.argmin(self.p_upper))] if self.p_upper else None

    def inverted_attacks(self) -> tuple[str, ...]:
        """Attacks whose lower-tail adjusted p-value is ≤ α."""
        return tuple(a for a, p in zip(self.attacks, self.p_lower) if p <= self.alpha)

    def to_dict(self) -> dict:
        """JSON-ready dict (the ``claims`` entry of ``report.json``)."""
        d = asdict(self)
        d.update(n_attacks=self.n_attacks, detected=self.detected, attacks=list(self.attacks), p_upper=list(self.p_upper),
                 p_lower=list(self.p_lower), auc_bounds=[list(b) for b in self.auc_bounds],
                 inverted_attacks=list(self.inverted_attacks()))
        return d


def permutations_for(alpha: float) -> int:
    """Relabellings B for level α: the default 1,999, more when α < 2 / 2,000 (so that p can reach α/2), at most MAX_PERMUTATIONS.

    Examples
    --------
    >>> permutations_for(0.05), permutations_for(0.001), permutations_for(0.0001)
    (1999, 1999, 19999)
    """
    return int(min(MAX_PERMUTATIONS, max(DEFAULT_PERMUTATIONS, math.ceil(2.0 / alpha - 1e-9) - 1)))


def _grade(names, auc, variance, points, alpha: float, n_members: int, n_nonmembers: int):
    """Grade, number of simultaneous statements and per-attack AUC bounds (see the module docstring)."""
    grading_fprs = sorted({f for ops in points for f, op in ops.items() if op.supported and f <= GRADING_MAX_FPR + 1e-15})
    m = len(names) * (1 + len(grading_fprs))
    level = 1.0 - alpha / m
    z = float(stats.norm.ppf(1.0 - alpha / (2.0 * m)))
    half = z * np.sqrt(np.clip(variance, 0.0, None))
    bounds = tuple((max(0.0, float(a - h)), min(1.0, float(a + h))) for a, h in zip(auc, half))
    grade, evidence, rank = "weak", None, GRADES.index("weak")

    def consider(new_grade: str, new_evidence: GradeEvidence) -> None:
        """Keep the highest grade; among AUC evidence for the same grade, the largest lower bound."""
        nonlocal grade, evidence, rank
        new_rank = GRADES.index(new_grade)
        stronger_auc = (new_rank == rank and evidence is not None and evidence.kind == new_evidence.kind == "auc"
                        and new_evidence.auc_lower > evidence.auc_lower)
        if new_rank > rank or stronger_auc:
            grade, evidence, rank = new_grade, new_evidence, new_rank

    for name, (lower, _), ops in zip(names, bounds, points):
        if lower >= CLEAR_AUC:
            consider("severe" if lower >= SEVERE_AUC else "clear", GradeEvidence(name, "auc", auc_lower=lower))
        for f in grading_fprs:
            op = ops.get(f)
            if op is None:
                continue
            tpr_lower = clopper_pearson(op.true_positives, n_members, level)[0]
            fpr_upper = clopper_pearson(op.false_positives, n_nonmembers, level)[1]
            ratio_evidence = GradeEvidence(name, "tpr_at_fpr", target_fpr=f, tpr_lower=tpr_lower, fpr_upper=fpr_upper)
            if tpr_lower >= SEVERE_TPR_RATIO * fpr_upper:
                consider("severe", ratio_evidence)
            elif tpr_lower >= CLEAR_TPR_RATIO * fpr_upper:
                consider("clear", ratio_evidence)
    return grade, evidence, m, bounds


def target_claim(target: str, attacks, scores, is_member, operating_points=None, *, confidence: float = 0.95,
                 seed: int = 0, n_permutations: int | None = None) -> TargetClaim:
    """The corrected, graded claim about one target from its K attacks.

    Parameters
    ----------
    target : str
    attacks : sequence of str, length K
        Attack names, aligned with the rows of ``scores``.
    scores : array, shape (K, n)
        Membership scores (higher = more likely a member).
    is_member : bool array, shape (n,)
    operating_points : sequence of dict, length K, optional
        Per attack, target FPR → :class:`~privaudit.metrics.OperatingPoint`
        (``ScoreMetrics.operating_points``); without them grades use the AUC only.
    confidence : float
        α = 1 − confidence for the family-wise test and the simultaneous intervals.
    seed, n_permutations
        Of the max-T permutation test; ``n_permutations`` defaults to :func:`permutations_for` (α).

    Returns
    -------
    TargetClaim
    """
    is_member = np.asarray(is_member, dtype=bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    names = tuple(str(a) for a in attacks)
    if len(names) != scores.shape[0]:
        raise ValueError(f"{len(names)} attack names for {scores.shape[0]} score rows")
    alpha = round(1.0 - float(confidence), 12)
    n_members, n_nonmembers = int(is_member.sum()), int((~is_member).sum())
    base = dict(target=target, attacks=names, alpha=alpha, n_members=n_members, n_nonmembers=n_nonmembers)
    if not enough_records(n_members, n_nonmembers):
        return TargetClaim(status="too_few_records", **base)
    n_permutations = permutations_for(alpha) if n_permutations is None else int(n_permutations)
    test = max_t_test(scores, is_member, n_permutations=n_permutations, seed=seed)
    auc, variance = delong_variance(scores, is_member)
    points = list(operating_points) if operating_points is not None else [{} for _ in names]
    grade, evidence, m, bounds = _grade(names, auc, variance, points, alpha, n_members, n_nonmembers)
    if (test.p_lower <= alpha).any():
        status, evidence = "scores_inverted", None
    elif test.p_upper.min() > alpha:
        status, evidence = "none_detected", None
    else:
        status = grade
    return TargetClaim(status=status, method=test.method, n_permutations=test.n_permutations, p_upper=tuple(float(p) for p in test.p_upper),
                       p_lower=tuple(float(p) for p in test.p_lower), n_simultaneous=m, auc_bounds=bounds, evidence=evidence,
                       **base)


def audit_claims(results, is_member, *, confidence: float = 0.95, seed: int = 0,
                 n_permutations: int | None = None) -> dict[str, TargetClaim]:
    """One :class:`TargetClaim` per target from an audit's results.

    Parameters
    ----------
    results : sequence of AttackResult
        Each with ``target``, ``attack``, ``scores`` (shape (n,)) and
        ``metrics.operating_points``; the family of a target is every result for it.
    is_member : bool array, shape (n,)
    confidence, seed, n_permutations
        See :func:`target_claim`.

    Returns
    -------
    dict
        Target name → claim, in the order targets first appear.
    """
    claims: dict[str, TargetClaim] = {}
    for target in dict.fromkeys(r.target for r in results):
        pool = [r for r in results if r.target == target]
        claims[target] = target_claim(
            target, [r.attack for r in pool], np.stack([np.asarray(r.scores, dtype=np.float64) for r in pool]), is_member,
            [r.metrics.operating_points for r in pool], confidence=confidence, seed=seed, n_permutations=n_permutations)
    return claims
