"""Person-level ROC of an audit whose data has a person column (``data.person_column``).

With person ids, membership is per person (every record of a person has one
role; :class:`~privaudit.data.AuditData` refuses mixed roles), so the question
"was this person's data used?" has a ground truth. For each target's best
attack (by record-level AUC), every audited person gets one statistic from
their records' scores:

``T(P) = Σ_{x ∈ P} z(x) / √k``, with ``z(x) = Φ⁻¹((r(x) − ½)/N)`` the normal
score of the record's mid-rank among the ``N`` audited records and ``k`` the
person's number of records — the sum of :func:`privaudit.persons.person_tests`
(the rank combination; persons keep the sizes they have) scaled by ``√k``
(Stouffer), so that under the null of independent non-member records every
size has variance one and persons of different sizes share one threshold.
Member persons vs non-member persons are then evaluated like records
(:func:`privaudit.metrics.evaluate_scores`: AUC with its interval, TPR at the
report's FPRs with exact intervals), with ``n`` counted in persons. The best
attack is chosen among the target's ``K`` attacks on the same records, so its
intervals are Bonferroni-widened for that choice: each is computed at
confidence ``1 − (1 − c)/K`` (``c`` the report's confidence), which covers the
chosen attack's true value with probability ≥ ``c`` whichever is chosen
(``chosen_from`` and ``interval_confidence`` say so). No ε bound
is given (it would be a person-level bound, which the record-level
machinery does not claim).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.metrics import ScoreMetrics, evaluate_scores
from privaudit.persons import group_codes, normal_scores, person_statistics

__all__ = ["PersonROC", "person_rocs", "PERSON_STATISTIC"]

#: how the person statistic is built, in words (report.json and the HTML section quote it)
PERSON_STATISTIC = ("sum of the person's records' normal scores (ranks among all audited records) divided by √(records): "
                    "Stouffer's combination of the best attack's record scores")


@dataclass(frozen=True)
class PersonROC:
    """Member persons vs non-member persons for one target's best attack; ``sizes`` maps k → [member persons, non-member persons]."""

    target: str
    attack: str
    n_member_persons: int
    n_nonmember_persons: int
    sizes: dict
    metrics: ScoreMetrics
    #: attacks the best was chosen from (K), and the confidence its intervals were computed at, 1 − (1 − c)/K
    chosen_from: int = 1
    interval_confidence: float = 0.95

    def to_dict(self) -> dict:
        """JSON-ready layout of ``report.json``'s ``persons`` entries (schema 1.2)."""
        return {"attack": self.attack, "statistic": PERSON_STATISTIC, "n_member_persons": self.n_member_persons,
                "n_nonmember_persons": self.n_nonmember_persons, "sizes": {str(k): list(v) for k, v in self.sizes.items()},
                "chosen_from": self.chosen_from, "interval_confidence": self.interval_confidence,
                **self.metrics.to_dict()}


def person_rocs(result, person_ids: np.ndarray, *, fprs, confidence: float, n_bootstrap: int, seed: int) -> dict:
    """Target name → :class:`PersonROC` of its best attack.

    Parameters
    ----------
    result : AuditResult
        ``record_ids``/``is_member`` align with ``person_ids``.
    person_ids : array, shape (n_audited,)
        Person of each audited record (members then non-members, as ``result``).
    fprs, confidence, n_bootstrap, seed
        As the record-level metrics (:func:`privaudit.metrics.evaluate_scores`).
    """
    is_member = np.asarray(result.is_member, dtype=bool)
    persons, codes = group_codes(person_ids)
    n = len(persons)
    k = np.bincount(codes, minlength=n)
    person_member = np.zeros(n, dtype=bool)
    person_member[codes[is_member]] = True  # one role per person (checked when the data was loaded)
    sizes = {int(size): [int((person_member & (k == size)).sum()), int((~person_member & (k == size)).sum())] for size in np.unique(k)}
    out = {}
    for name in dict.fromkeys(r.target for r in result.results):
        best = result.best(name)
        n_attacks = sum(r.target == name for r in result.results)
        level = 1.0 - (1.0 - confidence) / n_attacks  # Bonferroni over the K attacks the best was chosen from
        statistic = person_statistics(normal_scores(best.scores), codes, n) / np.sqrt(k)
        metrics = evaluate_scores(statistic, person_member, fprs=fprs, confidence=level, n_bootstrap=n_bootstrap, seed=seed, delta=None)
        out[name] = PersonROC(name, best.attack, int(person_member.sum()), int((~person_member).sum()), sizes, metrics, n_attacks, level)
    return out
