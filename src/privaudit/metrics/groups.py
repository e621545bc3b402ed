"""Group vulnerability: membership metrics per slice of the audited records, and the corrected "more exposed" claim.

Every slice is evaluated by :func:`privaudit.metrics.evaluate_scores` on its own
records, so a group's AUC, TPR at each FPR, intervals and ``supported`` flags
mean exactly what they mean for the whole audit.

* :func:`slice_metrics` — one :class:`GroupMetrics` per group label;
* :func:`exposure_tests` — each group against the rest of the records, Holm over
  every group of every slicing (:mod:`privaudit.metrics.group_test`): the only
  basis of the claim "the attack works measurably better on this group";
* :func:`disparity` — the group with the highest AUC against the overall figure
  (a point estimate), with the test result of that group and the groups claimed;
* :func:`most_exposed` — the records an attacker would flag first (ids only, no features);
* :func:`analyse_groups` — all of the above for each target's best attack (used by ``audit``).

Label builders (:func:`by_column`, :func:`age_bands`, :func:`by_class_frequency`,
:func:`by_outlierness`, :func:`labels_from_specs`, ...) live in
:mod:`privaudit.metrics.group_labels` and are importable from here.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
>>> groups = np.tile(["a", "b"], 200)
>>> scores = rng.normal(size=400) + is_member * (groups == "b")
>>> found = slice_metrics(scores, is_member, groups, n_bootstrap=50)
>>> [g.name for g in found], found[1].auc > found[0].auc
(['a', 'b'], True)
>>> exposure_tests(scores, is_member, {"g": groups})["g"]["b"].more_exposed
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from privaudit.exceptions import DataError
from privaudit.metrics import DEFAULT_FPRS, ScoreMetrics, evaluate_scores
from privaudit.metrics.group_labels import (
    MAX_COLUMN_GROUPS,
    MISSING_LABEL,
    OUTLIER_BANDS,
    age_bands,
    by_class_frequency,
    by_column,
    by_outlierness,
    encode_features,
    group_label_array,
    labels_from_specs,
    spec_name,
)
from privaudit.metrics.group_test import CORRECTION_METHOD, MIN_GROUP_MEMBERS, MIN_GROUP_NONMEMBERS, GroupTest, exposure_tests

__all__ = [
    "MIN_GROUP_MEMBERS",
    "MIN_GROUP_NONMEMBERS",
    "N_EXPOSED",
    "OUTLIER_BANDS",
    "MAX_COLUMN_GROUPS",
    "MISSING_LABEL",
    "GroupMetrics",
    "GroupTest",
    "Disparity",
    "SlicingResult",
    "TargetGroups",
    "slice_metrics",
    "exposure_tests",
    "disparity",
    "by_column",
    "age_bands",
    "by_class_frequency",
    "by_outlierness",
    "encode_features",
    "most_exposed",
    "analyse_groups",
    "labels_from_specs",
    "spec_name",
]

#: Records listed by :func:`most_exposed` by default.
N_EXPOSED = 20


@dataclass(frozen=True)
class GroupMetrics:
    """Membership metrics of one group of audited records.

    ``metrics`` is :func:`~privaudit.metrics.evaluate_scores` on the group's
    records alone, or ``None`` when the group is ``too_small`` (``reason``
    says why). ``test`` is the group-vs-rest test (:func:`exposure_tests`),
    ``None`` when the group or the rest is too small or none was run.
    """

    name: str
    n_members: int
    n_nonmembers: int
    too_small: bool
    reason: str | None = None
    metrics: ScoreMetrics | None = None
    test: GroupTest | None = None

    @property
    def auc(self) -> float | None:
        return None if self.metrics is None else self.metrics.auc

    @property
    def auc_ci(self) -> tuple[float, float] | None:
        return None if self.metrics is None else self.metrics.auc_ci

    def to_dict(self) -> dict:
        """JSON-ready: ``group``, sizes, ``too_small``, ``reason``, ``vs_rest`` (the test or null), then the figures or nulls."""
        d = {"group": self.name, "n_members": self.n_members, "n_nonmembers": self.n_nonmembers,
             "too_small": self.too_small, "reason": self.reason, "vs_rest": None if self.test is None else self.test.to_dict()}
        if self.metrics is None:
            d.update(auc=None, auc_ci=None, advantage=None, balanced_accuracy=None, tpr_at_fpr={})
        else:
            m = self.metrics.to_dict()
            d.update(auc=m["auc"], auc_ci=m["auc_ci"], advantage=m["advantage"],
                     balanced_accuracy=m["balanced_accuracy"], tpr_at_fpr=m["tpr_at_fpr"])
        return d


@dataclass(frozen=True)
class Disparity:
    """The group with the highest AUC (among groups not too small) against the whole audit.

    A point estimate: ``worst_group`` is picked as the highest of
    ``n_groups_compared``, so its AUC and interval are optimistic and
    ``ci_above_overall`` (its whole interval above the overall AUC) is *not* a
    claim (uncorrected, and the group's records are part of the overall figure).
    The claim is ``more_exposed_groups``: the groups of this slicing whose
    group-vs-rest test survives Holm at ``alpha`` over ``n_tests`` tests
    (``correction``); ``p_value``/``p_adjusted`` are those of ``worst_group``
    (None when it was not tested).
    """

    worst_group: str
    auc: float
    auc_ci: tuple[float, float]
    overall_auc: float
    overall_auc_ci: tuple[float, float]
    difference: float
    ci_above_overall: bool
    n_groups_compared: int
    more_exposed_groups: tuple[str, ...] = ()
    p_value: float | None = None
    p_adjusted: float | None = None
    n_tests: int = 0
    alpha: float | None = None
    correction: str | None = None

    @property
    def more_exposed(self) -> bool:
        """Whether ``worst_group`` itself is claimed more exposed (after the correction)."""
        return self.worst_group in self.more_exposed_groups

    def to_dict(self) -> dict:
        return {"worst_group": self.worst_group, "auc": self.auc, "auc_ci": list(self.auc_ci),
                "overall_auc": self.overall_auc, "overall_auc_ci": list(self.overall_auc_ci),
                "difference": self.difference, "ci_above_overall": self.ci_above_overall,
                "n_groups_compared": self.n_groups_compared, "more_exposed": self.more_exposed,
                "more_exposed_groups": list(self.more_exposed_groups), "p_value": self.p_value, "p_adjusted": self.p_adjusted,
                "n_tests": self.n_tests, "alpha": self.alpha, "correction": self.correction}


@dataclass(frozen=True)
class SlicingResult:
    """One way of slicing the audited records (e.g. by ``sex``): its groups and disparity."""

    name: str
    groups: list[GroupMetrics]
    disparity: Disparity | None


@dataclass(frozen=True)
class TargetGroups:
    """Group analysis of one target's best attack.

    ``labels`` maps each slicing name to the group label of every audited
    record (aligned with ``AuditResult.record_ids``); ``most_exposed`` holds
    the :func:`most_exposed` rows (ids, rank, membership, score).
    """

    target: str
    attack: str
    slicings: dict[str, SlicingResult]
    most_exposed: list[dict]
    labels: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: positions of the ``most_exposed`` records among the audited records, in rank order
    exposed_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp), repr=False)

    def to_dict(self) -> dict:
        return {
            "attack": self.attack,
            "slicings": [
                {"name": s.name, "groups": [g.to_dict() for g in s.groups],
                 "disparity": None if s.disparity is None else s.disparity.to_dict()}
                for s in self.slicings.values()
            ],
            "most_exposed": [dict(r) for r in self.most_exposed],
        }


# --- metrics per slice ------------------------------------------------------------------------------------


def slice_metrics(
    scores,
    is_member,
    groups,
    *,
    fprs: Sequence[float] = DEFAULT_FPRS,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    min_members: int = MIN_GROUP_MEMBERS,
    min_nonmembers: int = MIN_GROUP_NONMEMBERS,
) -> list[GroupMetrics]:
    """Membership metrics of each group of records.

    Parameters
    ----------
    scores : array, shape (n,)
        Membership scores, higher = more likely a member.
    is_member : bool array, shape (n,)
    groups : array or Categorical, shape (n,)
        Group label of each record; missing values form the group ``"missing"``.
        Groups come in categorical order, otherwise sorted.
    fprs, confidence, n_bootstrap, seed
        As in :func:`~privaudit.metrics.evaluate_scores` (each group is
        bootstrapped with the same ``seed``).
    min_members, min_nonmembers : int
        Groups with fewer get ``too_small=True``, a ``reason`` and no figures.

    Returns
    -------
    list of GroupMetrics
        One per group present in ``groups``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    if scores.shape != is_member.shape or scores.ndim != 1:
        raise DataError(f"scores {scores.shape} and membership {is_member.shape} must be 1-D and of equal length")
    labels, order = group_label_array(groups, scores.size)
    out = []
    for name in order:
        mask = labels == name
        n_m = int(is_member[mask].sum())
        n_n = int(mask.sum()) - n_m
        short = []
        if n_m < max(min_members, 1):
            short.append(f"{n_m} member{'s' if n_m != 1 else ''} (needs ≥ {max(min_members, 1)})")
        if n_n < max(min_nonmembers, 1):
            short.append(f"{n_n} non-member{'s' if n_n != 1 else ''} (needs ≥ {max(min_nonmembers, 1)})")
        if short:
            out.append(GroupMetrics(name, n_m, n_n, True, "only " + " and ".join(short)))
            continue
        metrics = evaluate_scores(scores[mask], is_member[mask], fprs=fprs, confidence=confidence, n_bootstrap=n_bootstrap, seed=seed)
        out.append(GroupMetrics(name, n_m, n_n, False, None, metrics))
    return out


def disparity(groups: Sequence[GroupMetrics], overall: ScoreMetrics) -> Disparity | None:
    """The group with the highest AUC (among groups not too small) against the overall metrics.

    Returns ``None`` when no group is large enough. Ties go to the first group.
    The claim fields come from the groups' ``test`` (:func:`exposure_tests`);
    without tests no group is claimed more exposed.
    """
    usable = [g for g in groups if not g.too_small and g.metrics is not None]
    if not usable:
        return None
    worst = max(usable, key=lambda g: g.metrics.auc)
    m = worst.metrics
    tested = [g.test for g in usable if g.test is not None]
    return Disparity(
        worst_group=worst.name, auc=m.auc, auc_ci=tuple(m.auc_ci), overall_auc=overall.auc, overall_auc_ci=tuple(overall.auc_ci),
        difference=m.auc - overall.auc, ci_above_overall=bool(m.auc_ci[0] > overall.auc), n_groups_compared=len(usable),
        more_exposed_groups=tuple(g.name for g in usable if g.test is not None and g.test.more_exposed),
        p_value=None if worst.test is None else worst.test.p_value, p_adjusted=None if worst.test is None else worst.test.p_adjusted,
        n_tests=tested[0].n_tests if tested else 0, alpha=tested[0].alpha if tested else None,
        correction=f"{CORRECTION_METHOD} ({tested[0].n_tests} tests)" if tested else None,
    )


def most_exposed(scores, record_ids, is_member, n: int = N_EXPOSED) -> list[dict]:
    """The ``n`` records with the highest scores: ``rank`` (1 = highest), ``record_id``, ``member``, ``score``.

    No features are included. Ties keep record order.

    >>> [r["record_id"] for r in most_exposed([0.1, 0.9, 0.5], ["a", "b", "c"], [0, 1, 0], n=2)]
    ['b', 'c']
    """
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")[:n]
    ids = np.asarray(record_ids)
    member = np.asarray(is_member, dtype=bool)
    return [{"rank": rank + 1, "record_id": str(ids[i]), "member": bool(member[i]), "score": float(scores[i])} for rank, i in enumerate(order)]


# --- wiring -----------------------------------------------------------------------------------------------


def analyse_groups(result, groups: Mapping[str, object], *, n_bootstrap: int, n_exposed: int = N_EXPOSED,
                   alpha: float | None = None) -> dict[str, TargetGroups]:
    """Slice each target's best attack (``result.best(target)``) by every entry of ``groups``.

    The "more exposed" claims are tested per target over every group of every
    slicing (:func:`exposure_tests`, Holm at ``alpha``, default
    1 − ``result.confidence``).

    Parameters
    ----------
    result : AuditResult
        Uses ``results``, ``targets``, ``is_member``, ``record_ids``,
        ``fprs``, ``confidence`` and ``seed``.
    groups : mapping of slicing name → labels, shape (n_audited,)
        Aligned with ``result.record_ids`` (members then non-members).
    n_bootstrap : int

    Returns
    -------
    dict
        Target name → :class:`TargetGroups`.
    """
    n = len(result.record_ids)
    labels = {}
    for name, values in groups.items():
        if len(values) != n:
            raise DataError(f"group slicing '{name}' has {len(values)} labels, but the audit has {n} audited records (members then non-members)")
        labels[str(name)] = values
    out = {}
    for target in result.targets:
        if not any(r.target == target.name for r in result.results):
            continue
        best = result.best(target.name)
        tests = exposure_tests(best.scores, result.is_member, labels, alpha=1.0 - result.confidence if alpha is None else alpha)
        slicings = {}
        for name, values in labels.items():
            found = slice_metrics(best.scores, result.is_member, values, fprs=result.fprs, confidence=result.confidence,
                                  n_bootstrap=n_bootstrap, seed=result.seed)
            found = [replace(g, test=tests[name].get(g.name)) if not g.too_small else g for g in found]
            slicings[name] = SlicingResult(name, found, disparity(found, best.metrics))
        exposed = most_exposed(best.scores, result.record_ids, result.is_member, n_exposed)
        exposed_index = np.argsort(-np.asarray(best.scores, dtype=np.float64), kind="stable")[:n_exposed]  # as in most_exposed
        out[target.name] = TargetGroups(target.name, best.attack, slicings, exposed,
                                        {k: group_label_array(v, n)[0] for k, v in labels.items()}, exposed_index)
    return out

